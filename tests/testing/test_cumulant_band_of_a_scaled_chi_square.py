"""cumulant_band gives a scaled chi-square's exact quantiles, at any scale.

Promise (initconv/testing/_laws.py, cumulant_band): the central ``1 - alpha`` interval of a
statistic with cumulants k1, k2, k3 from the shifted gamma with those cumulants, "exact for a
chi-square", for any "sum of independent squares", e.g. a Gaussian quadratic form with
``k_r = 2^(r-1) (r-1)! sum lambda_i^r``; only ``k2`` and ``k3`` must be positive.
Theory: ``c chi-square_n`` has cumulants ``c n``, ``2 c^2 n``, ``8 c^3 n`` and is itself a gamma
(shape n / 2, scale 2 c), so its band is exactly ``c`` times scipy's chi-square quantiles. A
small scale (c = 0.01: weights of variance 1e-4 summed in squares) puts k2 and k3 far below 1,
where they are still positive and the band must still be given.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from initconv.testing import cumulant_band

ALPHA = 1e-6


@pytest.mark.parametrize(("scale", "n"), [(0.01, 3), (0.01, 100), (0.3, 5), (1.0, 100), (7.0, 40)])
def test_the_band_is_the_scaled_chi_square_quantiles(scale: float, n: int) -> None:
    k1, k2, k3 = scale * n, 2 * scale**2 * n, 8 * scale**3 * n
    lo, hi = cumulant_band(k1, k2, k3, alpha=ALPHA)
    expected_lo = scale * float(stats.chi2.ppf(ALPHA / 2, n))
    expected_hi = scale * float(stats.chi2.isf(ALPHA / 2, n))
    # The fit is exact for a gamma; only the float arithmetic of loc + scale * q differs
    # (a few ulps of the band's width).
    assert math.isclose(lo, expected_lo, rel_tol=1e-9, abs_tol=1e-12 * scale * n)
    assert math.isclose(hi, expected_hi, rel_tol=1e-9)


def test_only_cumulants_that_are_not_positive_are_refused() -> None:
    for k2, k3 in [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (1.0, -0.5)]:
        with pytest.raises(ValueError, match="k2 and k3 must be > 0"):
            cumulant_band(1.0, k2, k3)
