"""A zero-mean draw has the standard deviation it is asked for, on the support its law has.

The promises (``initconv/_maths/sampling.py``, and ``variance_scaling_``'s docstring):

- ``std_for(gain, fan_in, fan_out, mode)`` is ``gain / sqrt(fan)`` with fan = fan_in, fan_out or
  (fan_in + fan_out) / 2 (He et al. (2015), Glorot and Bengio (2010)); the Kaiming and Xavier
  layers draw with that standard deviation;
- ``draw_zero_mean_(tensor, std, distribution, generator)`` fills ``tensor`` with zero-mean draws
  of standard deviation ``std``: N(0, std^2); U(-b, b) with b = sqrt(3) std, since U(-b, b) has
  variance b^2 / 3; N(0, sigma^2) cut to |x| <= 2 sigma, with sigma = std / s_2 and s_2 the
  standard deviation of a standard normal cut to [-2, 2], derived here with scipy.

The sampling theory, derived here. With the mean known to be 0, the statistic is the mean of the
squares, m2 = sum(x^2) / n, whose expectation is std^2:

- normal: n m2 / std^2 is chi-square with n degrees of freedom, exactly;
- uniform and truncated normal: x^2 is bounded, so Bernstein's inequality holds for every n (no
  normal approximation at a tail of 1e-9): P(|m2 - std^2| >= t) <= 2 exp(-n t^2 / (2 v + 2 M t / 3))
  with v = Var(x^2) = mu4 - std^4 (the fourth moment: 9 std^4 / 5 for the uniform, sigma^4 E[Z^4 |
  |Z| <= 2] for the truncated normal) and M the largest |x^2 - std^2| on the support;
- support: every value lies within b (uniform) or 2 sigma (truncated normal), and n iid values all
  stay below b (1 - d) with probability (1 - d)^n, below (2 - d) sigma with probability
  (1 - P(|Z| > 2 - d | |Z| <= 2))^n: the largest one reaches past the d at which that is ALPHA_CHECK.

Every statistical check runs at ALPHA_CHECK (two-sided where it is a band): 18 in all (3 layers, 3
normal variances, 3 x 2 uniform and 3 x 2 truncated normal variances and reaches); the rest are exact.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

import initconv
from initconv._maths.sampling import draw_zero_mean_, std_for
from initconv.testing import ALPHA_CHECK

N = 2**16
STDS = (0.05, 0.7, 3.0)  # away from 1, where sqrt(3) std and sqrt(3) / std agree
_CUT = stats.truncnorm(-2.0, 2.0)  # the standard normal cut to [-2, 2]
S_2 = math.sqrt(_CUT.moment(2))  # its standard deviation, 0.8796...
MU4_CUT = _CUT.moment(4)  # its fourth moment


def _draw(std: float, distribution: str, seed: int) -> torch.Tensor:
    values = torch.empty(N, dtype=torch.float64)
    draw_zero_mean_(values, std, distribution, torch.Generator().manual_seed(seed))
    return values


def _chi_square_band(n: int) -> tuple[float, float]:
    """The two-sided ALPHA_CHECK band of m2 / std^2 for n normal values of mean 0."""
    return (
        stats.chi2.ppf(ALPHA_CHECK / 2, n) / n,
        stats.chi2.isf(ALPHA_CHECK / 2, n) / n,
    )


def _bernstein_half_width(n: int, v: float, m: float) -> float:
    """The t with 2 exp(-n t^2 / (2 v + 2 m t / 3)) = ALPHA_CHECK: the positive root of
    n t^2 - (2 L m / 3) t - 2 L v = 0, L = log(2 / ALPHA_CHECK)."""
    log_term = math.log(2 / ALPHA_CHECK)
    linear = 2 * log_term * m / 3
    return (linear + math.sqrt(linear**2 + 8 * n * log_term * v)) / (2 * n)


@settings(max_examples=25, deadline=None)
@example(gain=1.5, fan_in=72, fan_out=108, mode="fan_in")  # explicit: a failure here is not shrunk
@example(gain=1.5, fan_in=72, fan_out=108, mode="fan_out")
@example(gain=1.5, fan_in=72, fan_out=108, mode="fan_avg")
@given(
    gain=st.floats(0.0, 1e3),
    fan_in=st.integers(1, 10**6),
    fan_out=st.integers(1, 10**6),
    mode=st.sampled_from(["fan_in", "fan_out", "fan_avg"]),
)
def test_std_for_is_the_gain_over_the_root_of_the_chosen_fan(
    gain: float, fan_in: int, fan_out: int, mode: str
) -> None:
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    # Either side takes at most four correctly rounded steps (sum, divide, sqrt, divide or
    # multiply), each within eps / 2 relative, and sqrt halves the error of its argument: the two
    # agree within 8 eps.
    expected = gain / math.sqrt(fan)
    got = std_for(gain, float(fan_in), float(fan_out), mode)
    assert got == pytest.approx(expected, rel=8 * sys.float_info.epsilon, abs=0.0)


@pytest.mark.parametrize(
    ("layer", "mode"),
    [
        (initconv.KaimingNormalConv2d, "fan_in"),
        (initconv.KaimingNormalConv2d, "fan_out"),
        (initconv.XavierNormalConv2d, "fan_avg"),
    ],
)
def test_kaiming_and_xavier_layers_draw_the_variance_gain_squared_over_the_fan(
    layer: type[initconv.KaimingNormalConv2d], mode: str
) -> None:
    gain = 1.7
    fan_in, fan_out = 32 * 9, 48 * 9  # Conv2d(32, 48, 3): channels times taps
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    options: dict[str, Any] = {} if mode == "fan_avg" else {"mode": mode}
    conv = layer(32, 48, 3, gain=gain, dtype=torch.float64, seed=3, **options)
    weight = conv.weight.detach()
    ratio = float((weight**2).mean()) / (gain**2 / fan)
    low, high = _chi_square_band(weight.numel())
    assert low <= ratio <= high, (low, ratio, high)


@pytest.mark.parametrize("std", STDS)
def test_a_normal_draw_has_variance_std_squared(std: float) -> None:
    values = _draw(std, "normal", 11)
    low, high = _chi_square_band(N)
    ratio = float((values**2).mean()) / std**2
    assert low <= ratio <= high, (low, ratio, high)


@pytest.mark.parametrize("std", STDS)
def test_a_uniform_draw_has_variance_std_squared_on_plus_minus_root_3_std(std: float) -> None:
    values = _draw(std, "uniform", 12)
    # x^2 in [0, 3 std^2]: E x^4 = b^4 / 5 = 9 std^4 / 5, so v = 4 std^4 / 5, and M = 2 std^2.
    t = _bernstein_half_width(N, 0.8 * std**4, 2 * std**2)
    m2 = float((values**2).mean())
    assert abs(m2 - std**2) <= t, (m2, std**2, t)
    b = math.sqrt(3.0) * std
    top = float(values.abs().max())
    # b is a product and uniform_ a product and a sum in float64: 4 eps of slack covers them.
    assert top <= b * (1 + 4 * sys.float_info.epsilon)
    # P(all n below b (1 - d)) = (1 - d)^n = ALPHA_CHECK.
    d = -math.expm1(math.log(ALPHA_CHECK) / N)
    assert top >= b * (1 - d), (top, b, d)


@pytest.mark.parametrize("std", STDS)
def test_a_truncated_normal_draw_has_variance_std_squared_within_two_sigma(std: float) -> None:
    values = _draw(std, "truncated_normal", 13)
    sigma = std / S_2
    # x = sigma Z, Z cut to [-2, 2]: E x^2 = std^2, E x^4 = sigma^4 E[Z^4 | |Z| <= 2], and x^2 in
    # [0, 4 sigma^2] with 4 sigma^2 = 5.2 std^2 > 2 std^2, so M = 4 sigma^2 - std^2.
    v = sigma**4 * MU4_CUT - std**4
    t = _bernstein_half_width(N, v, 4 * sigma**2 - std**2)
    m2 = float((values**2).mean())
    assert abs(m2 - std**2) <= t, (m2, std**2, t)
    top = float(values.abs().max())
    # s_2 from scipy and the package's constant agree to ~1e-16 relative; 1e-12 covers it.
    assert top <= 2 * sigma * (1 + 1e-12)
    # The z below which all n values stay with probability ALPHA_CHECK: P(|Z| > z | |Z| <= 2)
    # = 1 - ALPHA_CHECK^(1/n) =: p, i.e. Phi(z) = Phi(2) - p (2 Phi(2) - 1) / 2.
    p = -math.expm1(math.log(ALPHA_CHECK) / N)
    kept = 2 * stats.norm.cdf(2.0) - 1
    z = stats.norm.ppf(stats.norm.cdf(2.0) - p * kept / 2)
    assert top >= z * sigma, (top, z * sigma)
