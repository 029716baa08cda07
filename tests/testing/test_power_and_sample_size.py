"""The power laws of the variance check: variance_power, min_sample_size and detectable_error.

Theory: for n iid normal weights n R ~ chi-square_n exactly, and weights whose variance is r times
the claimed one give R' = r R, so the check that accepts lo <= R' <= hi (lo, hi the chi-square
quantiles at alpha / 2) misses with probability F(hi / r) - F(lo / r), F the chi-square_n cdf: the
power is computed here from scipy's chi-square, independently of the kit's shifted gamma. For
uniform and truncated normal weights the kit's power is a three-cumulant approximation; a Monte
Carlo of 4,000 simulated checks, with an exact binomial band at ALPHA_CHECK, holds it to what the
check really does. min_sample_size promises the least n whose power is *at least* the target for
every ratio listed (so n meets it and n - 1 does not), and detectable_error the least delta seen
with the given power on *both* sides, r = 1 + delta and r = 1 - delta (roots found here with
brentq on the chi-square power). Every n >= 1 is a sample size.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch
from scipy import optimize, stats

from initconv._maths.sampling import draw_zero_mean_
from initconv.testing import (
    ALPHA_CHECK,
    detectable_error,
    min_sample_size,
    variance_band,
    variance_power,
)


def chi_square_miss(n: int, ratio: float, alpha: float) -> float:
    """P(the check accepts) for n normal weights of variance ``ratio`` times the claimed one."""
    lo, hi = stats.chi2.ppf(alpha / 2, n), stats.chi2.isf(alpha / 2, n)
    return float(stats.chi2.cdf(hi / ratio, n) - stats.chi2.cdf(lo / ratio, n))


def chi_square_power(n: int, ratio: float, alpha: float) -> float:
    lo, hi = stats.chi2.ppf(alpha / 2, n), stats.chi2.isf(alpha / 2, n)
    return float(stats.chi2.cdf(lo / ratio, n) + stats.chi2.sf(hi / ratio, n))


@pytest.mark.parametrize("n", [1, 2, 9, 400])
@pytest.mark.parametrize("ratio", [0.3, 0.9, 1.1, 4.0])
def test_the_power_for_normal_weights_is_the_chi_square_power_down_to_one_weight(
    n: int, ratio: float
) -> None:
    # scipy's gamma and chi-square quantile inversions agree to ~1e-12 relative; a tail cdf turns
    # a relative error in its argument into one at most its log-slope x f(x) / F(x) (about n / 2
    # here) times larger: < 1e-9, so 1e-8 bounds rounding and nothing else.
    expected = chi_square_power(n, ratio, 1e-3)
    assert variance_power(n, ratio, "normal", alpha=1e-3) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("edge", [0, 1])
def test_the_power_is_what_the_check_does_in_a_simulation(distribution: str, edge: int) -> None:
    # At r = hi (or lo), the band's own edge, about half the scaled statistics leave the band: the
    # power is mid-range, where a binomial count resolves it best. 4,000 checks of n = 1,000; the
    # count's exact binomial band at ALPHA_CHECK. The three-cumulant law is within ~0.005 of the
    # truth at n = 1,000 (STATS.md), far inside the band's +-0.05.
    n, checks, alpha = 1000, 4000, 1e-3
    band = variance_band(n, distribution, alpha=alpha)  # type: ignore[arg-type]
    ratio = band[edge]
    generator = torch.Generator().manual_seed(20 + edge)
    x = torch.empty(checks * n, dtype=torch.float64)
    draw_zero_mean_(x, 1.0, distribution, generator)
    statistic = x.view(checks, n).pow(2).mean(dim=1) * ratio
    rejected = int(((statistic < band[0]) | (statistic > band[1])).sum())
    power = variance_power(n, ratio, distribution, alpha=alpha)  # type: ignore[arg-type]
    assert stats.binom.ppf(ALPHA_CHECK / 2, checks, power) <= rejected
    assert rejected <= stats.binom.isf(ALPHA_CHECK / 2, checks, power)


@pytest.mark.parametrize(
    ("ratios", "alpha", "power"),
    [
        ((1.05, 0.95), 1e-6, 0.999),
        ((0.5, 2.0, 1 / 3), 1e-9, None),
        ((1.25, 0.8, 1.1), 1e-3, 0.9),
        # Answers below 33: the search once began at 64 and returned 33 for any of them.
        ((3.0,), 1e-2, 0.5),
        ((4.0,), 1e-2, 0.9),
    ],
)
def test_the_smallest_sample_size_meets_the_target_for_every_ratio_and_one_less_does_not(
    ratios: tuple[float, ...], alpha: float, power: float | None
) -> None:
    n = min_sample_size("normal", alpha=alpha, power=power, ratios=ratios)
    # Miss probabilities (1 - power) keep the comparison exact near power 1 - 1e-9; between
    # consecutive n they differ by far more than the ~1e-12 relative rounding of either law.
    allowed_miss = alpha if power is None else 1 - power
    assert all(chi_square_miss(n, r, alpha) <= allowed_miss for r in ratios)
    assert any(chi_square_miss(n - 1, r, alpha) > allowed_miss for r in ratios)


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
def test_a_power_target_reached_exactly_at_n_is_met_at_n(distribution: str) -> None:
    # "At least power": a target equal to the power at n0 is met at n0 and not at n0 - 1 (the
    # power rises with n there), so n0 is the least n.
    n0, ratio, alpha = 500, 1.3, 1e-3
    target = variance_power(n0, ratio, distribution, alpha=alpha)  # type: ignore[arg-type]
    assert variance_power(n0 - 1, ratio, distribution, alpha=alpha) < target  # type: ignore[arg-type]
    found = min_sample_size(distribution, alpha=alpha, power=target, ratios=(ratio,))  # type: ignore[arg-type]
    assert found == n0


@pytest.mark.parametrize("n", [1, 100, 1000])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.1), (1e-3, 0.5), (1e-9, 0.95)])
def test_the_detectable_error_is_the_larger_of_the_two_sides_chi_square_roots(
    n: int, alpha: float, power: float
) -> None:
    def excess(ratio: float) -> float:
        return chi_square_power(n, ratio, alpha) - power

    if excess(1e-12) < 0:
        # The lower side never reaches the power (one normal weight at a tiny alpha): inf.
        assert detectable_error(n, "normal", alpha=alpha, power=power) == math.inf
        return
    up = optimize.brentq(excess, 1.0, 1e6, xtol=1e-14, rtol=1e-14) - 1
    down = 1 - optimize.brentq(excess, 1e-12, 1.0, xtol=1e-14, rtol=1e-14)
    # The kit bisects to 1e-9 relative in r on the upper side and 1e-12 on the lower; its power
    # is the chi-square's to ~1e-10 relative (above). 1e-6 relative covers both.
    assert detectable_error(n, "normal", alpha=alpha, power=power) == pytest.approx(
        max(up, down), rel=1e-6
    )


def test_at_a_low_power_target_the_smaller_variance_side_decides() -> None:
    # The equal-tailed chi-square check is biased: just below r = 1 its power dips under alpha, so
    # at alpha = 0.05 and power 0.1 a smaller variance needs a larger relative error to be seen.
    n, alpha, power = 100, 0.05, 0.1
    delta = detectable_error(n, "normal", alpha=alpha, power=power)
    assert chi_square_power(n, 1 + delta, alpha) > power
    assert chi_square_power(n, 1 - delta, alpha) == pytest.approx(power, rel=1e-6)
    assert chi_square_power(n, 1 - 0.99 * delta, alpha) < power


@pytest.mark.parametrize("ratio", [7e11, 1e12])
def test_the_larger_variance_side_is_searched_up_to_a_ratio_of_1e12(ratio: float) -> None:
    # Two normal weights at alpha = 1e-9 see only a huge variance: a power first reached at
    # r = 7e11 (between the doubling's 2^39 and its 1e12 cap) or at 1e12 itself is found, so the
    # detectable error is r - 1 (the lower side is seen at that power by r = 1e-12, so its delta
    # is below 1). The power there is 1 - 3e-11, about hi / (2 r) short of 1, so the two powers'
    # rounding (a few eps of 1) moves the root by that many eps over 1 - power, relative.
    n, alpha = 2, 1e-9
    power = chi_square_power(n, ratio, alpha)
    assert chi_square_power(n, 1e-12, alpha) > power
    rounding = 4 * sys.float_info.epsilon / (1 - power)
    assert detectable_error(n, "normal", alpha=alpha, power=power) == pytest.approx(
        ratio - 1, rel=rounding
    )
    # One step past the cap is not looked for: inf.
    beyond = chi_square_power(n, 1.01e12, alpha)
    assert detectable_error(n, "normal", alpha=alpha, power=beyond) == math.inf
