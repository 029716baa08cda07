"""Dilation spreads a convolution's taps; it adds none, so it leaves both fans as they were.

A dilated kernel of size k with dilation d reads k input positions spaced d apart: each output
unit still sums (C_in / G) * prod(k) products, and each input unit still feeds (C_out / G) * prod(k)
outputs. The effective extent d (k - 1) + 1 is the receptive field, not the number of taps. A
transposed convolution scatters each input to the same prod(k) taps, spaced d apart, so its fans
are those of the undilated layer too (fan_in divided by the stride's product, as for any stride).

Planted defects this catches (each checked by hand to fail here): ``taps = prod(k * d)``, and
``taps = prod(d (k - 1) + 1)`` (the receptive field) in ``initconv/_maths/fans.py``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import initconv

CONVS = {
    1: (nn.Conv1d, nn.ConvTranspose1d, initconv.KaimingNormalConv1d, initconv.KaimingNormalConvTranspose1d),
    2: (nn.Conv2d, nn.ConvTranspose2d, initconv.KaimingNormalConv2d, initconv.KaimingNormalConvTranspose2d),
    3: (nn.Conv3d, nn.ConvTranspose3d, initconv.KaimingNormalConv3d, initconv.KaimingNormalConvTranspose3d),
}  # fmt: skip


@st.composite
def dilated_layers(draw: st.DrawFn) -> tuple[int, bool, dict[str, object]]:
    dims = draw(st.sampled_from([1, 2, 3]))
    transposed = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    size = st.integers(1, 3) if dims == 3 else st.integers(1, 5)
    config: dict[str, object] = {
        "in_channels": groups * draw(st.integers(1, 3)),
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": tuple(draw(size) for _ in range(dims)),
        "stride": tuple(draw(st.integers(1, 3)) for _ in range(dims)),
        # at least one dimension dilated: the undilated case is test_fans.py's
        "dilation": (*(draw(st.integers(1, 4)) for _ in range(dims - 1)), draw(st.integers(2, 4))),
        "groups": groups,
    }  # fmt: skip
    return dims, transposed, config


def _expected(transposed: bool, config: dict[str, object]) -> tuple[float, float]:
    """The fans counted from the arguments: taps are prod(kernel_size), whatever the dilation."""
    taps = math.prod(config["kernel_size"])  # type: ignore[arg-type]
    groups = config["groups"]
    fan_in = config["in_channels"] // groups * taps  # type: ignore[operator]
    fan_out = config["out_channels"] // groups * taps  # type: ignore[operator]
    if transposed:
        return fan_in / math.prod(config["stride"]), float(fan_out)  # type: ignore[arg-type]
    return float(fan_in), float(fan_out)


@settings(max_examples=40)
@given(dilated_layers())
def test_dilation_leaves_the_fans_of_every_convolution_kind_as_they_were(
    drawn: tuple[int, bool, dict[str, object]],
) -> None:
    dims, transposed, config = drawn
    torch_kind = CONVS[dims][int(transposed)]
    layer = torch_kind(**config, device="meta")
    assert initconv.fans(layer) == pytest.approx(_expected(transposed, config), rel=1e-15)
    undilated = torch_kind(**{**config, "dilation": 1}, device="meta")
    assert initconv.fans(layer) == initconv.fans(undilated)


@settings(max_examples=40)
@given(dilated_layers())
def test_a_dilated_layers_own_theory_uses_the_undilated_fan(
    drawn: tuple[int, bool, dict[str, object]],
) -> None:
    """The variance a Kaiming layer promises (its ``expected_variance()``) is gain^2 / fan_in with
    the fan counted from the taps, so the theory the kit checks the draw against is right too."""
    dims, transposed, config = drawn
    layer = CONVS[dims][2 + int(transposed)](**config, activation="relu", device="meta")
    fan_in = _expected(transposed, config)[0]
    assert layer.expected_variance() == pytest.approx(2.0 / fan_in, rel=1e-12)
