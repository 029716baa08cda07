"""LSUV's calibration, replayed after residual_init_ has scaled or zeroed the same layers.

lsuv_ stores, per layer, a base draw and a scale s (the layer's reset replays base x s).
residual_init_ then multiplies a Fixup layer by c or zeroes the branch's end. Composition of
the two rescalings means the stored replay must be base x (s c) for a scaled layer and 0 for a
zeroed one, and reset_parameters() must give back, bit for bit, the weights both tools left:
s must not be dropped (replaying base x c) nor the base switched to the layer's own scheme.

Planted defects this catches (each checked by hand): in ``initconv/_model/residual.py``'s
``_calibrate``, ``scale, base = scale * old.scale, old.base`` made ``scale, base = scale,
old.base`` (the LSUV scale dropped) or ``scale * old.scale, None`` (the LSUV base dropped).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import initconv


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = initconv.KaimingNormalConv2d(4, 4, 3, padding=1)
        self.conv2 = initconv.KaimingNormalConv2d(4, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


@pytest.mark.parametrize("method", ["fixup", "zero"])
def test_lsuv_then_residual_init_replays_both_on_reset(method: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(Block(), Block(), Block())
    batch = torch.randn(8, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    lsuv = initconv.lsuv_(model, batch)
    calibrated = {name: p.detach().clone() for name, p in model.named_parameters()}
    initconv.residual_init_(model, method, seed=3)
    after = {name: p.detach().clone() for name, p in model.named_parameters()}
    c = 3 ** (-1 / 2)  # L = 3 branches of m = 2 layers
    for index in range(3):
        first, second = f"{index}.conv1.weight", f"{index}.conv2.weight"
        assert torch.count_nonzero(after[second]) == 0
        expected = calibrated[first] * c if method == "fixup" else calibrated[first]
        torch.testing.assert_close(after[first], expected, rtol=1e-6, atol=0)
        assert lsuv[f"{index}.conv1"].scale != pytest.approx(1.0, abs=1e-3)
    for module in model.modules():
        if isinstance(module, initconv.KaimingNormalConv2d):
            module.reset_parameters()
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), after[name]), name
