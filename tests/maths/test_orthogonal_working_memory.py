"""Orthogonal init's working memory grows as the matrix, not as a product's multiplications.

The promise (``_integer_product``'s docstring: *small* products are a broadcast and a sum, the
rest go to the BLAS; ``reproducible_matmul``'s: the operands are cut into ``s`` integer pieces).
A product ``a @ b`` of an ``m x k`` and a ``k x n`` matrix done as a broadcast and a sum holds all
``m k n`` multiplications at once; through the BLAS it holds only its ``m x n`` result. Every other
tensor of ``reproducible_matmul`` and ``haar_orthogonal`` is the matrix, a slice of it, its
``s``-piece split (``s`` copies, the plan of the docstring's rule), a triangular ``n x n`` factor or
a product's result. So the largest tensor either function ever holds is at most

    max(s * (largest operand), m * n, the small-product buffer),

the buffer being the fixed cap on the multiplications a product may broadcast
(``_SMALL_PRODUCT``, 256 KiB of float64). A broadcast of a large product breaks this by a factor
of the inner size: for a 512-channel 3 x 3 orthogonal conv it is a 2.1 GiB temporary (against
36 MiB for the split), for a 4096 x 4096 linear weight 128 GiB, an out-of-memory failure where the
construction needs 0.25 GiB. The shapes below are chosen so such a broadcast would exceed the bound
4-fold at least; every tensor a torch function or tensor method returns is measured, a view by its
whole storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

import initconv
from initconv._maths.orthogonality import (
    _SMALL_PRODUCT,
    FLOAT32_PRECISION,
    FLOAT64_PRECISION,
    _Plan,
    reproducible_matmul,
)
from initconv.testing import assert_orthogonal


class _LargestTensor(TorchFunctionMode):
    """Records the most entries of any storage a torch function or tensor method returns."""

    def __init__(self) -> None:
        super().__init__()
        self.entries = 0

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in out if isinstance(out, tuple) else (out,):
            if isinstance(leaf, torch.Tensor):
                size = leaf.untyped_storage().nbytes() // leaf.element_size()
                self.entries = max(self.entries, size)
        return out


def _largest(run: Callable[[], object]) -> int:
    mode = _LargestTensor()
    with mode:
        run()
    return mode.entries


# (m, k, n): a broadcast of m k n = 1.5e6 and 1.2e6 multiplications against a bound of 5.8e4 and
# 3.3e4; a wide inner size and a narrow one.
@pytest.mark.parametrize(("m", "k", "n"), [(96, 200, 80), (200, 40, 150)])
@pytest.mark.parametrize("precision", [FLOAT64_PRECISION, FLOAT32_PRECISION])
def test_reproducible_matmul_holds_nothing_larger_than_its_split_operands(
    m: int, k: int, n: int, precision: int
) -> None:
    generator = initconv.seeded_generator(1)
    a = torch.randn(m, k, generator=generator, dtype=torch.float64)
    b = torch.randn(k, n, generator=generator, dtype=torch.float64)
    pieces = _Plan.of(k, precision).pieces
    bound = max(pieces * max(m * k, k * n), m * n, _SMALL_PRODUCT)
    largest = _largest(lambda: reproducible_matmul(a, b, precision=precision))
    assert largest <= bound


# A conv weight (32, 16, 3, 3): blocks of 32 x 144, whose Gram and triangular products have
# 32 * 144 * 32 = 147,456 multiplications, 4.5 times the small-product buffer and 10 times the
# float64 split of the 144 x 32 tall orientation.
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_orthogonal_init_holds_nothing_larger_than_the_split_matrix(dtype: torch.dtype) -> None:
    weight = torch.empty(32, 16, 3, 3, dtype=dtype)
    rows, cols = 32, 16 * 3 * 3
    precision = FLOAT64_PRECISION if dtype == torch.float64 else FLOAT32_PRECISION
    # Every product of the construction has an inner size of at most max(rows, cols).
    pieces = _Plan.of(max(rows, cols), precision).pieces
    bound = max(pieces * rows * cols, _SMALL_PRODUCT)
    largest = _largest(lambda: initconv.orthogonal_(weight, generator=initconv.seeded_generator(2)))
    assert largest <= bound
    # And the weight it filled is the orthogonal one the scheme promises.
    assert_orthogonal(weight, 1.0)
