"""The critical scheme checks its options at every reset, naming what is wrong."""

from __future__ import annotations

import pytest
from _support import snapshot, unchanged
from torch import nn

import initconv


def test_critical_refuses_a_bias_std_beyond_its_search_with_the_reason() -> None:
    # sigma_b^2 <= q*, and q* is sought up to 2^12: a bias std of 64 or more has no point.
    with pytest.raises(ValueError, match=r"bias_std=1e\+308.*must be below 64"):
        initconv.critical("tanh", bias_std=1e308)


@pytest.mark.parametrize("layer", [initconv.CriticalLinear(4, 4), initconv.CriticalConv2d(4, 4, 3)])
def test_a_critical_layer_whose_base_turns_bad_refuses_it_by_name_at_reset(
    layer: nn.Module,
) -> None:
    before = snapshot(layer)
    layer.base = float("nan")
    with pytest.raises(ValueError, match=r"base must be one of \('delta_orthogonal'"):
        layer.reset_parameters()
    assert unchanged(layer, before)
