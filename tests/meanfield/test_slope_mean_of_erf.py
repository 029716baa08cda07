r"""The slope's mean E[phi'(sqrt(q) z)], z ~ N(0, 1), is that expectation, at every q.

``correlation_map`` takes chi_c = sigma_w^2 E[phi'(u)]^2 from it where c* = 0 (an odd activation
without bias in its chaotic phase: at c = 0, u_1 and u_2 are independent and the slope cross
moment is the square of the mean). It is held here directly, as correlation_map's route to it
costs a fixed-point search (~0.5 s).

Closed form: for phi = erf, phi'(x) = (2 / sqrt(pi)) exp(-x^2), and
E[exp(-q z^2)] = 1 / sqrt(1 + 2 q) (a Gaussian integral), so

    E[phi'(sqrt(q) z)] = 2 / sqrt(pi (1 + 2 q)).
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv._meanfield.gaussian import slope_mean


@pytest.mark.parametrize("q", [0.25, 2.0, 9.0])
def test_the_slope_mean_of_erf_is_two_over_root_pi_one_plus_two_q(q: float) -> None:
    expected = 2 / math.sqrt(math.pi * (1 + 2 * q))
    # The one-dimensional moments are exact to ~1e-12 relative to the integrand's size (the
    # module's docstring); phi' > 0, so E|f| = E f, and 2e-12 doubles the quadrature's 1e-12 as
    # its halves' disagreement is an estimate, not a bound.
    assert slope_mean(torch.erf, q) == pytest.approx(expected, rel=2e-12, abs=0)
