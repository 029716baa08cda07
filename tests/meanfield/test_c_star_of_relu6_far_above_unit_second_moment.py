r"""In the chaotic phase at a second moment far above 1, relu6's c* is within the stated 1e-3 of
the root of the exact correlation map.

relu6 is not odd: :math:`\mathbb{E}[\phi(u)] > 0`, so the correlation map at c = 0, the square of
that mean, is not 0, and c* lies strictly between 0 and 1. Its kink at 6 lies away from 0, where
correlation_map's docstring states c* to ~1e-3. The reference is computed without initconv:
given :math:`u_1 = \sqrt{q}\, z_1`, :math:`u_2` is normal with mean :math:`c u_1` and variance
:math:`q (1 - c^2)`, and the mean of a normal clipped to [0, 6] has a closed form (its mass
below 0 counts 0, above 6 counts 6, and in between :math:`m (\Phi(\beta) - \Phi(\alpha)) +
s (\varphi(\alpha) - \varphi(\beta))`); the outer integral over :math:`z_1 \ge 0` is scipy's quad,
told of the kink at :math:`z_1 = 6/\sqrt{q}`. :math:`C(c) = (\sigma_w^2 \mathbb{E}[\phi(u_1)
\phi(u_2)] + \sigma_b^2)/q^*` is convex with :math:`C(1) = 1` and :math:`C'(1) = \chi_1 > 1`, so
its one root below 1 is bracketed by [0, 0.99] (C(0) > 0, and C(c) < c above the root).
At sigma_w = 3, q* ~ 116: the grid's misses at c = 0 and c = 1, which are taken off the
two-dimensional moments, must be measured on C's own scale, the moment over q*.
"""

from __future__ import annotations

import math
import warnings

import pytest
from scipy import integrate, optimize

from initconv.diagnostics import correlation_map

TOP = 6.0


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _clipped_mean(m: float, s: float) -> float:
    """E[min(max(X, 0), 6)] for X ~ N(m, s^2)."""
    a, b = -m / s, (TOP - m) / s
    return TOP * _cdf(-b) + m * (_cdf(b) - _cdf(a)) + s * (_pdf(a) - _pdf(b))


def _exact_map(c: float, q: float, sigma_w: float, sigma_b: float) -> float:
    root, spread = math.sqrt(q), math.sqrt(q * (1 - c * c))

    def outer(z: float) -> float:
        u = root * z
        return min(u, TOP) * _clipped_mean(c * u, spread) * _pdf(z)

    value, _ = integrate.quad(
        outer, 0.0, 12.0, points=[TOP / root], epsabs=1e-14, epsrel=1e-13, limit=400
    )
    return (sigma_w**2 * float(value) + sigma_b**2) / q


@pytest.mark.parametrize(
    ("sigma_w", "sigma_b"),
    [(3.0, 1.0), pytest.param(5.0, 1.0, marks=pytest.mark.slow)],
)
def test_relu6_c_star_far_above_unit_q_is_the_exact_maps_root_to_1e_3(
    sigma_w: float, sigma_b: float
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = correlation_map("relu6", sigma_w, sigma_b)
    assert found.phase == "chaotic"
    q = found.q_star
    assert q > 100.0  # the case is the one meant: q* far from 1
    # C(1) = M(q*) / q* = 1, and the reference map tends to it (u2 = u1 as c -> 1).
    assert _exact_map(1.0 - 1e-12, q, sigma_w, sigma_b) == pytest.approx(1.0, rel=1e-9)
    reference = optimize.brentq(
        lambda c: _exact_map(c, q, sigma_w, sigma_b) - c, 0.0, 0.99, xtol=1e-12
    )
    assert 0.1 < reference < 0.95  # c* well inside (0, 1)
    # The stated accuracy of c* where a kink lies away from 0: ~1e-3.
    assert found.c_star == pytest.approx(reference, abs=1e-3)
