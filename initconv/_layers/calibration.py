"""An LSUV calibration as plain, validated state that a layer replays on every reset.

:func:`initconv.lsuv_` (Mishkin & Matas, 2015) rescales a layer's draw until its output has unit
variance on a batch. The layer keeps the result, not the weights: the scheme drawn (``base``), the
seed drawn from and the scale found, so ``reset_parameters()`` redraws the same calibrated weights
without data. It travels in the ``state_dict``'s per-module metadata under :data:`METADATA_KEY`, the
channel torch uses for module versions, not as an ``_extra_state`` entry: torch adds that key to
every layer of a class that defines ``get_extra_state()``, and strict loading between a layer and
the plain torch layer would then fail in both directions. Weights-only formats (safetensors) drop
the metadata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from initconv._validate import check_real, check_seed

__all__: list[str] = []

METADATA_KEY = "initconv_calibration"
_KEYS = ("base", "scale", "seed")


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A layer's LSUV calibration: its weights are ``base``'s draw from ``seed``, times ``scale``.

    Attributes:
        scale: the product of the rescalings, finite and > 0.
        base: the registered scheme drawn; ``None`` for the layer's own scheme.
        seed: the seed of the draw.
    """

    scale: float
    base: str | None
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_real("calibrated_scale", self.scale, positive=True))
        object.__setattr__(self, "seed", check_seed("calibration seed", self.seed))
        if self.base is not None and not isinstance(self.base, str):
            raise TypeError(f"calibrated_base must be a scheme name or None, got {self.base!r}")

    def to_metadata(self) -> dict[str, Any]:
        return {"scale": self.scale, "base": self.base, "seed": self.seed}

    @classmethod
    def from_metadata(cls, value: object, schemes: Collection[str]) -> Calibration:
        """Read a calibration back from ``state_dict`` metadata; ``schemes`` are the valid bases."""
        if not isinstance(value, dict) or set(value) != set(_KEYS):
            raise ValueError(f"{METADATA_KEY} must be a dict with keys {_KEYS}, got {value!r}")
        base = value["base"]
        if base is not None and base not in schemes:
            raise ValueError(
                f"calibrated_base must be one of {tuple(sorted(schemes))}, got {base!r}"
            )
        if value["seed"] is None:
            raise ValueError(f"a calibration needs a seed to replay, got {value['seed']!r}")
        return cls(value["scale"], base, value["seed"])
