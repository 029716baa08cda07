"""The documented accuracy of the two-dimensional Gaussian moments where the slope jumps away
from 0: hardtanh's slope cross moment.

The promise (``initconv/_meanfield/gaussian.py``'s module docstring): a jump in phi' away from 0
falls inside a panel of the fixed composite grid, and for hardtanh the slope cross moment
``E[phi'(u_1) phi'(u_2)]`` is up to 6e-4 off at q = 1 and 2.5e-3 at q = 4. Exactly, phi' is the
indicator of |u| < 1, so the moment is the bivariate normal's probability of the square
``|u_1|, |u_2| < 1``: with b = 1 / sqrt(q) and s = sqrt(1 - c^2),

    P = int_{-b}^{b} phi(x) [Phi((b - c x) / s) - Phi((-b - c x) / s)] dx,

computed here by scipy's adaptive quadrature of the normal's cdf (error ~1e-12, far below the
figures), independent of the code's grid. Every c of a grid over
(-1, 1) must be within the stated figure; a coarser grid, fewer nodes per panel or a panel
misplaced against the jump exceeds it at q = 1 (17 nodes per panel: 1.3e-3).
"""

from __future__ import annotations

import math

import pytest
import torch.nn.functional as F
from scipy import integrate, special

from initconv._meanfield.gaussian import cross_slope_moment


def _square_probability(q: float, c: float) -> float:
    b, s = 1 / math.sqrt(q), math.sqrt(1 - c * c)

    def inner(x: float) -> float:
        density = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        return density * float(special.ndtr((b - c * x) / s) - special.ndtr((-b - c * x) / s))

    value, _ = integrate.quad(inner, -b, b, epsabs=1e-13, epsrel=1e-13)
    return float(value)


@pytest.mark.parametrize(("q", "stated"), [(1.0, 6e-4), (4.0, 2.5e-3)])
def test_hardtanhs_slope_cross_moment_is_within_the_stated_error(q: float, stated: float) -> None:
    for c in [-0.5, 0.0, 0.7]:
        got = cross_slope_moment(F.hardtanh, q, c)
        assert abs(got - _square_probability(q, c)) <= stated, (q, c, got)
