"""The mean-field maps over the whole range their answers can lie in, and what they say where an
answer cannot be computed.

The truths are closed forms derived here: a bounded activation's fixed point lies below
sigma_w^2 sup phi^2 + sigma_b^2, relu's maps are exact, and a linear map's fixed point is
sigma_b^2 / (1 - sigma_w^2).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import pytest
import torch

import initconv
from initconv import diagnostics


def _zero(x: torch.Tensor) -> torch.Tensor:
    return 0 * x


@pytest.mark.parametrize(
    "call",
    [
        lambda: initconv.critical(_zero),
        lambda: diagnostics.correlation_map(_zero, 1.0),
        lambda: diagnostics.correlation_step(_zero, 0.5, 1.0),
        lambda: diagnostics.variance_map(_zero, 1.0),
    ],
    ids=["critical", "correlation_map", "correlation_step", "variance_map"],
)
def test_a_zero_activation_is_refused_for_the_map_not_for_a_gain_parameter(
    call: Callable[[], object],
) -> None:
    # critical() has no gain=, and the others were given their gain: the gain's remedy is wrong.
    with pytest.raises(ValueError, match="zero for almost every input") as caught:
        call()
    assert "gain=" not in str(caught.value)
    assert "chi_1" in str(caught.value)


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
def test_at_zero_weight_std_a_deviation_is_forgotten_in_one_layer(activation: str) -> None:
    # sigma_w = 0: every layer outputs the bias alone, M(q) = sigma_b^2 and C(c) = 1 whatever
    # came in, so M' = chi = 0 and xi = -1 / ln 0 = 0 (e^(-l / xi) is 0 after one layer).
    result = diagnostics.correlation_map(activation, 0.0, 0.5)
    assert result.q_star == pytest.approx(0.25, rel=1e-12)
    assert result.variance_slope == 0.0
    assert result.chi_c == 0.0
    assert result.depth_q == 0.0
    assert result.depth_c == 0.0


def test_a_negative_slope_has_the_depth_of_its_size() -> None:
    # cos at sigma_w = 1, sigma_b = 0.1: E[cos(u)^2] = (1 + e^(-2q)) / 2, a map with M'(q) =
    # -e^(-2q) < 0; a deviation shrinks by |M'| per layer, alternating in sign.
    result = diagnostics.correlation_map(torch.cos, 1.0, 0.1)
    assert result.variance_slope < 0
    assert result.depth_q == pytest.approx(-1 / math.log(-result.variance_slope), rel=1e-12)


@pytest.mark.parametrize(
    ("activation", "kink", "sides", "weight_std2"),
    [("hardtanh", 1.0, 2, 1.0), ("relu6", 6.0, 1, 2.0)],
)
def test_a_line_flat_to_rounding_below_a_kink_ends_at_zero(
    activation: str, kink: float, sides: int, weight_std2: float
) -> None:
    # phi is linear with slope 1 for 0 < x < k (and -k < x < 0 for hardtanh), constant beyond
    # (relu6 is 0 for x < 0). With u = sqrt(q) z, a = k / sqrt(q) and E[z^2; 0 < z < a] =
    # Phi(a) - 1/2 - a n(a), each capped side gives D(q) = q E[phi'^2] - E[phi^2] the term
    # k sqrt(q) n(a) - k^2 (1 - Phi(a)) = k sqrt(q) (n(a) - a (1 - Phi(a))), positive by the
    # Mills ratio 1 - Phi(a) < n(a) / a. So D(q) = 0, the line without bias, holds only as
    # q -> 0, where sigma_w^2 = 2 / (phi'(0-)^2 + phi'(0+)^2). At the q* previously returned
    # (2^-8 and 1/4) D is positive in 60-digit arithmetic: neither is a fixed point.
    with mpmath.workdps(60):
        for q in (mpmath.mpf(2) ** -8, mpmath.mpf(1) / 4):
            a = kink / mpmath.sqrt(q)
            deficit = sides * kink * mpmath.sqrt(q) * (mpmath.npdf(a) - a * (1 - mpmath.ncdf(a)))
            assert deficit > 0
    point = initconv.critical(activation)
    assert point.q_star == 0.0
    assert point.weight_std**2 == pytest.approx(weight_std2, rel=1e-12)
