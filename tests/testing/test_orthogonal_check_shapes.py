"""assert_orthogonal takes any weight of two or more dimensions, grouped along its output dim 0.

Theory: a weight (C_out, C_in / G, *kernel) splits into G blocks of C_out / G rows along dim 0, and
each flattened block W of an orthogonal scheme satisfies W W^T = g^2 I (rows <= columns) or
W^T W = g^2 I (Saxe et al., 2013); a Linear weight is the 2-D case with no kernel. So groups must
divide dim 0 (the number of rows), whatever dim 1 is. The blocks here come from QR (torch's
orthogonal_), orthogonal to float32 rounding, far inside the check's 1e-5 g^2.
"""

from __future__ import annotations

import pytest
import torch

from initconv.testing import assert_orthogonal


def orthogonal(rows: int, columns: int, gain: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.init.orthogonal_(torch.empty(rows, columns), gain, generator=generator)


@pytest.mark.parametrize(("rows", "columns"), [(16, 32), (32, 16), (8, 8)])
def test_a_two_dimensional_orthogonal_weight_passes(rows: int, columns: int) -> None:
    assert_orthogonal(orthogonal(rows, columns, 1.5, seed=rows), 1.5)
    with pytest.raises(AssertionError, match="is not orthogonal"):
        assert_orthogonal(orthogonal(rows, columns, 1.5, seed=rows) * 1.001, 1.5)


def test_one_dimensional_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        assert_orthogonal(torch.ones(4), 1.0)


def test_groups_split_the_output_rows_whatever_the_input_width() -> None:
    # Two groups of 2 rows over 3 columns: dim 0 (4) is divisible by 2, dim 1 (3) is not.
    blocks = [orthogonal(2, 3, 1.0, seed=s) for s in (1, 2)]
    weight = torch.cat(blocks).reshape(4, 3, 1, 1)
    assert_orthogonal(weight, 1.0, groups=2)
    # Three output rows cannot split into two groups, even though dim 1 (4) could.
    with pytest.raises(ValueError, match=r"groups must divide weight.shape\[0\] = 3"):
        assert_orthogonal(orthogonal(3, 4, 1.0, seed=3).reshape(3, 4, 1), 1.0, groups=2)
