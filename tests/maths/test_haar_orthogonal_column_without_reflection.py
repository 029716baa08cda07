"""A drawn column that is zero from the diagonal down reflects nothing, and the weight's columns
stay orthonormal.

The promise is ``haar_orthogonal``'s (initconv/_maths/orthogonality.py): a matrix "with
orthonormal rows (rows <= cols) or columns (otherwise)", built as Householder QR of the draw,
where "a zero column (probability 0) reflects nothing: H_j = I". Such a draw has probability 0
under the normal, so the test gives the function one by replacing the normal draw it makes.

The theory, by hand: the draw A = [[1, 5], [2, 0], [2, 0]] has x_0 = (1, 2, 2), ||x_0|| = 3, so
v_0 = (4, 2, 2), v_0^T v_0 = 24 and H_0 = I - v_0 v_0^T / 12. Its second column below the
diagonal, (0, 0), is zero: H_1 = I, and Q = H_0 I_(3x2) diag(-1, 1), that is
q_0 = -H_0 e_0 = (1, 2, 2) / 3 (the first column of A over its norm: R_00 = 3 > 0) and
q_1 = H_0 e_1 = (-2, 2, -1) / 3, a unit vector orthogonal to q_0. Both are thirds: the weight is
exact up to the rounding of 1/3 (and of the few operations on it), far below 1e-15.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from initconv._maths.orthogonality import haar_orthogonal

_DRAW = [[1.0, 5.0], [2.0, 0.0], [2.0, 0.0]]
_EXPECTED = [[1.0, -2.0], [2.0, 2.0], [2.0, -1.0]]  # times 1/3


def test_a_column_zero_below_the_diagonal_gives_orthonormal_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fixed_draw(self: Tensor, *args: object, **kwargs: object) -> Tensor:
        return self.copy_(torch.tensor(_DRAW, dtype=self.dtype))

    monkeypatch.setattr(Tensor, "normal_", fixed_draw)
    q = haar_orthogonal(3, 2, torch.device("cpu"), None)
    monkeypatch.undo()
    expected = torch.tensor(_EXPECTED, dtype=torch.float64) / 3
    # Entries of size <= 1, each off by a few roundings of eps = 2.2e-16 (the 1/12 of U^-1 and
    # the products, kept to 53 bits): 8 eps = 1.8e-15 bounds them. A column scaled by anything
    # but +-1 is off by at least its own size, 1/3.
    assert torch.allclose(q, expected, rtol=0.0, atol=8 * torch.finfo(torch.float64).eps)
    gram = q.t() @ q
    assert torch.allclose(gram, torch.eye(2, dtype=torch.float64), rtol=0.0, atol=1e-15)
