"""Breakpoints given in the outermost panels, or beyond them, leave the tail's measure alone: an
integrand that does not decay by |z| = 12 is refused with the same stated share as without them.

The promise is ``gaussian_expectation``'s docstring (initconv/_maths/quadrature.py): breakpoints
are added to the first panels' edges, but "those in the outermost panels, |z| > 11.75, are
dropped: those panels measure the tail"; it "raises QuadratureError ... when the integrand does
not decay by |z| = 12 (the expectation may be infinite)". The first panels are 96 of width 0.25 on
[-12, 12], so the outermost are [-12, -11.75] and [11.75, 12], and whatever breakpoints a caller
passes, those two panels stay whole. A breakpoint within 1e-13 of 12 that split an outermost
panel would leave a sliver holding about 1e-13 / 24 of E[|f|], below the tolerance 1e-12: a
non-decaying tail, and an infinite expectation, would then be returned as a finite number.

The case solved by hand: f(z) = exp(z^2 / 2) makes f phi = 1 / sqrt(2 pi) constant, so E[f] is
infinite and the outermost panels hold 2 x 0.25 / 24 = 1/48 of the integral of |f| phi over
[-12, 12]; the refusal prints that share to three significant digits ("2.08%").
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import Tensor

from initconv._maths.quadrature import QuadratureError, gaussian_expectation

_OUTERMOST_SHARE = 2 * 0.25 / 24


def _flat(z: Tensor) -> Tensor:
    return torch.exp(z * z / 2)


@pytest.mark.parametrize(
    "points",
    [
        [11.8, -11.9],
        [11.99, -11.76],
        [12.0 - 1e-13, -(12.0 - 1e-13)],
        [12.1, -12.2],
        [11.9, 12.0 - 1e-13, 12.1, -11.76, -(12.0 - 1e-9)],
    ],
    ids=["inside", "near_the_inner_edges", "within_1e-13_of_12", "beyond_12", "several"],
)
def test_breakpoints_in_the_outermost_panels_leave_the_tail_refusal_unchanged(
    points: list[float],
) -> None:
    with pytest.raises(QuadratureError, match="does not decay") as refused:
        gaussian_expectation(_flat, breakpoints=torch.tensor(points, dtype=torch.float64))
    found = re.search(r"the outermost panels hold (\S+)% of E\[\|f\|\]", str(refused.value))
    assert found is not None, str(refused.value)
    stated = float(found.group(1)) / 100
    # Three significant digits of the percentage: half a unit of the third.
    digit = 10.0 ** (math.floor(math.log10(_OUTERMOST_SHARE)) - 2)
    assert abs(stated - _OUTERMOST_SHARE) <= 0.5 * digit, (stated, str(refused.value))
