"""A tensor made from a layer's output's shape (``y.new_zeros(y.shape)``,
``torch.empty_like(y)``) holds none of y's values and is no number read from its shape.

docs/convert.md, the rule: uses that read only the shape, dtype or device are not consumers; a
number read from a shape (``y.shape[-1]``, ``y.numel()``) is a constant of unknown value, but a
tensor shaped like y (``y.new_zeros(...)``, ``zeros_like(y)``) is not such a number (roles.py,
``reads_size``). So adding a zero tensor made either way after the activation leaves the layer's
activation what it is: for ``tanh(y) + y.new_zeros(y.shape)`` and
``tanh(y) + torch.empty_like(y).zero_()`` the layer feeds tanh, whose built-in gain is 5/3
(torch's ``calculate_gain("tanh")``, the gain the rule gives a bare built-in tanh), with no
fallback warning. Both are exact: the added tensor is zero, so the layer's output is tanh(y).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from _support import Between, convert_warned
from torch import Tensor

TANH_GAIN = 5.0 / 3.0  # torch.nn.init.calculate_gain("tanh")
MODES = ["traced", "run"]

ZERO_TENSORS: dict[str, Callable[[Tensor], Tensor]] = {
    "new_zeros": lambda h: h.new_zeros(h.shape),
    "empty_like_zeroed": lambda h: torch.empty_like(h).zero_(),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("zeros", list(ZERO_TENSORS.values()), ids=list(ZERO_TENSORS))
def test_a_zero_tensor_shaped_like_the_output_added_after_tanh_leaves_tanh(
    zeros: Callable[[Tensor], Tensor], mode: str
) -> None:
    report, warned = convert_warned(Between(lambda h: torch.tanh(h) + zeros(h)), mode)
    row = report["fc"]
    assert warned == []
    assert row.activation == "tanh"
    assert row.gain == pytest.approx(TANH_GAIN, rel=1e-15)  # an exact constant: a few ulps
