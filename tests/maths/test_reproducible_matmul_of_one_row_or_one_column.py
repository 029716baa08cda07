"""``reproducible_matmul(a, b)`` is ``a @ b`` for every shape, a single row of ``a`` or a single
column of ``b`` included (a matrix-vector product, an inner or outer product).

The promise is ``reproducible_matmul``'s docstring (initconv/_maths/orthogonality.py): "``a @ b``
for float64 matrices, to ``precision`` bits". For integer matrices of magnitude below 2^10 and
inner size at most 40, every entry of ``a @ b`` is an integer below 2^26, computed exactly by
int64 arithmetic; the splitting keeps at least ``precision + 3`` bits of every entry of a row of
``a`` and a column of ``b`` (at ``precision`` 24, 27 bits), so entries of 10 bits are carried
whole and the products of their pieces are exact: the result is the integer product, bit for
bit, at both precisions. Only an empty product (no rows, no columns or no inner terms) is all
zeros.
"""

from __future__ import annotations

import pytest
import torch

import initconv
from initconv._maths.orthogonality import (
    FLOAT32_PRECISION,
    FLOAT64_PRECISION,
    reproducible_matmul,
)

# (rows of a, inner size, columns of b): one row, one column, both, and an outer product.
_SHAPES = [(1, 40, 7), (6, 40, 1), (1, 40, 1), (5, 1, 6), (1, 1, 1)]


@pytest.mark.parametrize("precision", [FLOAT64_PRECISION, FLOAT32_PRECISION])
@pytest.mark.parametrize(("rows", "inner", "cols"), _SHAPES)
def test_a_product_with_one_row_or_one_column_is_the_exact_integer_product(
    rows: int, inner: int, cols: int, precision: int
) -> None:
    generator = initconv.seeded_generator(rows * 10_000 + inner * 100 + cols)
    a = torch.randint(-1000, 1000, (rows, inner), generator=generator).double()
    b = torch.randint(-1000, 1000, (inner, cols), generator=generator).double()
    # No row of a and no column of b may be all zero, or the product could be 0 by accident.
    a[:, 0] = 1000.0
    b[0, :] = -999.0
    expected = (a.long() @ b.long()).double()
    assert torch.equal(reproducible_matmul(a, b, precision=precision), expected)
    assert bool((expected != 0).all())
