"""Identity (Dirac) init of a transposed convolution: exactly gain x the identity at stride 1, and
refused at any other stride.

A transposed convolution of stride s maps n positions to about s n: it upsamples, so for s > 1 in
any dimension no kernel makes it the identity map (its output has another shape), and writing a
Dirac kernel would silently give a layer that is not what the scheme names. At stride 1 with an odd
kernel k and padding t = (k - 1) // 2 the output has the input's shape, and a kernel whose only
non-zero tap is gamma at t on the channel diagonal copies each input channel, times gamma.

Planted defects this catches (each checked by hand): the stride check dropped, or made on the first
dimension only (``layout.stride[0] != 1``) in ``initconv/_schemes/structured.py``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import initconv

KINDS = {
    1: initconv.IdentityConvTranspose1d,
    2: initconv.IdentityConvTranspose2d,
    3: initconv.IdentityConvTranspose3d,
}


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([1, 2, 3]),
    st.integers(1, 3),
    st.integers(1, 3),
    st.data(),
)
def test_a_strided_transposed_identity_is_refused_whichever_dimension_strides(
    dims: int, groups: int, channels: int, data: st.DataObject
) -> None:
    stride = list(data.draw(st.lists(st.integers(1, 3), min_size=dims, max_size=dims)))
    where = data.draw(st.integers(0, dims - 1))
    stride[where] = data.draw(st.integers(2, 3))
    with pytest.raises(ValueError, match=r"identity scheme needs stride 1 .* stride="):
        KINDS[dims](groups * channels, groups * channels, 3, stride=tuple(stride), groups=groups)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([1, 2, 3]),
    st.integers(1, 3),
    st.integers(1, 3),
    st.sampled_from([1, 3, 5]),
    st.sampled_from([1.0, 0.5, 2.0]),
    st.integers(0, 2**32 - 1),
)
def test_a_stride_one_transposed_identity_is_gain_times_the_identity_map(
    dims: int, groups: int, channels: int, kernel: int, gain: float, seed: int
) -> None:
    width = groups * channels
    layer = KINDS[dims](
        width, width, kernel, padding=(kernel - 1) // 2, groups=groups, gain=gain,
        dtype=torch.float64,
    )  # fmt: skip
    x = torch.randn(2, width, *([4] * dims), dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))  # fmt: skip
    with torch.no_grad():
        y = layer(x) - (0 if layer.bias is None else layer.bias.view(-1, *([1] * dims)))
    # gain is a power of two: gain * x is exact, and so is the sum of one product and zeros.
    assert torch.equal(y, gain * x)
