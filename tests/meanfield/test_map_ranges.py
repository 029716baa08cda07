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
from scipy import integrate, optimize

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


def _tanh_moment(q: float, power: int, slope: bool = False) -> float:
    """E[tanh(sqrt(q) z)^power] (or sech^(2 power)) by scipy's adaptive quadrature."""

    def f(z: float) -> float:
        t = math.tanh(math.sqrt(q) * z)
        value = (1 - t * t) ** power if slope else t**power
        return value * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    return float(integrate.quad(f, -12, 12, points=[0.0], limit=400, epsabs=1e-14)[0])


def test_tanh_with_a_large_bias_settles_above_the_fixed_grid() -> None:
    # |tanh| <= 1, so q* = M(q*) lies in [sigma_b^2, sigma_w^2 + sigma_b^2] = [1e4, 10001]:
    # above 2^12, once reported as inf.
    result = diagnostics.correlation_map("tanh", 1.0, 100.0)
    q = optimize.brentq(lambda q: _tanh_moment(q, 2) + 1e4 - q, 1e4, 10001.0, xtol=1e-10)
    assert 1e4 <= result.q_star <= 10001.0
    assert result.q_star == pytest.approx(q, rel=1e-10)
    assert result.chi_1 == pytest.approx(_tanh_moment(q, 2, slope=True), rel=1e-8)
    assert result.phase == "ordered"


@pytest.mark.parametrize(
    ("activation", "weight_std", "bias_std", "q_star", "slope"),
    [
        # relu: M(q) = sigma_w^2 q / 2 + sigma_b^2, q* = sigma_b^2 / (1 - sigma_w^2 / 2).
        ("relu", 1.0, 1e6, 1e12 / 0.5, 0.5),
        # linear: M(q) = sigma_w^2 q + sigma_b^2, q* = sigma_b^2 / (1 - sigma_w^2).
        ("linear", 0.5, 100.0, 1e4 / 0.75, 0.25),
    ],
)
def test_exact_maps_find_their_fixed_point_far_above_the_fixed_grid(
    activation: str, weight_std: float, bias_std: float, q_star: float, slope: float
) -> None:
    result = diagnostics.correlation_map(activation, weight_std, bias_std)
    assert result.q_star == pytest.approx(q_star, rel=1e-10)
    assert result.variance_slope == pytest.approx(slope, rel=1e-10)
    assert result.chi_1 == pytest.approx(slope, rel=1e-10)


def test_a_small_bias_settles_below_the_fixed_grid_not_at_zero() -> None:
    # M(q) >= sigma_b^2 > 0, so q* > 0; tanh(u)^2 = u^2 - 2 u^4 / 3 + ..., E = q - 2 q^2 + ...,
    # so q* = sigma_b^2 / (1 - sigma_w^2) to O(q*) relative: 1e-12 / 0.75.
    result = diagnostics.correlation_map("tanh", 0.5, 1e-6)
    assert result.q_star == pytest.approx(1e-12 / 0.75, rel=1e-9, abs=0)


def test_variance_map_of_tanh_at_a_huge_gain_is_stable_at_its_bound() -> None:
    # E[tanh(sqrt(q) z)^2] = 1 - E[sech^2] = 1 - 2 / sqrt(2 pi q) + O(q^-1.5), so q* = g^2 (1 -
    # sqrt(2 / pi) / g) to 1e-30 relative, and M'(q*) = g^2 E[(z^2 - 1) tanh^2] / (2 q*) =
    # g^2 / (sqrt(2 pi) q*^1.5) (1 + O(1/g)) = 1 / (sqrt(2 pi) g).
    g = 1e10
    result = diagnostics.variance_map("tanh", g)
    assert result.fixed_point == pytest.approx(g * g * (1 - math.sqrt(2 / math.pi) / g), rel=1e-12)
    assert result.slope == pytest.approx(1 / (math.sqrt(2 * math.pi) * g), rel=1e-4, abs=0)
    assert result.verdict == "stable"


def test_relu_above_the_he_gain_still_grows_without_a_fixed_point() -> None:
    # M(q) / q = sigma_w^2 / 2 = 2 at every q: the signal grows 2-fold per layer for ever.
    result = diagnostics.correlation_map("relu", 2.0)
    assert result.q_star == math.inf
    assert result.chi_1 == pytest.approx(2.0, rel=1e-12)
    assert diagnostics.variance_map("relu", 2.0).fixed_point == math.inf


@pytest.mark.parametrize(
    "call",
    [
        lambda: diagnostics.correlation_map("tanh", 1e12),
        lambda: diagnostics.variance_map("tanh", 1e12),
    ],
)
def test_a_fixed_point_above_the_searched_range_is_an_error_naming_it(
    call: Callable[[], object],
) -> None:
    # tanh's q* ~ sigma_w^2 = 1e24, above 2^68 = 3e20.
    with pytest.raises(ValueError, match=r"(weight_std|gain)=1000000000000\.0.*2\^68"):
        call()


def test_a_start_above_the_searched_range_is_an_error_naming_q0() -> None:
    with pytest.raises(ValueError, match=r"q0 must be at most 2\^68.*1e\+30"):
        diagnostics.correlation_map("tanh", 1.0, q0=1e30)


def test_a_chaotic_phase_the_pair_moments_cannot_resolve_is_nan_with_a_warning() -> None:
    # tanh at sigma_w = 100 settles near q* = 1e4 (above 2^12) with chi_1 ~ 53: chaotic.
    with pytest.warns(RuntimeWarning, match=r"above 2\^12.*c\*, chi_c and depth_c are NaN"):
        result = diagnostics.correlation_map("tanh", 100.0)
    assert result.phase == "chaotic"
    assert math.isnan(result.c_star)
    assert math.isnan(result.chi_c)
    assert math.isnan(result.depth_c)


def test_a_step_at_a_fixed_point_above_the_fixed_grid_is_at_most_one_and_warns() -> None:
    # C(c) = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q* <= M(q*) / q* = 1 (Cauchy-Schwarz);
    # at the grid's end 2^12 instead of q* = 1e4 it came out 2.44.
    with pytest.warns(RuntimeWarning, match=r"above 2\^12"):
        step = diagnostics.correlation_step("tanh", 0.5, 1.0, 100.0)
    assert 0.5 < step <= 1.0 + 1e-12
