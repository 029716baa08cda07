"""Model tools change all or nothing: a failed lsuv_ or convert(reinit=True) leaves every layer and
value as it was, and lsuv_ leaves a layer its batch never reaches alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest
import torch
from _support import snapshot, unchanged
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

import initconv


class _Fails(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("the model fails after the convolutions")


@pytest.mark.parametrize("make", [nn.Conv2d, initconv.KaimingNormalConv2d])
def test_a_failed_lsuv_restores_a_conv_with_weight_norm(make: Callable[..., nn.Module]) -> None:
    torch.manual_seed(0)
    body = nn.Sequential(make(3, 8, 3), nn.ReLU(), make(8, 8, 3))
    parametrizations.weight_norm(body[0])
    classes = [type(module) for module in body]
    before = snapshot(body)
    with pytest.raises(RuntimeError, match="the model fails after the convolutions"):
        initconv.lsuv_(nn.Sequential(body, _Fails()), torch.randn(2, 3, 8, 8))
    assert [type(module) for module in body] == classes
    assert unchanged(body, before)


class _RefusesTheRealStore(nn.Module):
    """Accepts the rehearsal on a copy, refuses the store into the layer itself."""

    real: ClassVar[set[int]] = set()

    def forward(self, x: Tensor) -> Tensor:
        return x

    def right_inverse(self, x: Tensor) -> Tensor:
        if id(self) in _RefusesTheRealStore.real:
            raise RuntimeError("right_inverse refuses the real store")
        return x


def test_convert_with_reinit_changes_nothing_when_a_store_fails_after_the_swaps() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())
    refusing = _RefusesTheRealStore()
    parametrize.register_parametrization(model[2], "weight", refusing)
    _RefusesTheRealStore.real = {id(refusing)}
    classes, before = [type(module) for module in model], snapshot(model)
    with pytest.raises(RuntimeError, match="right_inverse refuses the real store"):
        initconv.convert(model, "kaiming_normal", reinit=True)
    assert [type(module) for module in model] == classes
    assert unchanged(model, before)


def test_lsuv_leaves_a_plain_conv_the_batch_never_reaches_as_it_was() -> None:
    class Detour(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)

        def forward(self, x: Tensor) -> Tensor:
            return self.used(x)

    model = Detour()
    before = snapshot(model)
    with pytest.warns(UserWarning, match="the batch never reached unused"):
        initconv.lsuv_(model, torch.randn(2, 3, 8, 8))
    assert type(model.unused) is nn.Conv2d
    assert torch.equal(model.unused.weight, before["unused.weight"])
