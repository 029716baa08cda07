r"""Without a bias, hardtanh's critical line has one point: its end, q* -> 0 at sigma_w = 1, stable.

The promise (``initconv.critical``'s docstring): the line of an activation linear on each side of
0 up to a kink ends at q* -> 0 with sigma_w = sqrt(2 / (phi'(0-)^2 + phi'(0+)^2)) (hardtanh: 1);
its D(q) is positive but e^(-1/2q)-small, so every small q is a fixed point to float64's rounding,
"yet only q* -> 0 is one exactly, and that is what is returned".

Theory, derived here. For hardtanh and u ~ N(0, q), a = 1 / sqrt(q), n and Phi-bar the standard
normal density and upper tail:

    G(q) = E[phi'(u)^2] = 1 - 2 Phi-bar(a),
    F(q) = E[phi(u)^2] = q (1 - 2 Phi-bar(a) - 2 a n(a)) + 2 Phi-bar(a),
    D(q) = q G - F = 2 sqrt(q) n(a) - 2 Phi-bar(a),

and D > 0 at every q > 0 by the Mills-ratio bound Phi-bar(a) < n(a) / a. The line
(Poole et al. 2016; Schoenholz et al. 2017), sigma_w^2 = 1 / G(q*) and q* = sigma_w^2 F(q*) +
sigma_b^2, is D(q*) = sigma_b^2 G(q*): at sigma_b = 0 no q* > 0 solves it, and the only point is
the end, where G -> (1^2 + 1^2) / 2 = 1, so sigma_w = 1. There M'(q) = F'(q) / G(q) with
F' = G + E[phi phi''] = G - 2 n(a) / sqrt(q) (phi'' is a delta of weight -1 at 1 and +1 at -1,
where phi = +-1), so M' < 1 at every q > 0 and M' -> 1 at the end: stable, marginally. D is
checked positive here by mpmath at 60 digits at every grid point of the package's search
(2^-24 to 2^12), where at q = 2^-24 it is e^(-2^23)-small.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest

import initconv


def _deficit(q: mpmath.mpf) -> mpmath.mpf:
    a = 1 / mpmath.sqrt(q)
    return 2 * mpmath.sqrt(q) * mpmath.npdf(a) - 2 * mpmath.ncdf(-a)


def test_without_a_bias_hardtanhs_only_critical_point_is_the_end_of_its_line() -> None:
    with mpmath.workdps(60):
        assert all(_deficit(mpmath.mpf(2) ** k) > 0 for k in range(-24, 13, 2))
    point = initconv.critical("hardtanh", 0.0)
    assert point.q_star == 0.0
    assert point.input_gain() == 0.0
    # sigma_w = 1 / sqrt((1 + 1) / 2) = 1, from autograd's one-sided slopes at 0: exact.
    assert point.weight_std == pytest.approx(1.0, rel=1e-15, abs=0)
    # M' -> 1 at the end, from below; the package's quadrature is good to ~1e-12, the margin
    # (critical_line._MARGINAL) by which a slope counts as 1 is 1e-9.
    assert point.variance_slope == pytest.approx(1.0, rel=0, abs=1e-12)
