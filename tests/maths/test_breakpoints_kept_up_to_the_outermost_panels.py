"""Breakpoints are kept everywhere inside the outermost panels: a narrow piece of f between two
breakpoints at 11.6 < |z| < 11.75 is found, as one at |z| < 3 is.

The promise is ``gaussian_expectation``'s docstring (initconv/_maths/quadrature.py): breakpoints
"are added to the first panels' edges, so a narrow piece between two of them is a panel of its own
(those in the outermost panels, |z| > 11.75, are dropped: those panels measure the tail)". The
first panels are 96 of width 0.25 on [-12, 12], so the outermost are [-12, -11.75] and
[11.75, 12], and a breakpoint at |z| < 11.75 is kept.

The theory: for f = 1 + c 1{a < z < b}, E[f(z)] = 1 + c (Phi(b) - Phi(a)), with Phi the normal
distribution function (mpmath, 50 digits, on the negative side by symmetry, where Phi is small and
not 1 - tiny). A box 1e-3 wide lies between the nodes of the first panels (0.25 wide, 16 nodes)
and of their halves, so without breakpoints it is missed whole. Here c is chosen so that the box
holds 1e-4 of E[f]: missing it is an error of 1e-4, against the stated accuracy below.

The background 1 is what lets the box's own panel converge at all: the density there is
exp(-z^2 / 2) with z^2 / 2 ~ 68 rounded to an ulp, so f phi is known to ~1e-14 relative, and a
panel's share of the tolerance is rtol E[|f|] width / 24. With the box holding 1e-4 of E[|f|],
its panel (width 1e-3) may be off by 1e-12 x 1e-3 / 24 / 1e-4 = 4e-13 of its own value, above
that rounding.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch

from initconv._maths.quadrature import gaussian_expectation

_WIDTH = 1e-3
_SHARE = 1e-4


@pytest.mark.parametrize("start", [11.63, 11.7, -11.7, -11.74])
def test_a_narrow_piece_between_breakpoints_beside_the_outermost_panels_is_integrated(
    start: float,
) -> None:
    end = start + _WIDTH
    with mpmath.workdps(50):
        # P(a < z < b) = P(-b < z < -a): both ends on the small side of Phi.
        lo, hi = (-end, -start) if start > 0 else (start, end)
        mass = mpmath.ncdf(mpmath.mpf(hi)) - mpmath.ncdf(mpmath.mpf(lo))
        height = float(_SHARE / mass)
        density = float(mpmath.npdf(mpmath.mpf(min(abs(start), abs(end)))))
        expected = float(1 + height * mass)

    def box_on_one(z: torch.Tensor) -> torch.Tensor:
        return 1.0 + height * ((z > start) & (z < end)).to(torch.float64)

    found = gaussian_expectation(
        box_on_one, breakpoints=torch.tensor([start, end], dtype=torch.float64)
    )
    # The stated accuracy: 1e-12 of E[|f|] (= E[f], f > 0), plus about 1e-12 times each jump of
    # f phi, here height x density at the box's ends (at most that at its inner end), for two
    # jumps; height x density is about _SHARE / _WIDTH = 0.1, so in all about 1.2e-12, where a
    # missed box is off by 1e-4.
    allowed = 1e-12 * expected + 2 * 1e-12 * height * density
    assert abs(found - expected) <= allowed
