"""The variance map's fixed points far above q = 1: found up to q = 2^68, refused beyond.

variance_map searches q in [2^-32, 2^32] and above it, 16-fold a step up to 2^68, while
M(q) > q (initconv._meanfield.variance_map.extend_up). The truths, derived here:

- A bounded activation, |phi| <= 1, has M(q) = g^2 E[phi^2] <= g^2, so its fixed point is at most
  g^2; for hardtanh and tanh, 1 - E[phi(sqrt(q) z)^2] <= E[1{|sqrt(q) z| < 1}] resp.
  E[sech^2(sqrt(q) z)], both at most 2 / sqrt(2 pi q), so at a large gain q* = g^2 (1 - O(g^-1)):
  far above the fixed grid. hardtanh's moments are closed forms (t = 1 / sqrt(q)):
  E[hardtanh(sqrt(q) z)^2] = q (erf(t / sqrt 2) - 2 t n(t)) + erfc(t / sqrt 2), and its derivative
  in q is E[z^2; |z| < t] = erf(t / sqrt 2) - 2 t n(t).
- At g^2 = 1.5 * 2^68 the same bound puts q* in (2^68, 1.5 * 2^68]: above what is computed, a
  ValueError, not a claim that the signal grows without a fixed point.
- phi_e(x) = x (1 + x^2)^(e/2) has M(q) / q = r(q) = g^2 E[z^2 (1 + q z^2)^e], monotone in q
  (increasing for e > 0, decreasing to 0 for e < 0), so exactly one positive fixed point, where
  r = 1; g is chosen (by mpmath) to put it at 2^30 (e = 0.05: unstable, M' = 1 + e g^2 q
  E[z^4 (1 + q z^2)^(e-1)] > 1) or at 2^80 (e = -1e-4: above 2^68, again a ValueError although
  r is still above 1 at 2^68 and falls by only 3e-4 a 16-fold step there).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import pytest
from torch import Tensor

from initconv import diagnostics


def _power_activation(exponent: float) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        return x * (1 + x * x) ** (exponent / 2)

    return phi


def _gaussian(f: Callable[[mpmath.mpf], mpmath.mpf], q: mpmath.mpf) -> mpmath.mpf:
    """E[f(z)] for z ~ N(0, 1), f even, with breakpoints at f's scale 1 / sqrt(q)."""
    scale = 1 / mpmath.sqrt(q)
    points = [mpmath.mpf(0), *(scale * mpmath.mpf(10) ** k for k in range(-1, 4)), mpmath.inf]
    return 2 * mpmath.quad(lambda z: f(z) * mpmath.npdf(z), points)


def _power_gain(exponent: float, q_star: float) -> tuple[float, float]:
    """(g, M'(q*)) putting phi_e's one fixed point at ``q_star``."""
    with mpmath.workdps(30):
        q, e = mpmath.mpf(q_star), mpmath.mpf(exponent)
        moment = _gaussian(lambda z: z * z * (1 + q * z * z) ** e, q)
        gain2 = 1 / moment
        slope = 1 + e * gain2 * q * _gaussian(lambda z: z**4 * (1 + q * z * z) ** (e - 1), q)
        return float(mpmath.sqrt(gain2)), float(slope)


def test_hardtanh_at_a_large_gain_settles_near_g_squared() -> None:
    gain = 2.0**18
    with mpmath.workdps(40):
        g2 = mpmath.mpf(gain) ** 2

        def inside(q: mpmath.mpf) -> mpmath.mpf:  # E[z^2; |z| < 1 / sqrt(q)]
            t = 1 / mpmath.sqrt(q)
            return mpmath.erf(t / mpmath.sqrt(2)) - 2 * t * mpmath.npdf(t)

        def gap(q: mpmath.mpf) -> mpmath.mpf:
            t = 1 / mpmath.sqrt(q)
            return g2 * (q * inside(q) + mpmath.erfc(t / mpmath.sqrt(2))) - q

        q_star = mpmath.findroot(gap, g2)
        slope = float(g2 * inside(q_star))
        q_star = float(q_star)
    result = diagnostics.variance_map("hardtanh", gain)
    assert result.verdict == "stable"
    assert 2.0**35 < result.fixed_point <= gain**2
    # The one-dimensional moments lose accuracy as q grows (initconv._meanfield.gaussian.Q_TOP:
    # 1e-12 up to 2^24, 2e-7 at 2^64); at q* ~ 2^36 the error is at most the latter, and it
    # moves q* by e / (1 - M'(q*)) with M'(q*) ~ 1e-6: rel 2e-7 plus rounding.
    assert result.fixed_point == pytest.approx(q_star, rel=3e-7, abs=0.0)
    # M' = g^2 E[(z^2 - 1) hardtanh^2] / (2 q): the integrand is at most 63 on |z| <= 8, an error
    # of 63e-12 g^2 / (2 q*) ~ 3e-11.
    assert result.slope == pytest.approx(slope, abs=1e-10)


def test_a_bounded_activation_whose_fixed_point_lies_above_2_68_is_refused() -> None:
    # g^2 = 1.5 * 2^68: M(2^68) >= g^2 (1 - 2 / sqrt(2 pi 2^68)) > 2^68 and M(q) <= g^2 < q above
    # g^2, so q* lies in (2^68, 1.5 * 2^68]: not "inf" (it exists), not computable either.
    gain = math.sqrt(1.5) * 2.0**34
    with pytest.raises(ValueError, match=r"gain=.*above q = 2\^68"):
        diagnostics.variance_map("hardtanh", gain)


def test_a_slowly_falling_ratio_whose_fixed_point_lies_above_2_68_is_refused() -> None:
    gain, _ = _power_gain(-1e-4, 2.0**80)
    with pytest.raises(ValueError, match=r"gain=.*above q = 2\^68"):
        diagnostics.variance_map(_power_activation(-1e-4), gain)


def test_an_unstable_fixed_point_near_the_grids_top_is_found() -> None:
    gain, slope = _power_gain(0.05, 2.0**30)
    result = diagnostics.variance_map(_power_activation(0.05), gain)
    assert result.verdict == "unstable"
    # E[phi(sqrt(q) z)^2] ~ 2.9 q is computed to 1e-12 of its integrand's top on |z| <= 8,
    # 64 q (1 + 64 q)^0.05 ~ 224 q: 7.6e-11 relative, moving the root by that over
    # |1 - M'(q*)| = 0.05: 1.5e-9.
    assert result.fixed_point == pytest.approx(2.0**30, rel=2e-9, abs=0.0)
    # M' = g^2 E[(z^2 - 1) phi^2] / (2 q), the integrand's top ~ 63 * 224 q: 2.4e-9 after the
    # factor g^2 / (2 q) = 0.17 / q; the root's error adds 0.05 * 1.5e-9.
    assert result.slope == pytest.approx(slope, abs=5e-9)
