r"""The slope moment E[phi'(sqrt(q) z)^2], z ~ N(0, 1), is exact where phi'^2 is a spike at z = 0
narrower than the rounding probe's spacing, with tails that underflow.

``initconv._meanfield.gaussian.relative_expectation`` measures its integrand's size on a probe
before integrating it in units of that size. For phi = erf at large q, f(z) = phi'(sqrt(q) z)^2 =
(4 / pi) exp(-2 q z^2) is a spike of width 1 / (2 sqrt(q)) at 0; its size is its value at 0, and
a probe that steps over 0 sees only its tails. At q = 3.7e5 these are subnormal (2.2e-308 down to
5e-324) at |z| = 1/32, so a size taken from them would make f / size overflow at the spike. The
module promises its one-dimensional moments exact to ~1e-12 relative, and the variance map's
comment holds them within 1e-12 up to q = 2^24, which 3.7e5 is below.

Closed form: phi'(x) = (2 / sqrt(pi)) exp(-x^2), and E[exp(-a z^2)] = 1 / sqrt(1 + 2 a) (a
Gaussian integral), so E[phi'(sqrt(q) z)^2] = (4 / pi) / sqrt(1 + 4 q).
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv._meanfield.gaussian import slope_moment


@pytest.mark.parametrize("q", [0.25, 3.65e5, 3.7e5, 2.0**24])
def test_the_slope_moment_of_erf_is_four_over_pi_root_one_plus_four_q(q: float) -> None:
    expected = (4 / math.pi) / math.sqrt(1 + 4 * q)
    # phi'^2 > 0, so E|f| = E f: the quadrature's 1e-12 of it, doubled as its halves'
    # disagreement is an estimate, not a bound.
    assert slope_moment(torch.erf, q) == pytest.approx(expected, rel=2e-12, abs=0)
