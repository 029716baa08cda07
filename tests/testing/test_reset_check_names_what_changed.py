"""check_scheme's reset check fails a layer whose reset_parameters() changes the parameter, and says how.

Promise (check_scheme's docstring): reset_parameters() must keep the parameter's dtype, device,
shape and requires_grad. A layer whose reset flips requires_grad keeps everything else, so the
message must show the four properties before and after, side by side, differing only in the
last: the same tuple shape on both sides (a storage address is not one of the four, and would make
the two sides incomparable).
"""

from __future__ import annotations

import re

import pytest
from torch import nn

import initconv
from initconv.testing import check_scheme

NormalLinear = initconv.layer_class(initconv.Normal, nn.Linear)


class FlipsRequiresGrad(NormalLinear):  # type: ignore[misc, valid-type]
    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.weight.requires_grad_(not self.weight.requires_grad)


def test_a_reset_that_flips_requires_grad_fails_showing_the_four_properties_each_side() -> None:
    shapes = [{"in_features": 8, "out_features": 4, "bias": False}]
    with pytest.raises(AssertionError, match=r"reset_parameters\(\) changed") as raised:
        check_scheme(FlipsRequiresGrad, shapes=shapes, detectable=0.5)
    state = r"\(torch\.float32, device\(type='cpu'\), torch\.Size\(\[4, 8\]\), {}\)"
    expected = f"from {state.format('False')} to {state.format('True')}$"
    assert re.search(expected, str(raised.value)), str(raised.value)
