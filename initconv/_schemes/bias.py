r"""The bias: ``bias_init`` and ``bias_std`` checked, drawn, and their theory.

``bias_init`` is ``"zeros"``, ``"torch"`` (the torch layer's own uniform), ``"normal"``
(:math:`\mathcal{N}(0, \sigma_b^2)`, ``bias_std`` = :math:`\sigma_b`) or a constant.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from initconv._maths.sampling import REACH, Distribution, draw_normal_
from initconv._schemes.functional import weight_fans
from initconv._validate import check_draw, check_real, describe, suggestion

__all__ = ["BiasInit"]

BiasInit = str | float
BIAS_INITS: tuple[str, ...] = ("normal", "torch", "zeros")


def torch_bias_bound(weight: Tensor) -> float:
    """The bound of torch's own bias init: 1 / sqrt(fan_in), fan_in read off the weight's shape."""
    fan_in = weight_fans(weight)[0]
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def draw_bias_(
    bias: Tensor,
    bias_init: BiasInit,
    bias_std: float | None,
    weight: Tensor,
    generator: torch.Generator | None,
) -> None:
    """Fill ``bias`` in place as ``bias_init`` says."""
    if bias_init == "zeros":
        bias.zero_()
    elif bias_init == "torch":
        bound = torch_bias_bound(weight)
        bias.uniform_(-bound, bound, generator=generator)
    elif bias_init == "normal":
        std = float(bias_std or 0.0)
        check_draw(f"bias_std={bias_std!r}", bias.dtype, std, REACH["normal"], what="bias")
        if not bias.is_meta:  # torch's meta normal_ goes through a slow reference kernel
            draw_normal_(bias, 0.0, std, generator)
    else:
        bias.fill_(float(bias_init))


def bias_variance(bias_init: BiasInit, bias_std: float | None, weight: Tensor) -> float:
    """Var(b) that :func:`draw_bias_` draws."""
    if bias_init == "normal":
        return float(bias_std or 0.0) ** 2
    if bias_init == "torch":
        return torch_bias_bound(weight) ** 2 / 3
    return 0.0


def bias_distribution(bias_init: BiasInit) -> Distribution | None:
    """The family of a random bias, ``None`` for a constant one."""
    if bias_init == "normal":
        return "normal"
    return "uniform" if bias_init == "torch" else None


def check_bias_init(value: object) -> BiasInit:
    """``"zeros"``, ``"torch"``, ``"normal"`` or a finite float."""
    if isinstance(value, str):
        if value not in BIAS_INITS:
            raise ValueError(
                f"bias_init must be one of {BIAS_INITS} or a float, got {value!r}"
                f"{suggestion(value, BIAS_INITS)}"
            )
        return value
    try:
        return check_real("bias_init", value)
    except TypeError:
        raise TypeError(
            f"bias_init must be one of {BIAS_INITS} or a float, got {describe(value)}"
        ) from None


def check_bias_std(bias_init: BiasInit, value: object) -> float | None:
    """``bias_std``: a finite float >= 0 that ``bias_init="normal"`` needs and no other takes."""
    if value is None:
        if bias_init == "normal":
            raise ValueError(
                "bias_init='normal' draws the bias from N(0, bias_std^2) and needs bias_std, got "
                "bias_std=None; pass bias_std=0.05, say"
            )
        return None
    std = check_real("bias_std", value, minimum=0.0)
    if bias_init != "normal":
        raise ValueError(
            f"bias_std is the standard deviation of bias_init='normal', got bias_std={value!r} "
            f"with bias_init={bias_init!r}; pass bias_init='normal' too, or drop bias_std"
        )
    return std
