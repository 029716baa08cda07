"""The iid schemes: each draws every weight independently from one distribution.

Written once, for every layer kind: the fans come from the layer (:func:`initconv.fans`), so grouped
and transposed layers get theirs right.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from initconv._maths.sampling import (
    DISTRIBUTIONS,
    FAN_MODES,
    REACH,
    Distribution,
    FanMode,
    draw_normal_,
    draw_zero_mean_,
    std_for,
)
from initconv._schemes.base import Scheme
from initconv._schemes.functional import weight_fans
from initconv._validate import check_choice, check_draw, check_nonnegative, check_real, dtype_name

__all__ = [
    "KaimingNormal",
    "KaimingUniform",
    "LeCunNormal",
    "LeCunUniform",
    "Normal",
    "TorchDefault",
    "Uniform",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
]


class _VarianceScaling(Scheme):
    """The family with Var(W) = scale g^2 / fan, fan chosen by ``mode``; one core for all of it."""

    # Class defaults, overridden per scheme; not annotated, because torch.jit.script would try to
    # read the string annotations that `from __future__ import annotations` leaves.
    mode = "fan_in"
    distribution = "normal"
    scale = 1.0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        # The options are checked again here, at every draw: they may have been set since.
        distribution = check_choice("distribution", self.distribution, DISTRIBUTIONS)
        std = self._std()
        shown = f"gain={self.gain!r}" + ("" if self.scale == 1.0 else f", scale={self.scale!r}")
        check_draw(f"{shown} ({self.mode} {self._fan():g})", weight.dtype, std, REACH[distribution])
        draw_zero_mean_(weight, std, distribution, generator)

    def _std(self) -> float:
        scale = check_nonnegative("scale", self.scale)
        gain = self.gain if scale == 1.0 else self.gain * math.sqrt(scale)
        return std_for(gain, self.fan_in, self.fan_out, self.mode)

    def _fan(self) -> float:
        mode = check_choice("mode", self.mode, FAN_MODES)
        return {
            "fan_in": self.fan_in,
            "fan_out": self.fan_out,
            "fan_avg": (self.fan_in + self.fan_out) / 2,
        }[mode]

    def expected_variance(self) -> float:
        fan = self._fan()
        # A layer without weights (zero channels) has no variance to speak of, and may have fan 0.
        return float(self.scale * self.gain**2 / fan) if self.weight.numel() else math.nan

    def expected_distribution(self) -> Distribution:
        return self.distribution  # type: ignore[return-value]


class _Kaiming(_VarianceScaling):
    r"""He initialisation: :math:`\operatorname{Var}(W) = g^2 / \text{fan}`, fan_in or fan_out.

    Described in "Delving deep into rectifiers: Surpassing human-level performance on ImageNet
    classification", He, K. et al. (2015). ``mode="fan_in"`` preserves the forward signal's
    variance, ``"fan_out"`` the backward gradient's.
    """

    default_activation = "relu"

    def configure(self, *, mode: Literal["fan_in", "fan_out"] = "fan_in") -> None:
        self.mode = check_choice("mode", mode, ("fan_in", "fan_out"))


class KaimingNormal(_Kaiming, scheme="kaiming_normal"):
    r"""He initialisation from a normal distribution: :math:`W \sim \mathcal{N}(0, g^2 / \text{fan})`.

    He, K. et al. (2015), "Delving deep into rectifiers". With its defaults (relu,
    :math:`g = \sqrt{2}`, fan_in) it draws what ``torch.nn.init.kaiming_normal_`` draws, bit for bit
    from the same generator, wherever torch's fans are right (ungrouped convolutions and linear
    layers; :func:`initconv.fans` for the others).

    Examples:
        >>> conv = initconv.KaimingNormalConv2d(64, 128, 3, padding=1, activation="gelu")
    """


class KaimingUniform(_Kaiming, scheme="kaiming_uniform"):
    r"""He initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{3 / \text{fan}}`, so :math:`\operatorname{Var}(W) = g^2 / \text{fan}`.

    He, K. et al. (2015); matches ``torch.nn.init.kaiming_uniform_`` where torch's fans are right.
    """

    distribution = "uniform"


class _Xavier(_VarianceScaling):
    r"""Glorot initialisation: :math:`\operatorname{Var}(W) = 2 g^2 / (\text{fan\_in} + \text{fan\_out})`.

    Described in "Understanding the difficulty of training deep feedforward neural networks",
    Glorot, X. and Bengio, Y. (2010): a compromise between the forward and backward variances.
    """

    mode = "fan_avg"


class XavierNormal(_Xavier, scheme="xavier_normal"):
    r"""Glorot initialisation from a normal distribution:
    :math:`W \sim \mathcal{N}\!\left(0, \frac{2 g^2}{\text{fan\_in} + \text{fan\_out}}\right)`.

    Glorot, X. and Bengio, Y. (2010). The default activation is linear (:math:`g = 1`), as in
    ``torch.nn.init.xavier_normal_``.
    """


class XavierUniform(_Xavier, scheme="xavier_uniform"):
    r"""Glorot initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Glorot, X. and Bengio, Y. (2010); matches ``torch.nn.init.xavier_uniform_``.
    """

    distribution = "uniform"


class LeCunNormal(_VarianceScaling, scheme="lecun_normal"):
    r"""LeCun initialisation from a normal distribution:
    :math:`W \sim \mathcal{N}(0, g^2 / \text{fan\_in})` with :math:`g = 1` by default.

    Described in "Efficient BackProp", LeCun, Y. et al. (1998); the init that self-normalizing (SELU)
    networks need (Klambauer et al., 2017). JAX and Keras draw ``lecun_normal`` from a truncated
    normal; ``VarianceScaling`` with ``distribution="truncated_normal"`` is theirs.
    """


class LeCunUniform(_VarianceScaling, scheme="lecun_uniform"):
    r"""LeCun initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{3 / \text{fan\_in}}`. LeCun, Y. et al. (1998).
    """

    distribution = "uniform"


class VarianceScaling(_VarianceScaling, scheme="variance_scaling"):
    r"""The general form: :math:`\operatorname{Var}(W) = s\, g^2 / n`, :math:`n` the fan that
    ``mode`` picks (fan_avg is the mean of the two).

    ``distribution`` is ``"normal"``, ``"uniform"`` or ``"truncated_normal"``; the truncated normal
    is cut at two standard deviations and rescaled by 1 / 0.8796256610342398 so that the variance
    is exactly :math:`s g^2 / n`, as ``jax.nn.initializers.variance_scaling`` does. With the default
    (linear) activation, ``scale`` has JAX's meaning: ``scale=2.0`` is JAX's ``he_normal``.

    Examples:
        >>> conv = initconv.VarianceScalingConv2d(16, 32, 3, scale=2.0, mode="fan_in")
    """

    def configure(
        self,
        *,
        scale: float = 1.0,
        mode: FanMode = "fan_in",
        distribution: Distribution = "truncated_normal",
    ) -> None:
        self.scale = check_nonnegative("scale", scale)
        self.mode = check_choice("mode", mode, FAN_MODES)
        self.distribution = check_choice("distribution", distribution, DISTRIBUTIONS)


class Uniform(Scheme, scheme="uniform"):
    r""":math:`W \sim \mathcal{U}(\text{low}, \text{high})`, as ``torch.nn.init.uniform_``;
    the activation's gain does not enter.
    """

    def configure(self, *, low: float = 0.0, high: float = 1.0) -> None:
        self.low, self.high = _bounds(low, high)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        low, high = _bounds(self.low, self.high)
        largest = torch.finfo(weight.dtype).max
        # torch's uniform_ needs both bounds and their difference finite in the dtype.
        for name, value in (("low", low), ("high", high), ("high - low", high - low)):
            if not abs(value) <= largest:
                raise ValueError(
                    f"{name} must be at most {largest:.6g} in size for a "
                    f"{dtype_name(weight.dtype)} layer (its largest finite value), got {value!r} "
                    f"(low={low!r}, high={high!r})"
                )
        check_draw(
            f"low={low!r}, high={high!r}",
            weight.dtype,
            (high - low) / math.sqrt(12.0),
            math.sqrt(3.0),
            (low + high) / 2,
        )
        weight.uniform_(low, high, generator=generator)

    def expected_variance(self) -> float:
        # A layer without weights (zero channels) has no variance to speak of.
        return float((self.high - self.low) ** 2 / 12) if self.weight.numel() else math.nan

    def expected_mean(self) -> float:
        return float((self.low + self.high) / 2)

    def expected_distribution(self) -> Distribution:
        return "uniform"


class Normal(Scheme, scheme="normal"):
    r""":math:`W \sim \mathcal{N}(\text{mean}, \text{std}^2)`, as ``torch.nn.init.normal_``;
    the activation's gain does not enter.
    """

    def configure(self, *, mean: float = 0.0, std: float = 1.0) -> None:
        self.mean = check_real("mean", mean)
        self.std = check_nonnegative("std", std)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        mean, std = check_real("mean", self.mean), check_nonnegative("std", self.std)
        check_draw(f"mean={mean!r}, std={std!r}", weight.dtype, std, REACH["normal"], mean)
        draw_normal_(weight, mean, std, generator)

    def expected_variance(self) -> float:
        return float(self.std**2) if self.weight.numel() else math.nan

    def expected_mean(self) -> float:
        return float(self.mean)

    def expected_distribution(self) -> Distribution:
        return "normal"


class TorchDefault(Scheme, scheme="torch_default"):
    r"""The torch layer's own initialisation, bit for bit: the baseline to compare against.

    Every torch convolution and ``nn.Linear`` calls ``kaiming_uniform_(weight, a=sqrt(5))``, which
    gives :math:`g = \sqrt{2 / (1 + 5)}` and so
    :math:`W \sim \mathcal{U}(-1/\sqrt{n}, 1/\sqrt{n})`, :math:`\operatorname{Var}(W) = 1 / (3 n)`,
    with :math:`n` the fan_in torch reads off the weight's shape (for a transposed convolution its
    fan_out: pytorch#7865): a sixth of He's :math:`2 / \text{fan\_in}` for relu. The bias is
    :math:`\mathcal{U}(-1/\sqrt{n}, 1/\sqrt{n})` too. The value came from Lua Torch's
    ``1/sqrt(fan_in)`` bound (pytorch#15314). The activation does not enter.
    """

    default_bias_init = "torch"

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)

    def expected_variance(self) -> float:
        return 1 / (3 * weight_fans(self.weight)[0]) if self.weight.numel() else math.nan

    def expected_distribution(self) -> Distribution:
        return "uniform"


def _bounds(low: object, high: object) -> tuple[float, float]:
    checked = check_real("low", low), check_real("high", high)
    if checked[0] > checked[1]:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")
    return checked
