"""The fixed-point finder of the mean-field maps finds every root its grid brackets, once each.

``log_grid_roots(excess, grid)`` promises the roots of ``excess`` bracketed by consecutive grid
points: a sign change between two points is refined (by regula falsi on log q) to the root within
``x_tol = 1e-13`` in log q; a value exactly 0 at a grid point (the first, an inner one or the last)
is that grid point, reported once. The excesses here are elementary functions whose roots are known
exactly (log2 q - k is 0 at q = 2^k, exactly in float64; q - 1 at q = 1; a shifted cubic in log q
whose root is chosen), so the checks are exact or use the finder's stated tolerance; nothing here
shares code with the package.
"""

from __future__ import annotations

import math

import pytest

from initconv._meanfield.gaussian import log_grid_roots

# x_tol = 1e-13 bounds the root's error in t = log q (the bracket that holds it is narrower than
# that when the search stops, or the excess is within 1e-14 of its bracket values of 0, which for
# the excesses here, of slope >= 1/2 in t near their roots, puts t within 2e-14); q = e^t then
# carries a relative error of at most e^(1e-13) - 1 = 1e-13, plus one rounding of exp (2.2e-16).
_REL = 1e-13 + 2.3e-16


def test_a_root_between_two_points_symmetric_about_it_in_log_q_is_refined() -> None:
    # Grid points 2^-1 and 2^1 bracket q = 1 symmetrically in log q: the first regula-falsi step
    # lands at 2^(-1/3) for q - 1, which is not a root; the finder must go on to q = 1.
    grid = [2.0**k for k in (-3, -1, 1, 3)]
    assert log_grid_roots(lambda q: q - 1.0, grid) == [pytest.approx(1.0, rel=_REL, abs=0.0)]


@pytest.mark.parametrize("root", [2.0**-20 * 3.0, 0.37, 1.0 + 2.0**-30, 5.5, 2.0**20 / 3.0])
def test_every_bracketed_root_is_found_to_the_stated_tolerance(root: float) -> None:
    # A cubic in t = log q - log root, increasing, root at t = 0 only; the grid every 2 octaves.
    def excess(q: float) -> float:
        t = math.log(q / root)
        return t + t**3

    grid = [2.0**k for k in range(-24, 25, 2)]
    assert log_grid_roots(excess, grid) == [pytest.approx(root, rel=_REL, abs=0.0)]


def test_a_sign_change_between_the_last_two_points_is_found() -> None:
    # The excess crosses from -1 to 1, exactly the values a grid symmetric about the root gives.
    assert log_grid_roots(math.log2, [0.5, 2.0]) == [pytest.approx(1.0, rel=_REL, abs=0.0)]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_root_exactly_on_an_inner_grid_point_is_that_point_once(sign: float) -> None:
    # Rising or falling through 0 at q = 1, a grid point: the root is 1.0 itself, not also a
    # refinement of either neighbouring bracket.
    assert log_grid_roots(lambda q: sign * math.log2(q), [0.25, 0.5, 1.0, 2.0, 4.0]) == [1.0]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_root_exactly_on_the_last_grid_point_is_that_point(sign: float) -> None:
    assert log_grid_roots(lambda q: sign * (math.log2(q) - 2.0), [0.5, 1.0, 2.0, 4.0]) == [4.0]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_root_exactly_on_the_first_grid_point_is_that_point(sign: float) -> None:
    assert log_grid_roots(lambda q: sign * (math.log2(q) + 1.0), [0.5, 1.0, 2.0, 4.0]) == [0.5]


def test_values_already_known_are_used_and_several_roots_are_all_found() -> None:
    # (log2 q)^2 - 4 has roots at 2^-2 and 2^2, both grid points; (t^2 - 1) for t = log2 q - 0.5
    # has roots between grid points at 2^-0.5 and 2^1.5.
    grid = [2.0**k for k in range(-4, 5)]
    on_grid = [math.log2(q) ** 2 - 4.0 for q in grid]
    assert log_grid_roots(lambda q: math.log2(q) ** 2 - 4.0, grid, on_grid) == [0.25, 4.0]

    def between(q: float) -> float:
        return (math.log2(q) - 0.5) ** 2 - 1.0

    found = log_grid_roots(between, grid)
    assert found == [
        pytest.approx(2.0**-0.5, rel=_REL, abs=0.0),
        pytest.approx(2.0**1.5, rel=_REL, abs=0.0),
    ]
