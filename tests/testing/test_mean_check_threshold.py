"""assert_mean_zero rejects exactly beyond its stated threshold, for every n including n = 1.

Theory: for n iid normal weights of variance v the mean is exactly N(0, v / n), so the check that
rejects when |mean| > z sqrt(v / n) has false-alarm rate alpha iff 2 (1 - Phi(z)) = alpha, i.e.
z = z_{1 - alpha / 2}; the test finds that z with mpmath (erfc(z / sqrt 2) = alpha), independently
of scipy. Uniform and truncated normal weights are strictly sub-Gaussian, so Chernoff's bound
P(|mean| > t sqrt(v / n)) <= 2 exp(-t^2 / 2) = alpha gives t = sqrt(2 ln(2 / alpha)), the threshold
the docstring states. The weights here are built so that their mean is a chosen number of standard
errors; the check only reads the mean, so its verdict on either side of the threshold is exact.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import numpy as np
import pytest

from initconv.testing import assert_mean_zero

ALPHAS = (0.1, 1e-3, 1e-9)


def normal_quantile(alpha: float) -> float:
    """z with P(|Z| > z) = alpha for Z ~ N(0, 1), by mpmath's root finder on erfc."""
    with mpmath.workdps(40):
        return float(mpmath.findroot(lambda z: mpmath.erfc(z / mpmath.sqrt(2)) - alpha, 3.0))


def weights_with_mean(n: int, mean: float, spread: float) -> np.ndarray:
    """n values whose mean is ``mean`` to float rounding: +-spread about it in pairs (n even) or
    the mean itself (n = 1)."""
    if n == 1:
        return np.array([mean])
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return mean + spread * signs


def threshold(distribution: str, alpha: float) -> float:
    if distribution == "normal":
        return normal_quantile(alpha)
    return math.sqrt(2 * math.log(2 / alpha))


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("n", [1, 4, 1000])
def test_the_mean_check_rejects_exactly_beyond_its_stated_number_of_standard_errors(
    distribution: str, alpha: float, n: int
) -> None:
    variance = 2.5
    standard_error = math.sqrt(variance / n)
    t = threshold(distribution, alpha)
    # A relative margin of 1e-6 on either side: the built mean is exact to a few ulps (1e-15
    # relative) and mpmath's quantile to 40 digits, so the verdict cannot depend on rounding.
    inside = weights_with_mean(n, (1 - 1e-6) * t * standard_error, math.sqrt(variance))
    outside = weights_with_mean(n, (1 + 1e-6) * t * standard_error, math.sqrt(variance))
    assert_mean_zero(inside, variance, distribution, alpha=alpha)  # type: ignore[arg-type]
    assert_mean_zero(-inside, variance, distribution, alpha=alpha)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="mean is not zero"):
        assert_mean_zero(outside, variance, distribution, alpha=alpha)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="mean is not zero"):
        assert_mean_zero(-outside, variance, distribution, alpha=alpha)  # type: ignore[arg-type]


def test_the_normal_threshold_is_the_two_sided_quantile_not_a_one_sided_one() -> None:
    # At alpha = 0.1 the two-sided z is 1.645; a one-sided (alpha) or a doubled (2 alpha) level
    # would put it at 1.28 or 0.84 standard errors. A mean of 1.5 standard errors must pass.
    n, variance = 16, 1.0
    assert normal_quantile(0.1) == pytest.approx(1.6448536269514722, rel=1e-12)
    assert_mean_zero(
        weights_with_mean(n, 1.5 * math.sqrt(variance / n), 1.0), variance, "normal", alpha=0.1
    )
