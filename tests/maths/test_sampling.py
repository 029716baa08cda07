"""The zero-mean samplers: a truncated normal stays within its cut as stored, in every dtype."""

from __future__ import annotations

import torch

import initconv


def test_a_float16_truncated_normal_stays_within_two_sigma_as_stored() -> None:
    # A value inside 2 sigma in the float32 scratch can round to just outside it in float16; over
    # these sigmas and 2^16 draws each, that happened to most of them.
    for step in range(16):
        gain = 0.01 * 1.37**step
        weight = torch.empty(2**16, 1, dtype=torch.float16)
        generator = initconv.seeded_generator(step)
        initconv.variance_scaling_(
            weight, gain, fans=(1.0, 1.0), distribution="truncated_normal", generator=generator
        )
        sigma = gain / 0.87962566103423978
        assert float(weight.double().abs().max()) <= 2 * sigma, gain
