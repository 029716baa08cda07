"""``bias_view`` keeps one bias per independent output channel: all of them for a layer that draws
every filter afresh, one per run for ICNR, which repeats each filter.

Promise (initconv.testing.bias_view's docstring): "One bias per independent output channel: a
scheme that repeats its filters (ICNR) repeats its biases alike, so every k-th is kept, k the
weight's rows per independent row." Theory, derived from the layers' definitions: an iid scheme
draws each of its out_channels filters independently, so its rows per independent row are 1 and
every bias is kept (dropping any would shrink the pooled sample that check_scheme's bias checks
are sized by, and hide whatever the dropped ones hold); ICNR with upscale factor r in d spatial
dimensions draws out_channels / r^d filters and repeats each r^d times in a row (Aitken et al.
2017, "Checkerboard artifact free sub-pixel convolution"), so every r^d-th bias is one of each
run, and those are all distinct draws. A layer with no weight rows at all (a transposed
convolution with no input channels: torch stores its weight as (in, out / groups, ...)) repeats
nothing either: its biases are drawn one per output channel, so all are kept.
"""

from __future__ import annotations

import warnings

import torch

import initconv
from initconv.testing import bias_view


def _bias(layer: torch.nn.Module) -> torch.Tensor:
    bias = getattr(layer, "bias", None)
    assert isinstance(bias, torch.Tensor)
    return bias


def test_an_iid_layer_keeps_every_bias() -> None:
    for layer in (
        initconv.KaimingNormalConv2d(4, 6, 3, bias_init="normal", bias_std=0.1, seed=0),
        initconv.KaimingNormalLinear(5, 7, bias_init="normal", bias_std=0.1, seed=1),
    ):
        view = bias_view(layer)
        assert view is not None
        assert torch.equal(view[0], _bias(layer).detach())


def test_icnr_keeps_one_bias_of_each_repeated_run() -> None:
    r, d, out = 2, 2, 16
    layer = initconv.ICNRConv2d(
        4, out, 3, upscale_factor=r, bias_init="normal", bias_std=0.1, seed=0
    )
    bias = _bias(layer).detach()
    runs = bias.reshape(out // r**d, r**d)
    assert bool((runs == runs[:, :1]).all())  # the premise: each run repeats one draw
    view = bias_view(layer)
    assert view is not None
    assert torch.equal(view[0], runs[:, 0])


def test_a_layer_without_weight_rows_keeps_every_bias() -> None:
    with warnings.catch_warnings():
        # torch's own note that drawing into its empty weight does nothing
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        layer = initconv.KaimingNormalConvTranspose2d(
            0, 4, 3, bias_init="normal", bias_std=0.1, seed=0
        )
    assert layer.weight.shape[0] == 0
    assert _bias(layer).numel() == 4
    view = bias_view(layer)
    assert view is not None
    assert torch.equal(view[0], _bias(layer).detach())
