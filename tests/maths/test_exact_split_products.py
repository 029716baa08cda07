"""The error-free splitting under :func:`reproducible_matmul`: integer pieces, exact partial sums.

The promise (``reproducible_matmul``'s docstring, after Ozaki, Ogita, Oishi & Rump (2012),
"Error-free transformations of matrix multiplication by using fast routines of matrix
multiplication and its applications"): each row of ``a`` and column of ``b`` is cut, on a
power-of-two scale, into integer pieces of at most ``bits`` bits, so that every partial sum of
their products is an integer below 2^53, exact in float64 in any order. Two consequences follow
from that alone, whatever the code does inside:

- the pieces are integers of magnitude at most 2^bits, and ``scale * sum_p piece_p 2^(-(p+1) bits)``
  recovers x to within ``scale 2^(-pieces bits - 1)`` (rounding to the nearest integer at each step
  leaves at most half a unit of the last piece's weight), exactly computed with fractions;
- permuting the inner dimension of ``a @ b`` (the columns of ``a`` and the rows of ``b`` alike)
  leaves every row's and column's largest entry, hence every scale and every piece, the same up to
  that permutation, and only reorders exact integer sums: the product must come out bit for bit the
  same. A product whose partial sums round would, for random data, change in its last bits.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

import initconv
from initconv._maths.orthogonality import (
    FLOAT32_PRECISION,
    FLOAT64_PRECISION,
    _Plan,
    _Split,
    reproducible_matmul,
)


def _generator(seed: int) -> torch.Generator:
    return initconv.seeded_generator(seed)


def _data(rows: int, inner: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.randn(rows, inner, generator=_generator(seed), dtype=torch.float64)
    b = torch.randn(inner, cols, generator=_generator(seed + 1), dtype=torch.float64)
    # Rows and columns on their own scales, one spanning many binades within itself.
    a[0] *= 1e-7
    a[1, ::2] *= 1e6
    b[:, 0] *= 3e8
    return a, b


@pytest.mark.parametrize("precision", [FLOAT64_PRECISION, FLOAT32_PRECISION])
@pytest.mark.parametrize("by_row", [True, False])
def test_split_pieces_are_bounded_integers_that_add_back_to_the_matrix(
    by_row: bool, precision: int
) -> None:
    a, _ = _data(6, 40, 1, seed=3)
    plan = _Plan.of(40, precision)
    split = _Split.of(a, plan, by_row=by_row)
    pieces = split.pieces
    assert torch.equal(pieces, torch.round(pieces))
    assert float(pieces.abs().max()) <= 2.0**plan.bits
    # Exact reconstruction check, in rationals.
    scales = split.scale.expand_as(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            scale = Fraction(float(scales[i, j]))
            rebuilt = scale * sum(
                Fraction(float(pieces[p, i, j])) / 2 ** ((p + 1) * plan.bits)
                for p in range(plan.pieces)
            )
            left_out = abs(rebuilt - Fraction(float(a[i, j])))
            assert left_out <= scale / 2 ** (plan.pieces * plan.bits + 1), (i, j)


# Small products (a few thousand multiplications) and ones large enough for a BLAS call.
@pytest.mark.parametrize(("rows", "inner", "cols"), [(8, 50, 6), (24, 300, 20)])
@pytest.mark.parametrize("precision", [FLOAT64_PRECISION, FLOAT32_PRECISION])
def test_the_product_has_the_same_bits_in_any_order_of_the_inner_sum(
    rows: int, inner: int, cols: int, precision: int
) -> None:
    a, b = _data(rows, inner, cols, seed=11)
    expected = reproducible_matmul(a, b, precision=precision)
    reverse = torch.arange(inner - 1, -1, -1)
    shuffle = torch.randperm(inner, generator=_generator(13))
    for order in (reverse, shuffle):
        got = reproducible_matmul(a[:, order], b[order], precision=precision)
        assert torch.equal(got, expected)
