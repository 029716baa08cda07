"""The orthogonality tolerance is relative to g^2 at every gain whose entries stay normal.

:func:`initconv.testing.assert_orthogonal` (and the structured schemes' invariants, through
``orthogonality_atol``) allow each entry of ``W W^T - g^2 I`` an error of
``g^2 max(1e-5, 2 eps)`` plus terms for subnormal entries: with s the subnormal spacing
(2^-149 in float32) times sqrt(length), ``2 g s + s^2``. The derivation (Cauchy-Schwarz on a row of
norm g whose entries are each off by at most their rounding) makes the extra terms matter only
where entries are subnormal. For a float32 weight of 64 columns and gain g >= 1e-30 the entries,
about g / 8, are normal (>= 2^-126 = 1.2e-38), and 2 g s + s^2 <= 2e-30 * 8 * 1.5e-45 + tiny is
below 1e-13 g^2: the tolerance is 1e-5 g^2 to within that. So a weight of rows 0.1% too long (its
Gram diagonal off by 2.001e-3 g^2, 200 times the tolerance) must be refused at every such gain,
and ``g Q`` rounded once to float32 (entries off by at most eps / 2 relative, the Gram matrix by
about eps g^2 = 1.2e-7 g^2) accepted.
"""

from __future__ import annotations

import pytest
import torch

from initconv.testing import assert_orthogonal

_ROWS, _COLS = 16, 64


def _orthonormal_rows() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    gaussian = torch.randn(_COLS, _ROWS, generator=generator, dtype=torch.float64)
    columns: torch.Tensor = torch.linalg.qr(gaussian).Q
    return columns.t()  # 16 x 64, orthonormal rows to float64 accuracy


@pytest.mark.parametrize("gain", [1.0, 1e-10, 1e-20, 1e-30])
def test_a_float32_weight_with_rows_too_long_is_refused_at_tiny_gains(gain: float) -> None:
    q = _orthonormal_rows()
    assert_orthogonal((gain * q).float(), gain)
    with pytest.raises(AssertionError, match="not orthogonal"):
        assert_orthogonal((gain * 1.001 * q).float(), gain)
