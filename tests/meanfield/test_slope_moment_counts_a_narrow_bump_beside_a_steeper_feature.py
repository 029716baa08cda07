r"""The slope moment E[phi'^2] (chi_1 / sigma_w^2) counts a bump of phi' 2e-3 wide, also where
phi has a steeper feature elsewhere.

The module ``initconv._meanfield.gaussian`` promises that a feature of phi narrower than the
quadratures' nodes ("a bump 1e-3 wide") is put on the one-dimensional quadrature's panel edges,
so that the slope moment, and chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] with it, counts it. Here
phi is tanh plus a hat of phi' (height 1, half-width 1e-3, at x = 0.3: phi' continuous, phi C^1),
which moves E[phi'(z)^2] at q = 1 by 0.2%, and, far out at x = 7.5, a second hat of phi' 50 high
and 3e-4 wide (wider than the slope scan's 2.4e-4 spacing), whose own share of E[phi'^2] is
below 1e-13 (about 50^2 * 2e-4 / 3 times the normal density at 7.5, 2.4e-13: 4e-14).

The moment is taken as the maps take it (checked_activation, which scans phi' for such features,
then slope_moment). The reference is scipy's adaptive quadrature over z ~ N(0, 1), told both
hats' kinks, independent of the package's quadrature.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate
from torch import Tensor

from initconv._meanfield.gaussian import checked_activation, slope_moment

# (height of phi', centre, half-width) of each hat of phi'.
_BUMP = (1.0, 0.3, 1e-3)
_SPIKE = (50.0, 7.5, 1.5e-4)


def _ramp(u: Tensor) -> Tensor:
    """The integral of the unit hat max(0, 1 - |u|) from -inf, without cancellation."""
    a, b = torch.clamp(u + 1, 0, 1), torch.clamp(u, 0, 1)
    return 0.5 * a * a - 0.5 * b * b + b


def _phi(x: Tensor, hats: tuple[tuple[float, float, float], ...]) -> Tensor:
    out = torch.tanh(x)
    for height, centre, half in hats:
        out = out + height * half * _ramp((x - centre) / half)
    return out


def _reference_slope_moment(q: float, hats: tuple[tuple[float, float, float], ...]) -> float:
    sd = math.sqrt(q)

    def integrand(u: float) -> float:
        slope = 1 - math.tanh(u) ** 2
        for height, centre, half in hats:
            slope += height * max(0.0, 1 - abs(u - centre) / half)
        return slope**2 * math.exp(-u * u / (2 * q)) / (sd * math.sqrt(2 * math.pi))

    points = [centre + k * half for _, centre, half in hats for k in (-1, 0, 1)]
    value, _ = integrate.quad(
        integrand, -14 * sd, 14 * sd, points=points, epsabs=0.0, epsrel=1e-13, limit=500
    )
    return float(value)


@pytest.mark.parametrize(
    "hats",
    [
        (_BUMP,),
        # A scan threshold relative to the largest |phi'| anywhere would be raised above the
        # bump's by the steep hat, leaving the moment 0.2% low.
        (_BUMP, _SPIKE),
    ],
    ids=["bump-alone", "bump-beside-a-steep-hat"],
)
def test_the_slope_moment_counts_a_narrow_bump_of_the_slope(
    hats: tuple[tuple[float, float, float], ...],
) -> None:
    with checked_activation("hats", lambda x: _phi(x, hats), builtin=False) as (normed, scale):
        found = slope_moment(normed, 1.0) * scale**2
    # The moments are exact to ~1e-12 relative, scipy's to 1e-13; 1e-10 leaves room for both
    # and is 2e7 times smaller than the bump's share.
    assert found == pytest.approx(_reference_slope_moment(1.0, hats), rel=1e-10)
