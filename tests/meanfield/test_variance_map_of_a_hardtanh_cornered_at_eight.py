r"""The variance map of ``nn.Hardtanh(-8, 8)``, whose corners sit on the ends of the range where
the maps scan an activation's slope, is solved like any other hardtanh's.

``initconv._meanfield.slopes.check_slopes`` scans phi' on [-8, 8] for features too narrow for
the quadrature; hardtanh's backward is 0 at its corners themselves (torch passes the gradient
only strictly inside (min_val, max_val)), so here the slope changes within the scan's first and
last intervals, and a feature touches each end of the scan. That is an ordinary, continuous,
piecewise-linear activation, which variance_map promises to solve.

Closed forms (z ~ N(0, 1), n the normal density, clamp at +-a, t = a / sqrt(q)):

    E[hardtanh_a(sqrt(q) z)^2] = q (erf(t / sqrt 2) - 2 t n(t)) + a^2 erfc(t / sqrt 2),
    M'(q) = g^2 E[z^2; |z| < t] = g^2 (erf(t / sqrt 2) - 2 t n(t)),

the second from M'(q) = g^2 E[phi(u) phi'(u) z] / sqrt(q) with phi(u) phi'(u) = u on |u| < a and
0 outside. At gain 1.5, M(q) = g^2 E[phi^2] is below g^2 q and tends to g^2 a^2, so its fixed
point solves q = M(q) (mpmath, 40 digits) at q* ~ 81, where the clamp cuts a third of the mass
(t ~ 0.89), and M'(q*) ~ 0.33 < 1: stable.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
from torch import nn

from initconv import diagnostics

_CORNER = 8.0


def _closed_form(gain: float) -> tuple[float, float]:
    """(q*, M'(q*)) of hardtanh clamped at +-_CORNER at ``gain``."""
    with mpmath.workdps(40):
        g2, a = mpmath.mpf(gain) ** 2, mpmath.mpf(_CORNER)

        def inside(q: mpmath.mpf) -> mpmath.mpf:  # E[z^2; |z| < a / sqrt(q)]
            t = a / mpmath.sqrt(q)
            return mpmath.erf(t / mpmath.sqrt(2)) - 2 * t * mpmath.npdf(t)

        def gap(q: mpmath.mpf) -> mpmath.mpf:
            t = a / mpmath.sqrt(q)
            return g2 * (q * inside(q) + a * a * mpmath.erfc(t / mpmath.sqrt(2))) - q

        q_star = mpmath.findroot(gap, g2 * a * a)
        return float(q_star), float(g2 * inside(q_star))


def test_the_variance_map_of_a_hardtanh_cornered_at_the_slope_scans_ends() -> None:
    gain = 1.5
    q_star, slope = _closed_form(gain)
    result = diagnostics.variance_map(nn.Hardtanh(-_CORNER, _CORNER), gain)
    assert result.verdict == "stable"
    # The moments are exact to ~1e-12 relative at q ~ 81 (initconv._meanfield.gaussian), so the
    # excess log(M(q) / q) is, and that moves its root by 1e-12 / (1 - M'(q*)) ~ 1.5e-12 in
    # log q; the root finder stops within 1e-13 of it: 2e-12 relative, doubled as the moments'
    # error is an estimate, not a bound.
    assert result.fixed_point == pytest.approx(q_star, rel=4e-12, abs=0.0)
    # M' = g^2 d/dq E[phi^2]: g^2 = 2.25 times the derivative's ~1e-12 error, plus that of q*
    # carried by M'' ~ M' / q*, doubled: 5e-12.
    assert result.slope == pytest.approx(slope, abs=5e-12, rel=0.0)
