r"""Fixup's branch scaling: each of a branch's m - 1 surviving layers times L^(-1/(2m-2)).

Derivation (Zhang, H. et al. (2019), "Fixup initialization", section 3). Fixup asks that one SGD
step of size eta change the network's output by Theta(eta) whatever the depth. With every weight of
a branch of m positively homogeneous layers scaled by c (the last one zeroed and then learning),
the branch's share of that change is Theta(c^(2m-2)): the m - 1 scaled layers' factors, squared
through the gradient. L branches sum to L c^(2m-2) = Theta(1), so c = L^(-1/(2m-2)). The test
solves L c^(2m-2) = 1 itself and measures c on the weights, across L and m.

Planted defects this catches (each checked by hand): ``total ** (-1 / (2 * m))`` and
``total ** (-1 / (m - 1))`` and ``(total - 1) ** ...`` in ``initconv/_model/residual.py`` (the
m = 2 tests elsewhere cannot tell -1/(2m-2) from -1/m).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv


class Branchy(nn.Module):
    """x + conv_m(relu(... relu(conv_1(x))))"""

    def __init__(self, m: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(initconv.KaimingNormalConv2d(4, 4, 1) for _ in range(m))

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h if i == 0 else torch.relu(h))
        return x + h


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_fixup_scales_every_surviving_layer_of_each_branch_by_l_to_the_minus_one_over_2m_minus_2(
    blocks: int, m: int, seed: int
) -> None:
    model = nn.Sequential(*[Branchy(m) for _ in range(blocks)])
    reference = copy.deepcopy(model)
    initconv.residual_init_(model, "fixup", seed=seed)
    # c solves L c^(2m-2) = 1.
    c = math.exp(-math.log(blocks) / (2 * m - 2))
    assert blocks * c ** (2 * m - 2) == pytest.approx(1.0, rel=1e-12)
    for block, base in zip(model, reference, strict=True):
        zeroed = [conv for conv in block.convs if not torch.count_nonzero(conv.weight)]
        assert len(zeroed) == 1
        for conv, twin in zip(block.convs, base.convs, strict=True):
            if conv is zeroed[0]:
                continue
            twin.seed = conv.seed
            twin.reset_parameters()
            ratio = float((conv.weight.detach() / twin.weight.detach()).mean())
            assert ratio == pytest.approx(c, rel=1e-6)
