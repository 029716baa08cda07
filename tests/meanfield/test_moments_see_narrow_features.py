"""The slope moment E[phi'(sqrt(q) z)^2], and chi_1 with it, counts a feature of phi narrower than
the quadrature's nodes: a tent or a bump of width 1e-3 on tanh.

Such a feature leaves phi' the same on both of its sides, so a quadrature whose nodes step over
it sees plain tanh (chi_1 = 1.14 at sigma_w = 1.5 where a tent of height 0.1 and half-width 1e-3
at 0.3 makes it 20.2). The maps scan phi' 2.4e-4 apart on [-8, 8] for such features and put
their edges on the quadrature's panel edges. The reference is scipy's adaptive quadrature over u
told the feature's kinks (or, for a smooth bump, where it lies), independent of the package's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate

from initconv._meanfield.gaussian import checked_activation, slope_moment
from initconv.diagnostics import correlation_map


def _tent(height: float, where: float, half: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def phi(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) + height * torch.relu(1 - (x - where).abs() / half)

    return phi


def _reference_slope_moment(
    slope: Callable[[float], float], q: float, points: list[float]
) -> float:
    """E[phi'(u)^2], u ~ N(0, q), by scipy.integrate.quad on u with ``points`` as breakpoints,
    to 1e-13 relative."""
    sd = math.sqrt(q)

    def integrand(u: float) -> float:
        return slope(u) ** 2 * math.exp(-u * u / (2 * q)) / (sd * math.sqrt(2 * math.pi))

    span = 14 * sd
    value, _ = integrate.quad(
        integrand, -span, span, points=points, epsabs=0.0, epsrel=1e-13, limit=500
    )
    return float(value)


def _tent_slope(height: float, where: float, half: float) -> Callable[[float], float]:
    def slope(u: float) -> float:
        tanh = 1 - math.tanh(u) ** 2
        if where - half < u < where:
            return tanh + height / half
        if where < u < where + half:
            return tanh - height / half
        return tanh

    return slope


@settings(max_examples=15, deadline=None)
@given(
    where=st.floats(-3.0, 3.0),
    half=st.floats(3e-4, 3e-3),
    height=st.floats(0.01, 0.5),
    q=st.sampled_from([0.25, 1.0, 4.0]),
)
# The tent's top on a point of the moments' rounding probe (z = 2 = 32/16), where autograd's
# slope of |x - 1| is 0, neither side's: once taken for rounding, and the moment left 5e-4 off.
@example(where=1.0, half=2**-9, height=0.5, q=0.25)
def test_a_tent_narrower_than_the_quadratures_nodes_is_in_the_slope_moment(
    where: float, half: float, height: float, q: float
) -> None:
    phi = _tent(height, where, half)
    with checked_activation("tent", phi, builtin=False) as (normed, scale):
        found = slope_moment(normed, q) * scale**2
    reference = _reference_slope_moment(
        _tent_slope(height, where, half), q, [where - half, where, where + half]
    )
    # Both are exact to ~1e-12 relative (the package's tolerance, scipy's 1e-13); 1e-9 leaves a
    # margin for the rounding of phi's values at the kinks, ~eps / half relative.
    assert found == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize("q", [0.25, 1.0, 4.0])
def test_a_smooth_bump_narrower_than_the_quadratures_nodes_is_in_the_slope_moment(
    q: float,
) -> None:
    height, where, width = 0.05, -0.7, 1e-3

    def phi(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) + height * torch.exp(-(((x - where) / width) ** 2))

    def slope(u: float) -> float:
        t = (u - where) / width
        return 1 - math.tanh(u) ** 2 - 2 * height * t / width * math.exp(-t * t)

    with checked_activation("bump", phi, builtin=False) as (normed, scale):
        found = slope_moment(normed, q) * scale**2
    reference = _reference_slope_moment(slope, q, [where + k * width for k in range(-8, 9)])
    assert found == pytest.approx(reference, rel=1e-9)


def test_chi_1_counts_a_narrow_tent() -> None:
    phi = _tent(0.1, 0.3, 1e-3)
    with pytest.warns(RuntimeWarning, match="two-dimensional moments give chi_1"):
        found = correlation_map(phi, 1.5)
    reference = 1.5**2 * _reference_slope_moment(
        _tent_slope(0.1, 0.3, 1e-3), found.q_star, [0.299, 0.3, 0.301]
    )
    # Plain tanh's chi_1 here is 1.14: the tent is most of it.
    assert reference > 15
    assert found.chi_1 == pytest.approx(reference, rel=1e-9)
    # The correlation map's two-dimensional moments cannot see the tent: c* and chi_c are NaN,
    # with the warning, rather than plain tanh's.
    assert math.isnan(found.c_star)
    assert math.isnan(found.chi_c)
