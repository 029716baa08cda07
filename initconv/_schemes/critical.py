r"""The ``"critical"`` scheme: a layer initialised on the critical line of its activation.

:func:`initconv.critical` finds the line's point for the declared activation and bias std; the
scheme draws the weight at that gain from a delta-orthogonal, orthogonal or normal base, and the
bias from :math:`\mathcal{N}(0, \sigma_b^2)`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from initconv._activations import Resolved, resolve
from initconv._maths.fans import CONVOLUTIONS
from initconv._maths.orthogonality import assert_orthogonal_blocks, blocks
from initconv._maths.sampling import REACH, Distribution, draw_normal_
from initconv._meanfield.critical_line import CriticalPoint, solve
from initconv._meanfield.gaussian import slope_moment
from initconv._meanfield.slopes import SlopeError
from initconv._schemes.base import Scheme
from initconv._schemes.functional import centre, delta_orthogonal_, orthogonal_
from initconv._validate import check_choice, check_draw

__all__ = ["Critical"]

Base = Literal["delta_orthogonal", "orthogonal", "normal"]
BASES: tuple[str, ...] = ("delta_orthogonal", "normal", "orthogonal")

_WARNED: set[tuple[str, float]] = set()  # warned once per (activation, bias_std)


def _fallback_gain(activation: Resolved, bias_std: float, error: ValueError) -> float:
    r""":math:`1/\sqrt{\mathbb{E}[\phi'(z)^2]}`: :math:`\chi_1 = 1` at unit variance, the
    nearest a layer gets to the edge of chaos without a critical point; warned once."""
    gain = 1.0 / math.sqrt(slope_moment(activation.phi, 1.0))
    if (activation.name, bias_std) not in _WARNED:
        _WARNED.add((activation.name, bias_std))
        warnings.warn(
            f"{error}; the critical scheme uses gain {gain:.6g}, which makes chi_1 = 1 at unit "
            "variance only",
            UserWarning,
            stacklevel=5,
        )
    return gain


class Critical(Scheme, scheme="critical"):
    r"""Initialisation on the critical line :math:`\chi_1 = 1` of the declared activation, at the
    bias std ``bias_std``: the edge of chaos, where a plain network of hundreds of layers trains.

    The gain is :func:`critical`'s :math:`\sigma_w` for (activation, ``bias_std``) (Schoenholz, S.
    et al. (2017), "Deep information propagation"), the bias :math:`\mathcal{N}(0, \sigma_b^2)`,
    and the weight, for every base,

    .. math::
        \overline{w^2} = \operatorname{E} w^2 = \sigma_w^2 / \text{fan\_in}

    (exactly for the structured bases), so each pre-activation's second moment moves by the
    mean-field map whatever the base:

    - ``"delta_orthogonal"`` (the default; Xiao, L. et al. (2018), "Dynamical isometry and a mean
      field theory of CNNs"): :class:`~initconv.DeltaOrthogonal`'s construction, its centre tap
      scaled to that mean square (so that a layer with more outputs than inputs keeps each unit's
      second moment, not the norm). A linear layer, a 1x1 convolution, takes the orthogonal base.
    - ``"orthogonal"``: :class:`~initconv.Orthogonal`'s construction at that mean square.
    - ``"normal"``: :math:`W \sim \mathcal{N}(0, \sigma_w^2 / \text{fan\_in})`.

    ``bias_std`` defaults to 0.05 (:math:`\sigma_b^2 = 2.5 \cdot 10^{-3}`; tanh then has
    :math:`\sigma_w = 1.1225`, :math:`q^* = 0.154`). An activation without a stable critical point
    at that ``bias_std`` (relu has one only at ``bias_std=0.0``; gelu and silu only from about 0.42
    and 0.75; softplus none) gets :math:`\sigma_w = 1/\sqrt{\mathbb{E}[\phi'(z)^2]}`, which
    makes :math:`\chi_1 = 1` at unit variance only, and a UserWarning with :func:`critical`'s
    reason; call :func:`critical` first to get the error instead. A ``gain=`` given overrides
    :math:`\sigma_w`. The
    first layer of a network sees the data, not an activation: give it
    ``gain=critical(...).input_gain(data_second_moment)`` so it starts at :math:`q^*`.

    Examples:
        >>> conv = initconv.conv2d("critical", 16, 16, 3, padding=1, activation="tanh")
        >>> round(conv.gain, 4)
        1.1225
    """

    default_activation = "tanh"
    default_bias_init = "normal"
    default_bias_std = 0.05
    __jit_unused_properties__: ClassVar[list[str]] = [
        *Scheme.__jit_unused_properties__,
        "critical_point",
    ]

    def configure(self, *, base: Base = "delta_orthogonal") -> None:
        self.base = check_choice("base", base, BASES)

    @property
    def critical_point(self) -> CriticalPoint:
        """:func:`critical` of this layer's activation and bias std (a ValueError where there is
        none)."""
        bias_std = float(self.bias_std or 0.0)
        resolved = self.resolved_activation()
        if resolved is None:
            try:
                resolved = resolve(self.activation)
            except (TypeError, ValueError):
                raise ValueError(
                    f"activation {self.activation!r} of this layer cannot be resolved by name (a "
                    "copied or unpickled layer keeps only the name of a function); call "
                    "initconv.critical(fn, bias_std) with the function itself"
                ) from None
        return solve(resolved, bias_std)

    def gain_inputs(self) -> tuple[tuple[str, object], ...]:
        return (("bias_std", float(self.bias_std or 0.0)),)

    def activation_gain(self, activation: Resolved) -> float:
        r""":math:`\sigma_w` of the critical point of ``activation`` at this layer's bias std."""
        bias_std = float(self.bias_std or 0.0)
        try:
            return solve(activation, bias_std).weight_std
        except SlopeError:
            raise  # no slope at all: no gain near the line either
        except ValueError as error:
            return _fallback_gain(activation, bias_std, error)

    def _structure(self) -> str:
        # base is checked again at every use: it may have been set since construction.
        base = check_choice("base", self.base, BASES)
        return "orthogonal" if base == "delta_orthogonal" and not self._is_conv() else base

    def _is_conv(self) -> bool:
        return any(isinstance(self, kind) for kind in CONVOLUTIONS)

    def _unit_variance(self) -> float:
        """The structured base's mean square at gain 1 (exact: its construction fixes it)."""
        weight, layout = self.weight, self.layout
        if self._structure() == "orthogonal":
            rows, cols = blocks(weight, layout.groups)
            return min(rows, cols) / (rows * cols)
        outputs = weight.shape[1] if layout.transposed else weight.shape[0] // layout.groups
        return 1.0 / (outputs * math.prod(layout.kernel_size))

    def _structure_gain(self) -> float:
        return math.sqrt(self.expected_variance() / self._unit_variance())

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        structure, layout = self._structure(), self.layout
        if structure == "normal":
            std = math.sqrt(self.expected_variance())
            shown = f"gain={self.gain!r} (fan_in {self.fan_in:g})"
            check_draw(shown, weight.dtype, std, REACH["normal"])
            draw_normal_(weight, 0.0, std, generator)
        elif structure == "orthogonal":
            orthogonal_(weight, self._structure_gain(), groups=layout.groups, generator=generator)
        else:
            delta_orthogonal_(
                weight,
                self._structure_gain(),
                groups=layout.groups,
                transposed=layout.transposed,
                generator=generator,
            )

    def expected_variance(self) -> float:
        # A layer without weights (zero channels) has no variance to speak of, and may have fan 0.
        return float(self.gain**2 / self.fan_in) if self.weight.numel() else math.nan

    def expected_distribution(self) -> Distribution | None:
        return "normal" if self.base == "normal" else None

    def check_invariants(self) -> None:
        """The structured bases' invariants at their scaled gain: orthogonal blocks, and for
        delta-orthogonal, zeros off the centre tap."""
        structure, weight = self._structure(), self.weight
        if structure == "normal" or weight.numel() == 0 or weight.is_meta:
            return
        weight, layout, name = weight.detach(), self.layout, type(self).__name__
        if structure == "orthogonal":
            grouped = weight.reshape(layout.groups, *blocks(weight, layout.groups))
            assert_orthogonal_blocks(grouped, self._structure_gain(), f"{name}: the weight")
            return
        tap: tuple[Any, ...] = (slice(None), slice(None), *centre(layout.kernel_size))
        outside = weight.clone()
        outside[tap] = 0
        stray = int(torch.count_nonzero(outside))
        if stray:
            raise AssertionError(f"{name}: {stray} entries off the centre tap are nonzero")
        rows = weight.shape[0] // layout.groups
        taps = weight[tap].reshape(layout.groups, rows, weight.shape[1])
        assert_orthogonal_blocks(taps, self._structure_gain(), f"{name}: the centre tap")
