"""In-place tensor initialisers. Every random one takes ``generator=``, as ``torch.nn.init`` does."""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
from torch import Tensor

__all__ = ["Distribution", "FanMode", "variance_scaling_"]

FanMode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["normal", "uniform", "truncated_normal"]
FAN_MODES: tuple[str, ...] = ("fan_avg", "fan_in", "fan_out")
DISTRIBUTIONS: tuple[str, ...] = ("normal", "truncated_normal", "uniform")

# Standard deviation of N(0, 1) truncated to (-2, 2): sqrt(E[Z^2 | |Z| <= 2]) with
# E[Z^2 | |Z| <= c] = 1 - 2 c phi(c) / (2 Phi(c) - 1). Dividing the underlying std by it makes the
# truncated draw's variance exactly the target (the JAX, Keras and Haiku convention).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def check_choice(parameter: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError that lists them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{parameter} must be one of {choices}, got {value!r}")
    return value


def check_gain(value: object, parameter: str = "gain") -> float:
    """Return ``value`` as a float if it is a finite, non-negative real number, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{parameter} must be a float, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{parameter} must be finite and >= 0, got {value!r}")
    return float(value)


def weight_fans(tensor: Tensor) -> tuple[float, float]:
    """``(fan_in, fan_out)`` read off a ``(out, in, *kernel)`` weight, as ``torch.nn.init`` does."""
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor must have at least 2 dimensions to have fans, got shape {tuple(tensor.shape)}"
        )
    taps = math.prod(tensor.shape[2:])
    return float(tensor.shape[1] * taps), float(tensor.shape[0] * taps)


def std_for(gain: float, fan_in: float, fan_out: float, mode: str) -> float:
    """The standard deviation ``gain / sqrt(fan)`` for ``mode``, with fan_avg = (in + out) / 2."""
    # Each branch repeats torch.nn.init's own float arithmetic (xavier_* and kaiming_*), so that the
    # same generator gives bit-identical weights.
    check_choice("mode", mode, FAN_MODES)
    if mode == "fan_avg":
        return gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def fill_(tensor: Tensor, std: float, distribution: str, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` with zero-mean draws of standard deviation ``std`` from ``distribution``."""
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution == "normal":
        tensor.normal_(0.0, std, generator=generator)
    elif distribution == "uniform":
        # U(-b, b) has variance b^2 / 3.
        bound = math.sqrt(3.0) * std
        tensor.uniform_(-bound, bound, generator=generator)
    else:
        sigma = std / TRUNCATED_NORMAL_STD
        torch.nn.init.trunc_normal_(tensor, 0.0, sigma, -2.0 * sigma, 2.0 * sigma, generator)


def variance_scaling_(
    tensor: Tensor,
    gain: float = 1.0,
    mode: FanMode = "fan_in",
    distribution: Distribution = "truncated_normal",
    *,
    fans: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill ``tensor`` with zero-mean values of variance ``gain**2 / fan``.

    The one core behind the Kaiming, Xavier and LeCun schemes (the form of
    ``jax.nn.initializers.variance_scaling``, whose ``scale`` is ``gain**2`` here):

    .. math::
        \operatorname{Var}(W) = \frac{g^2}{n}, \qquad n = \begin{cases}
            \text{fan\_in} & \text{mode = fan\_in} \\
            \text{fan\_out} & \text{mode = fan\_out} \\
            (\text{fan\_in} + \text{fan\_out}) / 2 & \text{mode = fan\_avg}
        \end{cases}

    ``distribution`` is ``"normal"`` (:math:`\mathcal{N}(0, \sigma^2)`), ``"uniform"``
    (:math:`\mathcal{U}(-\sqrt{3}\sigma, \sqrt{3}\sigma)`) or ``"truncated_normal"`` (a normal cut at
    two of its standard deviations, its scale divided by 0.8796256610342398 so that the variance of
    the result is exactly :math:`\sigma^2`; ``torch.nn.init.trunc_normal_`` does not correct it).

    Kaiming: ``gain`` for the activation, ``mode="fan_in"`` (He et al. (2015), "Delving deep into
    rectifiers"). Xavier: ``mode="fan_avg"`` (Glorot and Bengio (2010), "Understanding the
    difficulty of training deep feedforward neural networks"). LeCun: ``gain=1``, ``mode="fan_in"``
    (LeCun et al. (1998), "Efficient BackProp").

    Args:
        tensor: the tensor to fill in place.
        gain: the gain :math:`g`, at least 0.
        mode: which fan divides the variance.
        distribution: the distribution's family.
        fans: ``(fan_in, fan_out)``; read from a ``(out, in, *kernel)`` layout when ``None``. Pass
            :func:`initconv.fans` of the layer for grouped or transposed convolutions.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 32, 3, 3)
        >>> _ = variance_scaling_(w, gain=2**0.5, mode="fan_in", distribution="normal")
    """
    check_gain(gain)
    check_choice("mode", mode, FAN_MODES)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan_in, fan_out = weight_fans(tensor) if fans is None else fans
    std = std_for(gain, fan_in, fan_out, mode)
    with torch.no_grad():
        fill_(tensor, std, distribution, generator)
    return tensor
