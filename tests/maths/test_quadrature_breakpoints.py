"""gaussian_expectation integrates a piece of f narrower than its nodes exactly once told where it
is: breakpoints become edges of the first panels.

E[1{a < z < b}] = Phi(b) - Phi(a) (the normal's distribution function, here by math.erf): a box
of width 1e-3 lies between two nodes of the first panels (0.25 wide, 16 nodes) and is missed whole
without breakpoints; with its ends as breakpoints it is a panel of its own.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from initconv._maths.quadrature import gaussian_expectation


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@settings(max_examples=20, deadline=None)
@given(start=st.floats(-3.0, 3.0), width=st.floats(1e-6, 1e-2))
def test_a_narrow_box_between_breakpoints_is_integrated_exactly(start: float, width: float) -> None:
    end = start + width

    def box(z: torch.Tensor) -> torch.Tensor:
        return ((z > start) & (z < end)).to(torch.float64)

    found = gaussian_expectation(box, breakpoints=torch.tensor([start, end], dtype=torch.float64))
    reference = _normal_cdf(end) - _normal_cdf(start)
    # The stated accuracy: 1e-12 relative, plus about 1e-12 times each jump (a jump on a panel
    # edge is sampled there by both panels, and halving leaves 1e-12 of it): 2e-12 for the box's
    # two. Missing the box would be off by its whole mass, at least 1e-6 * density(3) = 4e-9.
    assert found == pytest.approx(reference, rel=1e-12, abs=2e-12)


def test_breakpoints_in_the_outermost_panels_are_dropped_and_the_tail_still_checked() -> None:
    # f = exp(z^2 / 4) does not decay by |z| = 12 against the density: refused, breakpoints or not.
    def growing(z: torch.Tensor) -> torch.Tensor:
        return torch.exp(z * z / 2)

    points = torch.tensor([-11.9, 11.9], dtype=torch.float64)
    with pytest.raises(Exception, match="does not decay"):
        gaussian_expectation(growing, breakpoints=points)
