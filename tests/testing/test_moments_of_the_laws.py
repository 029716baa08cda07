"""The kit's moments and the bands built on them follow from the weight laws, computed here apart.

Theory, all from mpmath integrals of the densities (independent of initconv's closed forms and
recursion):

- standardised moments mu_k = E[X^k] / E[X^2]^(k/2) of N(0, 1), U(-sqrt 3, sqrt 3) and N(0, 1)
  cut at +-2 (the truncated normal's density phi(z) / P on [-2, 2]);
- the variance band: T = sum of n standardised squares has cumulants n, n (mu4 - 1),
  n (mu6 - 3 mu4 + 2) (cumulants of a sum add; those of X^2 follow from E X^2 = 1, E X^4, E X^6),
  and the docstring's band is the central 1 - alpha interval of the shifted gamma with those three
  cumulants, rebuilt here with scipy's gamma from the mpmath moments, so the kurtosis each law
  enters with (normal 3, uniform 9/5, truncated 2.3655) is checked, not assumed; its lower end
  raised to the small-ball bound where that is higher;
- the channel check's law: Y = (X_1 + ... + X_C) / sqrt(C) for C iid output channels. Its moments
  E Y^4, E Y^6 come from expanding the power of the sum (E (A + B)^k = sum_j binom(k, j)
  E A^j E B^(k-j) for independent A, B), with no cumulant formula; then Y^2 has cumulants
  1, E Y^4 - 1, E Y^6 - 3 E Y^4 + 2.
"""

from __future__ import annotations

import functools
import math

import mpmath  # type: ignore[import-untyped]
import pytest
from scipy import stats

from initconv.testing import standard_moments, variance_band
from initconv.testing._assertions import channel_sum_cumulants

DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


@functools.cache
def raw_moments(distribution: str, order: int = 6) -> tuple[mpmath.mpf, ...]:
    """E[X^k], k = 0..order, of the law standardised to variance 1, by quadrature."""
    with mpmath.workdps(20):
        if distribution == "normal":
            # Beyond +-12 the integrands are below x^6 phi(12) ~ 1e-25: nothing at 20 digits.
            lo, hi = mpmath.mpf(-12), mpmath.mpf(12)
        elif distribution == "uniform":
            lo, hi = -mpmath.sqrt(3), mpmath.sqrt(3)
        else:
            lo, hi = mpmath.mpf(-2), mpmath.mpf(2)

        def density(x: mpmath.mpf) -> mpmath.mpf:
            # Unnormalised: the truncated normal's mass cancels in the ratios below.
            return mpmath.npdf(x) if distribution != "uniform" else mpmath.mpf(1)

        def moment(k: int) -> mpmath.mpf:
            return mpmath.quad(lambda x: x**k * density(x), [lo, lo / 2, 0, hi / 2, hi])

        raw = [moment(k) for k in range(order + 1)]
        return tuple(
            m / raw[0] / (raw[2] / raw[0]) ** (mpmath.mpf(k) / 2) for k, m in enumerate(raw)
        )


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_standard_moments_are_the_laws_fourth_and_sixth_moments(distribution: str) -> None:
    moments = raw_moments(distribution)
    # The closed forms and the float recursion are good to a few ulps; 1e-12 leaves room.
    assert standard_moments(distribution) == pytest.approx(  # type: ignore[arg-type]
        (float(moments[4]), float(moments[6])), rel=1e-12
    )


def standardised_density_at_zero(distribution: str) -> mpmath.mpf:
    """The density of X / sqrt(E X^2) at 0 for the law's X (cut at +-2 or +-sqrt 3, or not)."""
    with mpmath.workdps(30):
        if distribution == "normal":
            return 1 / mpmath.sqrt(2 * mpmath.pi)
        if distribution == "uniform":
            return 1 / (2 * mpmath.sqrt(3))
        mass = mpmath.quad(mpmath.npdf, [-2, 0, 2])
        second = mpmath.quad(lambda x: x**2 * mpmath.npdf(x), [-2, 0, 2]) / mass
        return mpmath.sqrt(second) * mpmath.npdf(0) / mass


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("n", [1, 3, 1000, 100_000])
@pytest.mark.parametrize("alpha", [1e-9, 0.05])
def test_the_variance_band_is_the_three_cumulant_gamma_of_the_laws_squares(
    distribution: str, n: int, alpha: float
) -> None:
    m = raw_moments(distribution)
    k1, k2, k3 = n, n * float(m[4] - 1), n * float(m[6] - 3 * m[4] + 2)
    # A gamma of shape a and scale s has cumulants a s, a s^2, 2 a s^3.
    shape = 4 * k2**3 / k3**2
    scale = k3 / (2 * k2)
    loc = k1 - shape * scale
    lo = loc + scale * stats.gamma.ppf(alpha / 2, shape)
    hi = loc + scale * stats.gamma.isf(alpha / 2, shape)
    # The lower end is raised to the small-ball bound where that is higher (a few weights):
    # P(T <= t) <= V_n t^(n/2) f0^n, V_n the unit n-ball's volume, f0 the standardised density
    # at 0; its alpha / 2 point (tests/testing/test_variance_band_of_a_few_weights.py).
    with mpmath.workdps(30):
        volume = mpmath.pi ** (mpmath.mpf(n) / 2) / mpmath.gamma(mpmath.mpf(n) / 2 + 1)
        f0 = standardised_density_at_zero(distribution)
        ball = (mpmath.mpf(alpha) / 2 / (volume * f0**n)) ** (mpmath.mpf(2) / n)
    lo = max(lo, float(ball))
    # scipy's gamma quantiles are good to ~1e-12 relative, the moments to 1e-15; the band edges
    # are order n, so 1e-9 relative is far above rounding and far below any wrong kurtosis
    # (which moves the edges by a relative sqrt(K2) / n ~ 1e-3 at n = 1e5).
    assert variance_band(n, distribution, alpha=alpha) == pytest.approx(  # type: ignore[arg-type]
        (lo / n, hi / n), rel=1e-9, abs=1e-12
    )


def moments_of_a_sum(moments: tuple[mpmath.mpf, ...], terms: int) -> list[mpmath.mpf]:
    """E[S^k], k = 0..len - 1, for S the sum of ``terms`` iid copies with these raw moments."""
    total = [mpmath.mpf(1)] + [mpmath.mpf(0)] * (len(moments) - 1)  # the empty sum: S = 0
    for _ in range(terms):
        total = [
            sum(mpmath.binomial(k, j) * total[j] * moments[k - j] for j in range(k + 1))
            for k in range(len(moments))
        ]
    return total


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("channels", [1, 2, 3, 7, 64])
def test_channel_sums_have_the_cumulants_of_the_square_of_a_normalised_sum(
    distribution: str, channels: int
) -> None:
    moments = raw_moments(distribution)
    with mpmath.workdps(30):
        s = moments_of_a_sum(moments, channels)
        y4 = s[4] / channels**2  # Y = S / sqrt(C)
        y6 = s[6] / channels**3
        expected = (1.0, float(y4 - 1), float(y6 - 3 * y4 + 2))
    found = channel_sum_cumulants(channels, float(moments[4]), float(moments[6]))
    # The formula is a few float operations on exact-to-1e-16 inputs; K3 is a difference of terms
    # of order 15, so 1e-12 relative is a safe bound on rounding and far below any wrong term.
    assert found == pytest.approx(expected, rel=1e-12)
    if distribution == "normal":
        # Y is exactly N(0, 1), Y^2 chi-square_1: cumulants 1, 2, 8 whatever C.
        assert found == pytest.approx((1.0, 2.0, 8.0), rel=1e-12)
    assert math.isfinite(found[2])
