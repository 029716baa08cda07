r"""An unstable fixed point just below q = 2^32, the top of the searched range, is found with its slope.

variance_map reports "the positive fixed point of M nearest to 1 (0 or inf when there is none)";
it searches q in [2^-32, 2^32] (initconv._meanfield.variance_map), and above 2^32 only while
M(q) > q there. An unstable fixed point (M(q) < q below it, > q above) has M(q) < q at every q
under it, so nothing but the range itself brings the search to it.

The truth is a closed form. phi(x) = x + c x |x| has, with u = sqrt(q) z, E[u^2 |u|] =
q^1.5 E|z|^3 = q^1.5 * 2 sqrt(2/pi) and E[u^4] = 3 q^2, so

.. math::
    M(q) = g^2 (q + k c q^{3/2} + 3 c^2 q^2), \quad k = 4 \sqrt{2/\pi}, \qquad
    M'(q) = g^2 (1 + \tfrac32 k c \sqrt q + 6 c^2 q).

At g^2 = 1/2, M(q)/q rises from 1/2 through 1 exactly once, where s = c sqrt(q) solves
3 s^2 + k s - 1 = 0: that is the one positive fixed point, unstable (M' > 1 there). c is chosen
to put it at q* = 3 * 2^30, between the fixed grid's last two points 2^28 and 2^32. The second
moment's derivative above q = 1 comes from E[(z^2 - 1) phi(sqrt(q) z)^2] / (2q)
(initconv._meanfield.gaussian.second_moment_slope), held here to the closed form's M'.
"""

from __future__ import annotations

import math

import pytest
from torch import Tensor

from initconv import diagnostics

_Q_STAR = 3 * 2.0**30
_K = 4 * math.sqrt(2 / math.pi)
# The root s = c sqrt(q*) of 3 s^2 + k s - 1 = 0.
_S = (-_K + math.sqrt(_K * _K + 12)) / 6
_C = _S / math.sqrt(_Q_STAR)


def _phi(x: Tensor) -> Tensor:
    return x + _C * x * x.abs()


def test_an_unstable_fixed_point_just_below_2_32_is_found_with_its_slope() -> None:
    result = diagnostics.variance_map(_phi, math.sqrt(0.5))
    slope = 0.5 * (1 + 1.5 * _K * _S + 6 * _S * _S)
    assert slope > 1
    assert result.verdict == "unstable"
    # E[phi(sqrt(q) z)^2] = 2 q at q* is computed to 1e-12 of the integrand's top on |z| <= 8,
    # q 64 (1 + 8 s)^2 = 576 q: 2.9e-10 of M, which moves the root of log(M(q) / q) by that over
    # its slope in log q, M'(q*) - 1 = 0.298: 1e-9.
    assert result.fixed_point == pytest.approx(_Q_STAR, rel=1.5e-9, abs=0.0)
    # (z^2 - 1) phi^2 has its top at 63 * 576 q on |z| <= 8: 1e-12 of it times g^2 / (2 q) is
    # 9e-9; the root's error moves M' by 1e-9 * dM'/dlog q (< 0.5): 5e-10.
    assert result.slope == pytest.approx(slope, abs=1e-8)
