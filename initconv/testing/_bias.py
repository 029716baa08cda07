"""The bias held to its theory: :meth:`~initconv.Scheme.expected_bias_variance` and its family.

A layer has one bias per output channel, so a single layer says little; :func:`check_bias_pool`
pools standardised biases over layers until a :data:`BIAS_DETECTABLE` error is seen with power
``1 - alpha``, as the weights' pool does for theirs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from initconv._layers.base import InitLayer
from initconv._maths.sampling import Distribution
from initconv._schemes.base import Scheme
from initconv.testing._assertions import (
    Array,
    assert_constant,
    assert_mean_zero,
    assert_variance_matches,
    values,
)
from initconv.testing._laws import min_sample_size

__all__ = ["BIAS_DETECTABLE", "bias_view"]

#: The relative bias-variance error :func:`check_scheme` is sure to see: 25%. A layer has a bias
#: per output channel only, so pooling enough of them for the weights' 5% would take thousands of
#: layers per kind; 25% still catches a wrong ``bias_std``, a bias drawn at the weight's scale, and
#: torch's :math:`1/(3n)` read off the wrong fan.
BIAS_DETECTABLE = 0.25


def bias_view(layer: Scheme) -> tuple[Tensor, float, float, Distribution | None] | None:
    """The layer's independent biases with their claimed mean, variance and family (``None`` for
    a constant bias), or ``None`` for a layer without a bias.

    One bias per independent output channel: a scheme that repeats its filters (ICNR) repeats its
    biases alike, so every ``k``-th is kept, ``k`` the weight's rows per independent row.
    """
    bias = cast("Tensor | None", getattr(layer, "bias", None))
    if bias is None or bias.numel() == 0 or bias.is_meta:
        return None
    independent = layer.independent_weights().shape[0]
    repeats = max(layer.weight.shape[0] // independent, 1) if independent else 1
    return (
        bias.detach()[::repeats],
        layer.expected_bias_mean(),
        layer.expected_bias_variance(),
        layer.expected_bias_distribution(),
    )


def _assert_constant_bias(layer: Scheme, bias: Tensor, mean: float) -> None:
    # A constant is stored rounded to the bias's dtype (0.1 in float16 is 0.0999755859375).
    stored = float(torch.tensor(mean, dtype=bias.dtype))
    assert_constant(values(bias), stored, f"{type(layer).__name__}: bias")


def check_bias(layer: Scheme, alpha: float) -> tuple[str, ...]:
    """The bias against :meth:`~initconv.Scheme.expected_bias_variance` and its mean and family."""
    view = bias_view(layer)
    if view is None:
        return ()
    bias, mean, variance, distribution = view
    centred = bias.to(torch.float64) - mean
    if distribution is None or variance == 0:
        _assert_constant_bias(layer, bias, mean)
        return ("bias constant",)
    try:
        assert_variance_matches(centred, variance, distribution, alpha=alpha)
        assert_mean_zero(centred, variance, distribution, alpha=alpha)
    except AssertionError as error:
        raise AssertionError(f"{type(layer).__name__}: bias: {error}") from None
    return ("bias variance", "bias mean")


def check_bias_pool(
    first: list[InitLayer],
    build: Callable[[Mapping[str, Any]], InitLayer],
    shapes: Sequence[Mapping[str, Any]],
    alpha: float,
    power: float | None = None,
) -> list[str]:
    """Pool the standardised biases until a :data:`BIAS_DETECTABLE` error is seen with power
    ``power`` (``1 - alpha`` by default); check their variance and mean. Constant biases are
    checked exactly."""
    pooled: list[Array] = []
    distribution: Distribution | None = None
    n, layers = 0, list(first)
    needed = 0
    while True:
        for layer in layers:
            view = bias_view(layer)
            if view is None:
                continue
            bias, mean, variance, family = view
            if family is None or variance == 0:
                _assert_constant_bias(layer, bias, mean)
                continue
            if distribution not in (None, family):
                raise AssertionError(
                    f"{type(layer).__name__}: the biases' family changes with the shape, from "
                    f"{distribution!r} to {family!r}"
                )
            distribution = family
            needed = needed or min_sample_size(family, BIAS_DETECTABLE, alpha, power)
            pooled.append((values(bias) - mean) / math.sqrt(variance))
            n += pooled[-1].size
        if not pooled or n >= needed:
            break
        layers = [build(shape) for shape in shapes]
    if not pooled or distribution is None:
        return ["bias constant"] if any(bias_view(layer) for layer in first) else []
    x = np.concatenate(pooled)
    try:
        assert_variance_matches(x, 1.0, distribution, alpha=alpha)
        assert_mean_zero(x, 1.0, distribution, alpha=alpha)
    except AssertionError as error:
        raise AssertionError(f"{type(first[0]).__name__}: pooled biases: {error}") from None
    return ["bias variance", "bias mean"]
