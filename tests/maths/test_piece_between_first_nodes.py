"""A piece of f that the first panels' nodes all miss but their halves see is integrated like any
other piece; ``gaussian_expectation`` raises only the errors it documents.

The promise is ``gaussian_expectation``'s docstring (``initconv/_maths/quadrature.py``): E[f(z)]
within ``max(tol, rtol * E|f(z)|)`` plus about 1e-12 times each jump, and it raises
:class:`QuadratureError` (a ValueError) only when f is not finite at a node, when the integrand
does not decay by |z| = 12, or when the budget runs out; "a piece of f narrower than the first
panels' node spacing may be missed whole".

The piece is the indicator of (0.115, 0.135): 0.02 wide, inside the widest gap (0.1123, 0.1377)
between the 16 Lobatto nodes of the first panel [0, 0.25], so f is 0 at every node of the first
panels (its size there is 0), while the halves [0, 0.125] and [0.125, 0.25] have nodes in it. Its
expectation is Phi(0.135) - Phi(0.115), from mpmath; being narrower than the node spacing, it may
also be missed whole (an answer of 0), but no other answer and no error is allowed.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv._maths.quadrature import gauss_lobatto, gaussian_expectation

A, B = 0.115, 0.135


def _piece(z: Tensor) -> Tensor:
    return ((z > A) & (z < B)).to(z.dtype)


def test_the_piece_lies_between_the_first_panels_nodes_and_not_between_their_halves() -> None:
    # The setting, from the Lobatto rule's nodes on [-1, 1] mapped to the panels (the first panels
    # are 0.25 wide from -12; their halves split each at its middle).
    nodes, _ = gauss_lobatto(16)
    first = 0.125 + 0.125 * nodes
    halves = torch.cat([0.0625 + 0.0625 * nodes, 0.1875 + 0.0625 * nodes])
    assert not bool(((first > A) & (first < B)).any())
    assert bool(((halves > A) & (halves < B)).any())


# At 1e-14 the jumps' panels are halved down to 1e-12 wide and still disagree: a bounded jump
# there must not be mistaken for a singularity, as it was while the size was the first panels' 0.
@pytest.mark.parametrize("rtol", [1e-12, 1e-13, 1e-14])
def test_a_piece_the_first_panels_miss_is_integrated_without_an_undocumented_error(
    rtol: float,
) -> None:
    value = gaussian_expectation(_piece, rtol=rtol)
    exact = float(mpmath.ncdf(B) - mpmath.ncdf(A))
    # Each jump may leave what a panel 1e-12 wide holds of it: 1e-12 times the jump (1) times
    # the density there; plus the relative tolerance of E|f| = E f.
    density = (math.exp(-(A**2) / 2) + math.exp(-(B**2) / 2)) / math.sqrt(2 * math.pi)
    allowed = rtol * exact + 1e-12 * density
    assert value == 0.0 or abs(value - exact) <= allowed
