"""A relu map just outside the critical band has its fixed point, however small its bias.

For relu, E[relu(sqrt(q) z)^2] = q / 2, so the variance map is exactly linear,
M(q) = (sigma_w^2 / 2) q + sigma_b^2 = (1 - d) q + sigma_b^2 at sigma_w^2 = 2 (1 - d), and for
d > 0 its one fixed point is q* = sigma_b^2 / d, where M'(q*) = 1 - d, so depth_q = -1 / ln(1 - d):
the ordered phase once d is past correlation_map's critical band (|chi_1 - 1| <= 1e-9). Only a
map flat to within that band reports the starting q0 (docs: every q is then a fixed point). A
tiny bias is felt most at the search grid's bottom (sigma_b^2 / q there is 1.7e-10 for 1e-17),
where it once pulled the map's excess inside the band and q* = q0 = 1 was reported for 9.5e-9.

Tolerance: the excess log(M(q) / q) falls by d per unit of ln q at q*, so the quadrature's
relative 1e-12 in the moment moves ln q* by 1e-12 / d (1e-3 at d = 1e-9), and the root finder's
own stopping width adds at most as much again; depth_q carries the slope's 1e-12 over d.
"""

from __future__ import annotations

import math

import pytest

from initconv.diagnostics import correlation_map

MOMENT_RTOL = 1e-12


@pytest.mark.parametrize("d", [1.05e-9, 2e-9, 1e-6])
@pytest.mark.parametrize("bias_variance", [1e-17, 1e-12])
def test_a_relu_map_just_below_flat_settles_at_its_bias_over_its_shortfall(
    d: float, bias_variance: float
) -> None:
    weight_variance = 2 * (1 - d)
    shortfall = 1 - weight_variance / 2  # d as the double sigma_w^2 carries it
    found = correlation_map("relu", math.sqrt(weight_variance), math.sqrt(bias_variance))
    allowed = 2 * MOMENT_RTOL / shortfall
    assert found.phase == "ordered"
    assert found.q_star == pytest.approx(bias_variance / shortfall, rel=allowed)
    assert found.depth_q == pytest.approx(-1 / math.log1p(-shortfall), rel=allowed)
