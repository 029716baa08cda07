"""The mean-field root finder returns a root whatever round value ``f`` takes on its way.

``illinois(f, a, b, fa, fb, ...)`` promises a root of ``f`` between ``a`` and ``b`` (its docstring),
and every fixed point, critical point and c* of the mean-field maps is one of its answers. It may
stop early only at an iterate where ``f`` is exactly 0 (a root found exactly) or where the bracket
or ``|f|`` is within the tolerances asked for; a value of ``f`` that is merely round (1, -1, 2, ...)
says nothing about a root, and stopping there would return a point where ``f`` is far from 0.

Theory, derived here. The quadratic through (0, -1), (1, v) and (4, 3) is
f_v(x) = (-v x^2 + (4 v + 3) x - 3) / 3, with one root in (0, 4) for every v here. From the bracket
[0, 4], f = -1 and 3, the first regula-falsi iterate is 4 - 3 * 4 / (3 + 1) = 1, exactly in float64,
where f_v is exactly v (3 v and 3 v / 3 are exact for these v). So each case hands the search the
value v at its first step; v = 0 is a root found exactly (x = 1, returned as is), the others must be
searched past. The root of f_v in (0, 4), a root of v x^2 - (4 v + 3) x + 3, is
6 / (4 v + 3 + sqrt((4 v + 3)^2 - 12 v)) (the product of the roots over the other one), free of
cancellation: 4 v + 3 > 0 for v > 0, and the square root exceeds |4 v + 3| for v < 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from initconv._meanfield.gaussian import illinois

_X_TOL = 1e-12
_F_TOL = 1e-12


def _f(v: float) -> Callable[[float], float]:
    def f(x: float) -> float:
        return (-v * x * x + (4 * v + 3) * x - 3) / 3

    return f


def _root(v: float) -> float:
    linear = 4 * v + 3
    return 6 / (linear + math.sqrt(linear * linear - 12 * v))


def _slope(v: float, x: float) -> float:
    return (-2 * v * x + 4 * v + 3) / 3


@pytest.mark.parametrize("v", [-1.0, -0.5, 0.5, 1.0, 2.0])
def test_a_round_value_at_an_iterate_does_not_stop_the_search(v: float) -> None:
    f = _f(v)
    assert f(1.0) == v  # the first iterate sees exactly v
    found = illinois(f, 0.0, 4.0, -1.0, 3.0, x_tol=_X_TOL, f_tol=_F_TOL, iterations=100)
    root = _root(v)
    # The search stops with the root inside a bracket narrower than x_tol, or with |f| below f_tol
    # (plus f's own rounding, ~1e-15, here within the factor 2), which is within f_tol / |f'| of
    # the root; f' varies by under 1e-11 relative over that distance.
    allowed = _X_TOL + 2 * _F_TOL / abs(_slope(v, root))
    assert 0.0 <= found <= 4.0
    assert abs(found - root) <= allowed, (found, root, f(found))


def test_an_exact_zero_at_an_iterate_is_returned_as_the_root() -> None:
    # f_0(x) = x - 1: the first iterate is its root, exactly.
    f = _f(0.0)
    assert illinois(f, 0.0, 4.0, -1.0, 3.0, x_tol=_X_TOL, f_tol=_F_TOL, iterations=100) == 1.0
