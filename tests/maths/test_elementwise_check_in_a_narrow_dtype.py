"""An activation rounded to a narrow dtype is still held to being elementwise: a change between
positions larger than the dtype's own rounding is refused.

docs/guarantees.md: the same values in another order or shape must give the same outputs, up to
a few ulps (a vectorised loop and its scalar tail round differently). A function computed in
bfloat16 or float16 and rounded op by op differs between the two by at most an ulp of its dtype
at each op's output; the check allows 2 eps of the output or of the outputs' size. An offset of
16 eps of the outputs' size at odd positions is no rounding, and was once let through (a
tolerance of 16 of the narrow dtype's eps: 12% in bfloat16).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import initconv

_DTYPES = [torch.bfloat16, torch.float16]
# silu's largest output on the probe's [-8, 8]: its size, which the tolerance is relative to.
_SIZE = 8.0


@pytest.mark.parametrize("dtype", _DTYPES, ids=str)
def test_a_position_dependent_offset_in_a_narrow_dtype_is_refused(dtype: torch.dtype) -> None:
    offset = 16 * torch.finfo(dtype).eps * _SIZE  # 8 times the allowance at the outputs' size

    def phi(x: Tensor) -> Tensor:
        odd = (torch.arange(x.numel()) % 2).reshape(x.shape).to(dtype)
        return (F.silu(x.to(dtype)) + offset * odd).to(x.dtype)

    with pytest.raises(ValueError, match="is not elementwise"):
        initconv.gain(phi)


@pytest.mark.parametrize("dtype", _DTYPES, ids=str)
@pytest.mark.parametrize(
    "formula",
    [
        F.silu,
        F.gelu,
        F.mish,
        F.hardswish,
        lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        lambda x: x * torch.sigmoid(1.702 * x),
    ],
    ids=["silu", "gelu", "mish", "hardswish", "gelu-tanh-formula", "quick-gelu"],
)
def test_elementwise_activations_computed_in_a_narrow_dtype_keep_their_gain(
    dtype: torch.dtype, formula: object
) -> None:
    def phi(x: Tensor) -> Tensor:
        return formula(x.to(dtype)).to(x.dtype)  # type: ignore[operator]

    def exact(x: Tensor) -> Tensor:
        return formula(x).to(x.dtype)  # type: ignore[operator]

    # The gain of the rounded function is the float64 one's to the dtype's rounding: E[phi^2]
    # moves by at most 2 eps relative where each value moves by eps, the gain by half that.
    assert initconv.gain(phi) == pytest.approx(initconv.gain(exact), rel=2 * torch.finfo(dtype).eps)
