"""A functional activation's parameters, positional or by keyword, are its parameters.

docs/convert.md, "An activation is what it does": ``F.leaky_relu(h, 0.2)`` is the activation
leaky_relu with slope 0.2, whether the slope is passed by position or as ``negative_slope=``,
and whether the call is the whole activation or one step of a formula written out
(``F.leaky_relu(h, negative_slope=0.2) + 1``). Only torch's ``inplace`` flag is no parameter of
the function.

Closed forms for z ~ N(0, 1) and the leaky ReLU l_a(z) = max(z, a z), 0 <= a < 1:
E[l_a(z)^2] = (1 + a^2) / 2 (each half of the line carries half of E[z^2] = 1) and
E[l_a(z)] = (1 - a) E[max(z, 0)] = (1 - a) / sqrt(2 pi), so
- alone, the gain is 1 / sqrt(E[l_a^2]) = sqrt(2 / (1 + a^2));
- plus 1, E[(l_a + 1)^2] = (1 + a^2) / 2 + 2 (1 - a) / sqrt(2 pi) + 1.
torch.celu(h, alpha) (z for z > 0, alpha (exp(z / alpha) - 1) below) and F.softplus(h, beta)
(log(1 + exp(beta z)) / beta), both of which a trace and a run record with the parameter as a
positional argument, alone: their gains from mpmath at 30 digits (tests/_reference_theory.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from _reference_theory import mpmath_gain
from _support import Between, convert_warned
from torch import Tensor

# convert's gains are closed forms or the derived gain's quadrature, within 1e-12; mpmath's are
# good to 30 digits: 1e-9 is far above both, and far below what a default parameter in place of
# the one given changes (slope 0.01 for 0.2: about 2 %; alpha or beta 1 for 2: more).
GAIN_RTOL = 1e-9
MODES = ["traced", "run"]
SLOPE = 0.2
ALPHA = 2.0
BETA = 2.0


def _gain(phi: Callable[[Tensor], Tensor], mode: str) -> float:
    report, _ = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    assert row.gain is not None
    return row.gain


def _leaky_gain(a: float) -> float:
    return math.sqrt(2.0 / (1.0 + a * a))


def _leaky_plus_one_gain(a: float) -> float:
    second_moment = (1.0 + a * a) / 2.0 + 2.0 * (1.0 - a) / math.sqrt(2.0 * math.pi) + 1.0
    return 1.0 / math.sqrt(second_moment)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "phi",
    [lambda h: F.leaky_relu(h, SLOPE), lambda h: F.leaky_relu(h, negative_slope=SLOPE)],
    ids=["positional", "keyword"],
)
def test_a_leaky_relu_call_has_the_slope_it_is_given(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    assert _gain(phi, mode) == pytest.approx(_leaky_gain(SLOPE), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_a_celu_call_has_the_alpha_it_is_given_by_position(mode: str) -> None:
    def mp_celu(z: mpmath.mpf) -> mpmath.mpf:
        return z if z > 0 else ALPHA * (mpmath.exp(z / ALPHA) - 1)

    gain = _gain(lambda h: torch.celu(h, ALPHA), mode)
    assert gain == pytest.approx(mpmath_gain(mp_celu), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_a_softplus_call_has_the_beta_it_is_given_by_position(mode: str) -> None:
    # torch's softplus is x itself where beta x > 20 (its threshold), z > 10 here: a region of
    # probability 8e-24 on which the two differ by log1p(exp(-20)) / beta < 1e-9, so the
    # closed form log(1 + exp(beta z)) / beta has the same gain to far below GAIN_RTOL.
    def mp_softplus(z: mpmath.mpf) -> mpmath.mpf:
        return mpmath.log(1 + mpmath.exp(BETA * z)) / BETA

    gain = _gain(lambda h: F.softplus(h, BETA), mode)
    assert gain == pytest.approx(mpmath_gain(mp_softplus), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "phi",
    [
        lambda h: F.leaky_relu(h, SLOPE) + 1.0,
        lambda h: F.leaky_relu(h, negative_slope=SLOPE) + 1.0,
        lambda h: F.leaky_relu(h, negative_slope=SLOPE, inplace=False) + 1.0,
    ],
    ids=["positional", "keyword", "keyword-inplace"],
)
def test_a_leaky_relu_step_of_a_formula_has_the_slope_it_is_given(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    assert _gain(phi, mode) == pytest.approx(_leaky_plus_one_gain(SLOPE), rel=GAIN_RTOL)
