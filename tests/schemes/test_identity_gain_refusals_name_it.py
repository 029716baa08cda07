"""A refused identity_gain is named as identity_gain, whether refused as it is set or at reset.

The identity scheme's ``identity_gain`` and ``gain`` are one setting (its docstring); a refusal
names the parameter the user gave (the project's rule for bad input), and leaves the weights as
they were. A value a float32 layer cannot hold (1e308) passes the setter's check (finite, >= 0)
and is refused at reset, once under the name ``gain``.
"""

from __future__ import annotations

import pytest
import torch

import initconv


@pytest.mark.parametrize("value", [1e308, 1e39])
def test_an_identity_gain_a_float32_layer_cannot_hold_is_refused_by_its_name(value: float) -> None:
    layer = initconv.IdentityConv2d(4, 4, 3, padding=1)
    before = layer.weight.detach().clone()
    layer.identity_gain = value
    with pytest.raises(ValueError, match=r"^identity_gain must be at most"):
        layer.reset_parameters()
    assert torch.equal(layer.weight, before)


def test_a_gain_given_as_gain_is_refused_as_gain() -> None:
    layer = initconv.IdentityConv2d(4, 4, 3, padding=1, gain=2.0)
    layer.gain = 1e308
    with pytest.raises(ValueError, match=r"^gain must be at most"):
        layer.reset_parameters()


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_an_identity_gain_out_of_range_is_refused_as_it_is_set(value: float) -> None:
    layer = initconv.IdentityConv2d(4, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r"^identity_gain must be finite and >= 0"):
        layer.identity_gain = value
    assert layer.identity_gain is None
