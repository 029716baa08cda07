"""correlation_map's c*, chi_c and depth_c are exact where one-dimensional moments decide them,
and NaN with a warning where the two-dimensional grid is off.

At c = 0 the two pre-activations are independent, so the cross moments are squares of means:
an odd activation without bias has C(0) = 0, c* = 0 and chi_c = sigma_w^2 E[phi'(u)]^2; for
hardtanh E[phi'(u)] = P(|u| < 1) = erf(1 / sqrt(2 q)). At c = 1 (u1 = u2) the grid's slope
cross moment must equal the one-dimensional chi_1 / sigma_w^2: hardtanh's kinks at +-1 put it
1% off at q = 7, where c* is then not given.
"""

from __future__ import annotations

import math

import pytest

from initconv.diagnostics import correlation_map


@pytest.mark.parametrize("sigma_w", [1.5, 3.0, 12.0])
def test_odd_hardtanh_without_bias_has_c_star_zero_and_chi_c_the_squared_mean_slope(
    sigma_w: float,
) -> None:
    found = correlation_map("hardtanh", sigma_w)
    inside = math.erf(1 / math.sqrt(2 * found.q_star))
    assert found.phase == "chaotic"
    assert found.chi_1 == pytest.approx(sigma_w**2 * inside, rel=1e-10)
    assert found.c_star == 0.0
    # One-dimensional quadrature: ~1e-12 relative; 1e-10 leaves a margin for q*'s own error.
    assert found.chi_c == pytest.approx(sigma_w**2 * inside**2, rel=1e-10)
    assert found.depth_c == pytest.approx(-1 / math.log(sigma_w**2 * inside**2), rel=1e-9)


def test_with_a_bias_where_the_grid_misses_chi_1_the_pairs_are_nan_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match=r"give chi_1 \+?-?[0-9.]+% off") as caught:
        found = correlation_map("hardtanh", 3.0, 0.1)
    assert "c*, chi_c and depth_c are NaN" in str(caught[0].message)
    assert math.isnan(found.c_star)
    assert math.isnan(found.chi_c)
    assert math.isnan(found.depth_c)
    # What the one-dimensional moments decide is still given, exactly.
    assert found.chi_1 == pytest.approx(9 * math.erf(1 / math.sqrt(2 * found.q_star)), rel=1e-10)
