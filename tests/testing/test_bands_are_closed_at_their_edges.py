"""The kit's acceptance regions are closed where documented, and the KS check rejects p = alpha.

Promises (initconv/testing/_assertions.py):
- assert_variance_matches "rejects when R falls outside variance_band": R on an edge of the band
  [lo, hi] is inside it and passes;
- assert_mean_zero "rejects when |mean| > t sqrt(v / n)", t = z_(1 - alpha/2) for normal weights
  and sqrt(2 ln(2 / alpha)) for the others: a mean exactly at the threshold passes;
- assert_distribution "rejects when p <= alpha": a KS p-value equal to alpha is rejected;
- the channel check's band is variance_band's construction (a shifted gamma on the sum's
  cumulants; cumulant_band gives it), closed likewise: a statistic on either edge passes.
The ties are built exactly in float64: weights +-1 have mean square exactly 1, so R = 1 / v, and v
is moved by single ulps until 1 / v is the band's edge; four equal weights b have mean exactly b,
and with n = 4, v = 1 the documented threshold t sqrt(v / n) is exactly t / 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from initconv._maths.sampling import Distribution
from initconv.testing import (
    ALPHA_CHECK,
    assert_distribution,
    assert_mean_zero,
    assert_variance_matches,
    cumulant_band,
    variance_band,
)
from initconv.testing._assertions import assert_channel_law


def variance_giving(ratio: float) -> float:
    """A v with 1.0 / v == ratio exactly (the ratio of weights +-1), found by ulp steps."""
    v = 1.0 / ratio
    for _ in range(64):
        if 1.0 / v == ratio:
            return v
        v = math.nextafter(v, math.inf if 1.0 / v > ratio else 0.0)
    raise AssertionError(f"no float v with 1 / v == {ratio!r}")  # pragma: no cover


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("edge", [0, 1])
def test_a_variance_ratio_on_either_edge_of_the_band_passes(
    distribution: Distribution, edge: int
) -> None:
    n = 1000
    weights = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)  # mean square exactly 1
    ratio = variance_band(n, distribution)[edge]
    v = variance_giving(ratio)
    assert_variance_matches(weights, v, distribution)
    # One ulp further out is outside the band, so the edge itself is what was tested.
    outside = math.nextafter(v, math.inf if edge == 0 else 0.0)
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_variance_matches(weights, outside, distribution)


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
def test_a_mean_exactly_at_the_threshold_passes(distribution: Distribution) -> None:
    if distribution == "normal":
        t = float(stats.norm.isf(ALPHA_CHECK / 2))
    else:
        t = math.sqrt(2 * math.log(2 / ALPHA_CHECK))
    bound = t / 2  # t sqrt(v / n) at v = 1, n = 4, exact
    assert_mean_zero([bound] * 4, 1.0, distribution)
    assert_mean_zero([-bound] * 4, 1.0, distribution)
    with pytest.raises(AssertionError, match="mean is not zero"):
        assert_mean_zero([math.nextafter(bound, math.inf)] * 4, 1.0, distribution)


def test_a_ks_p_value_equal_to_alpha_is_rejected() -> None:
    x = np.linspace(-1.5, 1.5, 50)  # a fixed sample; its p-value against N(0, 1) is what it is
    p = float(stats.kstest(x, stats.norm(loc=0.0, scale=1.0).cdf).pvalue)
    assert 0 < p < 1
    with pytest.raises(AssertionError, match="Kolmogorov-Smirnov"):
        assert_distribution(x, "normal", 1.0, alpha=p)
    assert_distribution(x, "normal", 1.0, alpha=p / 2)  # below p it passes


@pytest.mark.parametrize("count", [200, 1000])
def test_a_channel_statistic_on_either_edge_of_its_band_passes(count: int) -> None:
    # Cumulants of y^2 for the sum of 4 iid standardised uniform values / 2 (per position):
    # y4 = 3 + (mu4 - 3) / 4, y6 = 15 + 15 k4 + k6, summed over ``count`` positions.
    mu4, mu6 = 1.8, 27 / 7
    k4, k6 = (mu4 - 3) / 4, (mu6 - 15 * mu4 + 30) / 16
    y4, y6 = 3 + k4, 15 + 15 * k4 + k6
    k1, k2, k3 = count * 1.0, count * (y4 - 1), count * (y6 - 3 * y4 + 2)
    lo, hi = cumulant_band(k1, k2, k3, alpha=ALPHA_CHECK)
    for edge in (lo, hi):
        assert_channel_law(edge, k1, k2, k3, count, ALPHA_CHECK)
    for outside in (math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)):
        with pytest.raises(AssertionError, match="output channels are correlated"):
            assert_channel_law(outside, k1, k2, k3, count, ALPHA_CHECK)
