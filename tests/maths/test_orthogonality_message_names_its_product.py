"""The orthogonality check's message names the product it measured, and its number is that
product's error.

:func:`initconv.testing.assert_orthogonal` documents the condition per block: ``W W^T = g^2 I``
for ``r <= c`` and ``W^T W = g^2 I`` for ``r > c``; a square block is held to ``W W^T``. Its
message reports ``max |P - g^2 I| = x`` for a named product ``P``. For a square block that is not
orthogonal the two products differ (``W = [[2, 0], [2, 0]]``: ``W W^T = [[4, 4], [4, 4]]``, error
4; ``W^T W = [[8, 0], [0, 0]]``, error 7), so the message must name ``W W^T`` and give 4: naming
one product and quoting the other's error would misreport the failure. The reference errors are
computed here, exactly, from the small integer matrices.
"""

from __future__ import annotations

import re

import pytest
import torch

from initconv.testing import assert_orthogonal

_REPORT = re.compile(r"max \|(W W\^T|W\^T W) - g\^2 I\| = (\S+) >")


def _error(product: torch.Tensor) -> float:
    return float((product - torch.eye(product.shape[0], dtype=torch.float64)).abs().max())


@pytest.mark.parametrize(
    "rows",
    [
        [[2.0, 0.0], [2.0, 0.0]],  # square: W W^T error 4, W^T W error 7
        [[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]],  # wide, r < c: W W^T
        [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0]],  # tall, r > c: W^T W
    ],
)
def test_the_message_names_the_documented_product_and_quotes_its_error(
    rows: list[list[float]],
) -> None:
    w = torch.tensor(rows, dtype=torch.float64)
    r, c = w.shape
    expected_name = "W W^T" if r <= c else "W^T W"
    expected = _error(w @ w.t() if r <= c else w.t() @ w)
    with pytest.raises(AssertionError) as caught:
        assert_orthogonal(w, 1.0)
    found = _REPORT.search(str(caught.value))
    assert found is not None, str(caught.value)
    assert found.group(1) == expected_name
    # The message gives 3 significant digits of an integer-valued error below 1000: exact.
    assert float(found.group(2)) == expected
