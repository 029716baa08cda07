"""A layer's LSUV calibration and its µP record: plain, validated state replayed on every reset.

:func:`initconv.lsuv_` (Mishkin & Matas, 2015) rescales a layer's draw until its output has unit
variance on a batch. The layer keeps the result, not the weights: the scheme drawn (``base``), the
seed drawn from and the scale found, so ``reset_parameters()`` redraws the same calibrated weights
without data. It travels in the ``state_dict``'s per-module metadata under :data:`METADATA_KEY`, the
channel torch uses for module versions, not as an ``_extra_state`` entry: torch adds that key to
every layer of a class that defines ``get_extra_state()``, and strict loading between a layer and
the plain torch layer would then fail in both directions. Weights-only formats (safetensors) drop
the metadata.

A µP record (:class:`MuP`, set by :func:`initconv.mup_`) travels the same way, under
:data:`MUP_KEY`: the layer's role and width and depth multipliers relative to a base model, and the
scales its reset applies to its own draw (Yang, G. et al. (2022), "Tensor Programs V").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from typing import Any, Literal, cast

from initconv._validate import check_bool, check_choice, check_real, check_seed

__all__: list[str] = []

METADATA_KEY = "initconv_calibration"
MUP_KEY = "initconv_mup"
_KEYS = ("base", "scale", "seed")

Role = Literal["input", "hidden", "output", "vector", "fixed"]
ROLES: tuple[str, ...] = ("fixed", "hidden", "input", "output", "vector")


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


@dataclasses.dataclass(frozen=True)
class MuP:
    r"""A module's place under µP (Tensor Programs V), relative to the same module in a base model.

    The multipliers are this module's sizes over the base's (>= 1). The role says which of the
    weight's dimensions grow: ``"input"`` (fan_in stays, fan_out grows), ``"hidden"`` (both grow),
    ``"output"`` (fan_in grows, fan_out stays: the readout), ``"vector"`` (neither fan grows but
    the channels do: a depthwise or many-group convolution, a norm's scale, any parameter with one
    growing dimension) and ``"fixed"`` (nothing grows).

    Attributes:
        role: one of :data:`ROLES`.
        fan_in: fan_in over the base's, :math:`m_\text{in}`.
        fan_out: fan_out over the base's, :math:`m_\text{out}`.
        width: output channels (the bias's length; a vector's length) over the base's.
        depth: residual branches over the base's, :math:`L / L_\text{base}`, for a module inside a
            residual branch; 1 outside.
        branch_end: the module ends its branch and carries the branch multiplier
            :math:`(L_\text{base} / L)^{1/2}` in its init.
        weight_law: the factor that puts the module's own weight draw on the fan-in law of the
            base: its variance is the base's times :math:`1 / m_\text{in}` (1 for He, LeCun and
            torch's default, whose variance is already proportional to :math:`1/\text{fan\_in}`).
        bias_law: the factor that keeps the bias's variance at the base's.
    """

    role: Role
    fan_in: float = 1.0
    fan_out: float = 1.0
    width: float = 1.0
    depth: float = 1.0
    branch_end: bool = False
    weight_law: float = 1.0
    bias_law: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", cast(Role, check_choice("role", self.role, ROLES)))
        for name in ("fan_in", "fan_out", "width", "depth"):
            value = check_real(name, getattr(self, name), minimum=1.0)
            object.__setattr__(self, name, value)
        for name in ("weight_law", "bias_law"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), positive=True))
        object.__setattr__(self, "branch_end", check_bool("branch_end", self.branch_end))

    @property
    def weight_scale(self) -> float:
        r"""What the reset multiplies the module's own weight draw by: :attr:`weight_law`, times
        :math:`m_\text{in}^{-1/2}` for the readout (variance :math:`\propto 1/\text{fan\_in}^2`),
        times :math:`(L / L_\text{base})^{-1/2}` at a branch's end."""
        scale = self.weight_law
        if self.role == "output":
            scale /= math.sqrt(self.fan_in)
        if self.branch_end:
            scale /= math.sqrt(self.depth)
        return scale

    @property
    def bias_scale(self) -> float:
        """What the reset multiplies the bias draw by: :attr:`bias_law`, times the branch
        multiplier at a branch's end."""
        return self.bias_law / math.sqrt(self.depth) if self.branch_end else self.bias_law

    def to_metadata(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_metadata(cls, value: object) -> MuP:
        """Read a record back from ``state_dict`` metadata."""
        names = tuple(field.name for field in dataclasses.fields(cls))
        if not isinstance(value, dict) or set(value) != set(names):
            raise ValueError(f"{MUP_KEY} must be a dict with keys {names}, got {value!r}")
        return cls(**value)
