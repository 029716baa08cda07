r"""The variance map's fixed points are searched up to q = 2^68: one of a bounded activation at a
huge gain, far above the fixed grid's 2^32, is found there, and one beyond 2^68 is refused.

A bounded activation (|phi| <= 1, saturating like tanh) has M(q) = g^2 E[phi(sqrt(q) z)^2] ->
g^2 (1 - c / sqrt(q)) at large q (tanh: c = sqrt(2 / pi), from E[sech^2(sqrt(q) z)] ~ 2 n(0) /
sqrt(q)), so its fixed point q* = M(q*) is just below g^2: at g = 2^30 about 2^60, which the grid
[2^-32, 2^32] does not reach. The search is the variance map's own (extend_up, then
log_grid_roots) on the excess log(M(q) / q) of that map, written out here in closed form so that
no quadrature enters; q* is the root of s^3 - g^2 s + g^2 c = 0 in s = sqrt(q) near g, found by mpmath.
"""

from __future__ import annotations

import math

import mpmath as mp  # type: ignore[import-untyped]
import pytest

from initconv._meanfield.gaussian import log_grid_roots
from initconv._meanfield.variance_map import extend_up

_C = math.sqrt(2 / math.pi)
# The fixed grid of variance_map: 2^-32 to 2^32 every 16-fold.
_GRID = [2.0**k for k in range(-32, 33, 4)]


def _search(gain: float) -> list[float]:
    def ratio(q: float) -> float:
        return gain * gain * (1 - _C / math.sqrt(q)) / q

    def excess(q: float) -> float:
        return math.log(ratio(q))

    grid = list(_GRID[8:])  # from q = 1 up: below it this saturated form is not a map
    values = [excess(q) for q in grid]
    extend_up(excess, grid, values, ratio, f"gain={gain!r}")
    return log_grid_roots(excess, grid, values)


def _fixed_point(gain: float) -> float:
    # With s = g y: y^3 - y + c / g = 0, whose root near 1 is q* / g^2 = y^2.
    with mp.workdps(40):
        g = mp.mpf(gain)
        y = mp.findroot(lambda y: y**3 - y + mp.mpf(_C) / g, mp.mpf(1))
        return float(g * g * y * y)


@pytest.mark.parametrize("log2_gain", [16.5, 30.0, 33.5])
def test_a_fixed_point_above_the_grid_is_found_up_to_2_to_the_68(log2_gain: float) -> None:
    # q* ~ g^2: 2^33, 2^60 and 2^67. The root finder stops within 1e-13 in log q (plus the
    # rounding of exp, 2.2e-16 relative).
    gain = 2.0**log2_gain
    assert _search(gain) == [pytest.approx(_fixed_point(gain), rel=1e-13 + 2.3e-16, abs=0.0)]


def test_a_fixed_point_beyond_2_to_the_68_is_refused_naming_the_parameter() -> None:
    # q* ~ 2^70: the map still grows at 2^68, and M(q) / q is not settled at or above 1 there.
    with pytest.raises(ValueError, match=r"gain=34359738368\.0: .* up to q = 2\^68"):
        _search(2.0**35)
