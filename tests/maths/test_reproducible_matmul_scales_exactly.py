""":func:`reproducible_matmul` commutes exactly with power-of-two scalings of a row or a column.

The promise (its docstring): each row of ``a`` and each column of ``b`` is cut into integer pieces
on its own power-of-two scale, and what is left out is bounded relative to that row's (column's)
largest entry. Multiplying a row by ``2^e`` changes its scale by ``2^e`` and nothing else: the same
integer pieces, the same exact sums, so the product's row is the old one times ``2^e``, bit for
bit, as long as nothing reaches the subnormal or overflow range. A split that kept a fixed scale
for some rows (small ones, say) would cut them into pieces that carry fewer of their bits, and the
scaled product would differ from the scaled original in its low bits.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import initconv
from initconv._maths.orthogonality import FLOAT32_PRECISION, FLOAT64_PRECISION, reproducible_matmul


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.randn(3, 20, generator=initconv.seeded_generator(seed), dtype=torch.float64)
    b = torch.randn(20, 4, generator=initconv.seeded_generator(seed + 1), dtype=torch.float64)
    return a, b


@settings(max_examples=30, deadline=None)
@given(
    exponent=st.integers(-300, 300),
    row=st.integers(0, 2),
    precision=st.sampled_from([FLOAT64_PRECISION, FLOAT32_PRECISION]),
    seed=st.integers(0, 2**16),
)
def test_scaling_a_row_by_a_power_of_two_scales_its_product_row_exactly(
    exponent: int, row: int, precision: int, seed: int
) -> None:
    a, b = _data(seed)
    scaled = a.clone()
    scaled[row] *= 2.0**exponent
    before = reproducible_matmul(a, b, precision=precision)
    after = reproducible_matmul(scaled, b, precision=precision)
    expected = before.clone()
    expected[row] *= 2.0**exponent
    assert torch.equal(after, expected), (exponent, row)


@settings(max_examples=30, deadline=None)
@given(
    exponent=st.integers(-300, 300),
    col=st.integers(0, 3),
    precision=st.sampled_from([FLOAT64_PRECISION, FLOAT32_PRECISION]),
    seed=st.integers(0, 2**16),
)
def test_scaling_a_column_by_a_power_of_two_scales_its_product_column_exactly(
    exponent: int, col: int, precision: int, seed: int
) -> None:
    a, b = _data(seed)
    scaled = b.clone()
    scaled[:, col] *= 2.0**exponent
    before = reproducible_matmul(a, b, precision=precision)
    after = reproducible_matmul(a, scaled, precision=precision)
    expected = before.clone()
    expected[:, col] *= 2.0**exponent
    assert torch.equal(after, expected), (exponent, col)
