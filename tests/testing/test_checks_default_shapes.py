"""The default shapes ``check_scheme`` builds keep their documented promises.

``_convolutions`` says its shapes are "plain, wide, narrow, strided, rectangular and even kernels,
grouped and depthwise", and that strided transposed layers, where torch's fans go wrong, are
checked more; docs/extending.md says ``check_scheme`` builds "grouped, depthwise, strided,
rectangular and even kernels; transposed ones strided". Every shape must also build as its torch
kind (torch's own constructor is the independent judge), and a Linear shape set must hold fan-in
and fan-out dominated layers. The test reads the shape set, never particular sizes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from initconv.testing import DEFAULT_SHAPES

_CONV_KINDS: dict[type[nn.Module], tuple[int, bool]] = {
    nn.Conv1d: (1, False),
    nn.Conv2d: (2, False),
    nn.Conv3d: (3, False),
    nn.ConvTranspose1d: (1, True),
    nn.ConvTranspose2d: (2, True),
    nn.ConvTranspose3d: (3, True),
}


def _sides(value: Any, d: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (int(value),) * d


def test_every_default_shape_builds_and_the_set_holds_each_documented_kind_of_layer() -> None:
    assert set(DEFAULT_SHAPES) == {*_CONV_KINDS, nn.Linear}
    for kind, (d, transposed) in _CONV_KINDS.items():
        shapes = DEFAULT_SHAPES[kind]
        built: list[nn.modules.conv._ConvNd] = []
        for shape in shapes:
            layer = kind(**shape, device="meta")
            assert isinstance(layer, nn.modules.conv._ConvNd)
            assert len(layer.kernel_size) == d  # the shape is for this kind's dimension
            built.append(layer)
        kernels = [tuple(layer.kernel_size) for layer in built]
        strides = [tuple(layer.stride) for layer in built]
        groups = [(int(c.groups), int(c.in_channels), int(c.out_channels)) for c in built]
        assert any(g == 1 for g, _, _ in groups), f"{kind.__name__}: no plain (ungrouped) layer"
        assert any(1 < g < i for g, i, _ in groups), f"{kind.__name__}: no grouped layer"
        assert any(g == i == o > 1 for g, i, o in groups), f"{kind.__name__}: no depthwise layer"
        assert any(all(k % 2 == 0 for k in ks) for ks in kernels), (
            f"{kind.__name__}: no even kernel"
        )
        if d >= 2:
            assert any(len(set(ks)) > 1 for ks in kernels), (
                f"{kind.__name__}: no rectangular kernel"
            )
        assert any(max(s) > 1 for s in strides), f"{kind.__name__}: no strided layer"
        # Wide (more outputs than inputs) and narrow (fewer): fan_in and fan_out both lead.
        assert any(i < o for _, i, o in groups)
        assert any(i > o for _, i, o in groups)
        if transposed:
            # The transposed fans depend on the stride: a strided grouped layer must be there.
            assert any(
                max(s) > 1 and 1 < g < i for s, (g, i, _) in zip(strides, groups, strict=True)
            ), f"{kind.__name__}: no strided grouped layer"
            assert sum(max(s) > 1 for s in strides) >= 2, f"{kind.__name__}: strided once only"
        for shape in shapes:
            assert _sides(shape["kernel_size"], d) == kernels[shapes.index(shape)]
    linear = [nn.Linear(**shape, device="meta") for shape in DEFAULT_SHAPES[nn.Linear]]
    assert any(layer.in_features > layer.out_features for layer in linear)
    assert any(layer.in_features < layer.out_features for layer in linear)
    assert torch.device("meta") == linear[0].weight.device
