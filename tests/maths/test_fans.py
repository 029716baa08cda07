"""Fans come from the layer: channels per group, and the transposed layout and stride."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import initconv


def _torch_fans(weight: torch.Tensor) -> tuple[float, float]:
    # What torch.nn.init reads off a weight: dim 1 times the kernel, dim 0 times the kernel.
    taps = weight[0][0].numel()
    return float(weight.shape[1] * taps), float(weight.shape[0] * taps)


@given(
    groups=st.integers(1, 4),
    per_group_in=st.integers(1, 4),
    per_group_out=st.integers(1, 4),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
)
def test_grouped_conv_fans_count_channels_per_group(
    groups: int, per_group_in: int, per_group_out: int, kh: int, kw: int
) -> None:
    conv = nn.Conv2d(groups * per_group_in, groups * per_group_out, (kh, kw), groups=groups)
    assert initconv.fans(conv) == (per_group_in * kh * kw, per_group_out * kh * kw)


def test_grouped_conv_fan_in_agrees_with_torch_and_fan_out_does_not() -> None:
    conv = nn.Conv2d(32, 64, 3, groups=8)
    fan_in, fan_out = initconv.fans(conv)
    torch_in, torch_out = _torch_fans(conv.weight)
    assert fan_in == torch_in == 4 * 9
    # pytorch#23854: torch counts every output channel, not those of one group.
    assert fan_out == 8 * 9
    assert torch_out == 64 * 9


def test_ungrouped_conv_fans_equal_torchs() -> None:
    conv = nn.Conv2d(16, 24, (3, 5))
    assert initconv.fans(conv) == _torch_fans(conv.weight)


def test_depthwise_conv_has_fan_in_and_fan_out_of_one_kernel() -> None:
    assert initconv.fans(nn.Conv2d(64, 64, 7, groups=64)) == (49, 49)


@given(
    groups=st.integers(1, 3),
    per_group_in=st.integers(1, 4),
    per_group_out=st.integers(1, 4),
    k=st.integers(1, 5),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
)
def test_transposed_conv_fan_in_divides_the_kernel_by_the_stride(
    groups: int, per_group_in: int, per_group_out: int, k: int, sh: int, sw: int
) -> None:
    conv = nn.ConvTranspose2d(
        groups * per_group_in, groups * per_group_out, k, stride=(sh, sw), groups=groups
    )
    fan_in, fan_out = initconv.fans(conv)
    assert fan_in == pytest.approx(per_group_in * k * k / (sh * sw), rel=1e-15)
    assert fan_out == per_group_out * k * k


def test_transposed_conv_fans_are_not_torchs_swapped_ones() -> None:
    conv = nn.ConvTranspose2d(8, 16, 3)
    # pytorch#7865: the weight is (in, out, k, k), so torch reads in as fan_out and out as fan_in.
    assert _torch_fans(conv.weight) == (16 * 9, 8 * 9)
    assert initconv.fans(conv) == (8 * 9, 16 * 9)


def test_linear_fans_are_its_features() -> None:
    assert initconv.fans(nn.Linear(5, 7)) == (5, 7)


def test_layers_expose_their_fans() -> None:
    conv = initconv.KaimingNormalConv2d(12, 18, 3, groups=3)
    assert (conv.fan_in, conv.fan_out) == (36, 54)


def test_fans_of_a_non_layer_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"layer must be a convolution .* got ReLU"):
        initconv.fans(nn.ReLU())
