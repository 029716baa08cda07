"""Seeds reach the generator whole: seeds that differ anywhere in their 64 bits give different
weights, and the same seed gives the same weights every time.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import initconv

Conv = initconv.KaimingNormalConv2d


@pytest.mark.parametrize("multiple", [1, 2, 3, 2**31, 2**32 - 1])
def test_seeds_that_differ_by_a_multiple_of_2_to_the_32_give_different_weights(
    multiple: int,
) -> None:
    low = Conv(16, 16, 3, seed=5)
    high = Conv(16, 16, 3, seed=5 + multiple * 2**32)
    assert not torch.equal(low.weight, high.weight)


def test_the_largest_seed_differs_from_its_low_32_bits() -> None:
    top = 2**64 - 1
    assert not torch.equal(Conv(8, 8, 3, seed=top).weight, Conv(8, 8, 3, seed=top % 2**32).weight)


def test_layer_seeds_equal_in_their_low_32_bits_give_different_layers() -> None:
    # seed_modules(m, 4588) and seed_modules(m, 94084) give layer "0" seeds equal in their low 32
    # bits, which is all that torch's manual_seed keeps.
    first, second = nn.Sequential(Conv(16, 16, 3)), nn.Sequential(Conv(16, 16, 3))
    seeds = initconv.seed_modules(first, 4588), initconv.seed_modules(second, 94084)
    assert seeds[0]["0"] % 2**32 == seeds[1]["0"] % 2**32
    assert not torch.equal(first[0].weight, second[0].weight)


@pytest.mark.slow  # ten thousand layers built
def test_ten_thousand_seeded_layers_are_pairwise_distinct() -> None:
    model = nn.ModuleList(initconv.KaimingNormalLinear(4, 4, bias=False) for _ in range(10_000))
    initconv.seed_modules(model, 2024)
    weights = torch.stack([layer.weight.detach().flatten() for layer in model])
    assert torch.unique(weights, dim=0).shape[0] == 10_000


def test_the_same_seed_gives_bit_identical_weights_every_time() -> None:
    seed = 2**63 + 12345
    first = Conv(8, 16, 3, seed=seed)
    second = Conv(8, 16, 3, seed=seed)
    assert torch.equal(first.weight, second.weight)
    first.reset_parameters()
    assert torch.equal(first.weight, second.weight)


def test_the_generator_keeps_the_whole_seed() -> None:
    seed = 2**64 - 2
    assert initconv.seeded_generator(seed).initial_seed() == seed
    expected = torch.empty(16, 8, 3, 3)
    nn.init.kaiming_normal_(expected, generator=initconv.seeded_generator(seed))
    assert torch.equal(Conv(8, 16, 3, seed=seed).weight, expected)
