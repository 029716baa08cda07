"""The named schemes: each one configures a call of initconv._functional on the weight."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor

from initconv._base import InitConv2d
from initconv._functional import (
    DISTRIBUTIONS,
    FAN_MODES,
    Distribution,
    FanMode,
    check_choice,
    check_gain,
    draw_normal_,
    fill_,
    std_for,
)

__all__ = [
    "GlorotNormalConv2d",
    "GlorotUniformConv2d",
    "HeNormalConv2d",
    "HeUniformConv2d",
    "KaimingNormalConv2d",
    "KaimingUniformConv2d",
    "LeCunNormalConv2d",
    "LeCunUniformConv2d",
    "NormalConv2d",
    "TorchDefaultConv2d",
    "UniformConv2d",
    "VarianceScalingConv2d",
    "XavierNormalConv2d",
    "XavierUniformConv2d",
]


class _VarianceScaling(InitConv2d):
    """Shared body of the schemes with Var(W) = (g^2 scale) / fan, fan chosen by ``mode``."""

    # Class defaults, overridden per scheme; not annotated, because torch.jit.script would try to
    # read the string annotations that `from __future__ import annotations` leaves.
    mode = "fan_in"
    distribution = "normal"
    scale = 1.0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        fill_(weight, self._std(), self.distribution, generator)

    def _std(self) -> float:
        gain = self.gain if self.scale == 1.0 else self.gain * math.sqrt(self.scale)
        return std_for(gain, self.fan_in, self.fan_out, self.mode)

    def expected_variance(self) -> float:
        fan = {
            "fan_in": self.fan_in,
            "fan_out": self.fan_out,
            "fan_avg": (self.fan_in + self.fan_out) / 2,
        }[self.mode]
        return self.scale * self.gain**2 / fan

    def expected_distribution(self) -> Distribution:
        return self.distribution  # type: ignore[return-value]


class KaimingNormalConv2d(_VarianceScaling, scheme="kaiming_normal"):
    r"""He initialisation from a normal distribution: :math:`W \sim \mathcal{N}(0, g^2 / \text{fan})`.

    Described in "Delving deep into rectifiers: Surpassing human-level performance on ImageNet
    classification", He, K. et al. (2015). ``mode="fan_in"`` preserves the forward signal's
    variance, ``"fan_out"`` the backward gradient's. With its defaults it draws what
    ``torch.nn.init.kaiming_normal_`` draws with its defaults (relu, :math:`g = \sqrt{2}`, fan_in),
    bit for bit from the same generator. Fans count channels per group (:func:`initconv.fans`).

    Examples:
        >>> conv = KaimingNormalConv2d(64, 128, 3, padding=1, activation="gelu")
    """

    default_activation = "relu"

    def __init__(self, *args: Any, mode: Literal["fan_in", "fan_out"] = "fan_in", **kwargs: Any):
        self.mode = check_choice("mode", mode, ("fan_in", "fan_out"))
        super().__init__(*args, **kwargs)


class KaimingUniformConv2d(KaimingNormalConv2d, scheme="kaiming_uniform"):
    r"""He initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{3 / \text{fan}}`, so :math:`\operatorname{Var}(W) = g^2 / \text{fan}`.

    He, K. et al. (2015), as :class:`KaimingNormalConv2d`; matches ``torch.nn.init.kaiming_uniform_``.
    """

    distribution = "uniform"


class XavierNormalConv2d(_VarianceScaling, scheme="xavier_normal"):
    r"""Glorot initialisation from a normal distribution:
    :math:`W \sim \mathcal{N}\!\left(0, \frac{2 g^2}{\text{fan\_in} + \text{fan\_out}}\right)`.

    Described in "Understanding the difficulty of training deep feedforward neural networks",
    Glorot, X. and Bengio, Y. (2010): a compromise between the forward and backward variances.
    The default activation is linear (:math:`g = 1`), as in ``torch.nn.init.xavier_normal_``.
    """

    mode = "fan_avg"


class XavierUniformConv2d(XavierNormalConv2d, scheme="xavier_uniform"):
    r"""Glorot initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Glorot, X. and Bengio, Y. (2010); matches ``torch.nn.init.xavier_uniform_``.
    """

    distribution = "uniform"


class LeCunNormalConv2d(_VarianceScaling, scheme="lecun_normal"):
    r"""LeCun initialisation from a normal distribution: :math:`W \sim \mathcal{N}(0, g^2 / \text{fan\_in})`
    with :math:`g = 1` by default.

    Described in "Efficient BackProp", LeCun, Y. et al. (1998); the init that self-normalizing (SELU)
    networks need (Klambauer et al., 2017). JAX and Keras draw ``lecun_normal`` from a truncated
    normal; ``VarianceScalingConv2d(distribution="truncated_normal")`` is theirs.
    """


class LeCunUniformConv2d(LeCunNormalConv2d, scheme="lecun_uniform"):
    r"""LeCun initialisation from a uniform distribution: :math:`W \sim \mathcal{U}(-b, b)`,
    :math:`b = g \sqrt{3 / \text{fan\_in}}`. LeCun, Y. et al. (1998).
    """

    distribution = "uniform"


class VarianceScalingConv2d(_VarianceScaling, scheme="variance_scaling"):
    r"""The general form: :math:`\operatorname{Var}(W) = s\, g^2 / n`, :math:`n` the fan that
    ``mode`` picks (fan_avg is the mean of the two).

    ``distribution`` is ``"normal"``, ``"uniform"`` or ``"truncated_normal"``; the truncated normal
    is cut at two standard deviations and rescaled by 1 / 0.8796256610342398 so that the variance
    is exactly :math:`s g^2 / n`, as ``jax.nn.initializers.variance_scaling`` does. With the default
    (linear) activation, ``scale`` has JAX's meaning: ``VarianceScalingConv2d(..., scale=2.0)`` is
    JAX's ``he_normal``.

    Examples:
        >>> conv = VarianceScalingConv2d(16, 32, 3, scale=2.0, mode="fan_in")
    """

    def __init__(
        self,
        *args: Any,
        scale: float = 1.0,
        mode: FanMode = "fan_in",
        distribution: Distribution = "truncated_normal",
        **kwargs: Any,
    ):
        self.scale = check_gain(scale, "scale")
        self.mode = check_choice("mode", mode, FAN_MODES)
        self.distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
        super().__init__(*args, **kwargs)


class UniformConv2d(InitConv2d, scheme="uniform"):
    r""":math:`W \sim \mathcal{U}(\text{low}, \text{high})`, as ``torch.nn.init.uniform_``;
    the activation's gain does not enter.
    """

    def __init__(self, *args: Any, low: float = 0.0, high: float = 1.0, **kwargs: Any):
        low, high = _finite("low", low), _finite("high", high)
        if low > high:
            raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")
        self.low, self.high = low, high
        super().__init__(*args, **kwargs)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.uniform_(self.low, self.high, generator=generator)

    def expected_variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def expected_mean(self) -> float:
        return (self.low + self.high) / 2

    def expected_distribution(self) -> Distribution:
        return "uniform"


class NormalConv2d(InitConv2d, scheme="normal"):
    r""":math:`W \sim \mathcal{N}(\text{mean}, \text{std}^2)`, as ``torch.nn.init.normal_``;
    the activation's gain does not enter.
    """

    def __init__(self, *args: Any, mean: float = 0.0, std: float = 1.0, **kwargs: Any):
        self.mean = _finite("mean", mean)
        self.std = check_gain(std, "std")
        super().__init__(*args, **kwargs)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        draw_normal_(weight, self.mean, self.std, generator)

    def expected_variance(self) -> float:
        return self.std**2

    def expected_mean(self) -> float:
        return self.mean

    def expected_distribution(self) -> Distribution:
        return "normal"


class TorchDefaultConv2d(InitConv2d, scheme="torch_default"):
    r"""``nn.Conv2d``'s own initialisation, bit for bit: the baseline to compare against.

    ``kaiming_uniform_(weight, a=sqrt(5))`` gives :math:`g = \sqrt{2 / (1 + 5)}` and so
    :math:`W \sim \mathcal{U}(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`,
    :math:`\operatorname{Var}(W) = 1 / (3\,\text{fan\_in})`: a sixth of He's :math:`2 / \text{fan\_in}`
    for relu. The bias is :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})` too.
    The value came from Lua Torch's ``1/sqrt(fan_in)`` bound (pytorch#15314). The activation does not
    enter.
    """

    def __init__(self, *args: Any, bias_init: float | str = "torch", **kwargs: Any):
        super().__init__(*args, bias_init=bias_init, **kwargs)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)

    def expected_variance(self) -> float:
        return 1 / (3 * self.fan_in)

    def expected_distribution(self) -> Distribution:
        return "uniform"


def _finite(parameter: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{parameter} must be a float, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{parameter} must be finite, got {value!r}")
    return float(value)


HeNormalConv2d = KaimingNormalConv2d
HeUniformConv2d = KaimingUniformConv2d
GlorotNormalConv2d = XavierNormalConv2d
GlorotUniformConv2d = XavierUniformConv2d
