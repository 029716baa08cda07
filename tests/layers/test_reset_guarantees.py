"""What every reset_parameters() guarantees: weight and bias written both or neither, options
re-checked against the dtype's range, bad attributes refused by name with the weights untouched,
and zero-size layers with an undefined variance.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
from _support import snapshot, unchanged
from torch import Tensor, nn
from torch.nn.utils import parametrize

import initconv
from initconv.testing import check_layer

Conv = initconv.KaimingNormalConv2d


class _Doubled(nn.Module):
    """A parametrization without right_inverse: assigning to the tensor it computes fails."""

    def forward(self, x: Tensor) -> Tensor:
        return x * 2


def test_a_reset_whose_bias_store_fails_leaves_the_weight_as_it_was() -> None:
    conv = Conv(4, 8, 3, seed=0)
    parametrize.register_parametrization(conv, "bias", _Doubled())
    before = snapshot(conv)
    conv.seed = 1
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        conv.reset_parameters()
    assert unchanged(conv, before)


def test_a_pretrained_layer_converted_without_reinit_keeps_its_weight_when_reset_fails() -> None:
    model = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU())
    parametrize.register_parametrization(model[0], "bias", _Doubled())
    pretrained = model[0].weight.detach().clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        initconv.convert(model, "kaiming_normal", reinit=False)
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        model[0].reset_parameters()
    assert torch.equal(model[0].weight, pretrained)


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda: Conv(4, 4, 3, gain=1e308), "gain"),
        (lambda: Conv(4, 4, 3, gain=1e6, dtype=torch.float16), "gain"),
        (lambda: initconv.NormalConv2d(4, 4, 3, mean=1e300), "mean=1e"),
        (lambda: initconv.VarianceScalingConv2d(4, 4, 3, scale=1e300), "scale=1e"),
        (lambda: initconv.OrthogonalConv2d(4, 4, 3, gain=1e5, dtype=torch.float16), "gain"),
        (lambda: Conv(4, 4, 3, bias_init="normal", bias_std=1e300), "bias_std=1e"),
        (lambda: Conv(4, 4, 3, bias_init="normal", bias_std=1e4, dtype=torch.float16), "bias_std"),
    ],
)
def test_a_finite_option_too_large_for_the_dtype_is_refused_naming_it(
    build: Callable[[], nn.Module], option: str
) -> None:
    with pytest.raises(ValueError, match=option):
        build()


def test_an_option_set_too_large_after_construction_is_refused_at_reset() -> None:
    normal = initconv.NormalConv2d(4, 4, 3, seed=0)
    before = snapshot(normal)
    normal.mean = 1e300
    with pytest.raises(ValueError, match=r"mean=1e\+300"):
        normal.reset_parameters()
    assert unchanged(normal, before)


def test_a_gain_too_large_for_a_narrower_dtype_is_refused_at_reset() -> None:
    conv = Conv(4, 4, 3, gain=1e5, seed=0).to(torch.bfloat16).to(torch.float16)
    before = snapshot(conv)
    with pytest.raises(ValueError, match="gain must be at most 65504 in size for a float16"):
        conv.reset_parameters()
    assert unchanged(conv, before)


@pytest.mark.parametrize(
    ("layer", "attribute"),
    [
        (lambda: initconv.UniformConv1d(1, 1, 1, seed=0), "high"),
        (lambda: initconv.NormalConv2d(4, 4, 3, seed=0), "std"),
        (lambda: initconv.VarianceScalingConv2d(4, 4, 3, seed=0), "scale"),
    ],
)
def test_a_numpy_float32_option_set_after_construction_keeps_the_theory_a_float(
    layer: Callable[[], nn.Module], attribute: str
) -> None:
    # The theory read a float32 attribute back as a numpy float32, which the kit refused.
    built = layer()
    setattr(built, attribute, np.float32(3.0))
    built.reset_parameters()
    assert type(built.expected_variance()) is float
    assert type(built.expected_mean()) is float
    check_layer(built)


@pytest.mark.parametrize(
    "build",
    [
        lambda: initconv.KaimingNormalConv2d(0, 4, 3),
        lambda: initconv.XavierUniformLinear(0, 4),
        lambda: initconv.TorchDefaultConv2d(0, 4, 3),
        lambda: initconv.OrthogonalConv2d(4, 0, 3),
        lambda: initconv.DeltaOrthogonalConv2d(0, 0, 3),
        lambda: initconv.IdentityConv2d(0, 4, 3),
    ],
)
def test_a_zero_size_layer_has_an_undefined_variance_not_a_division_by_zero(
    build: Callable[[], initconv.InitLayer],
) -> None:
    with pytest.warns(UserWarning, match="zero-element"):
        layer = build()
    assert math.isnan(layer.expected_variance())


def test_a_nan_calibrated_scale_is_refused_on_assignment() -> None:
    conv = Conv(4, 4, 3, seed=0)
    with pytest.raises(ValueError, match="calibrated_scale can only be set to None"):
        conv.calibrated_scale = float("nan")  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("attribute", "value", "match"),
    [
        ("gain", float("nan"), "gain must be finite"),
        ("gain", -1.0, "gain must be finite and >= 0"),
        ("bias_init", float("inf"), "bias_init must be finite"),
        ("seed", -1, r"seed must be in \[0, 2\*\*64\)"),
        ("scale", float("nan"), "scale must be finite"),
        ("mode", "fan_sideways", "mode must be one of"),
    ],
)
def test_an_attribute_set_to_a_bad_value_is_refused_at_the_next_reset(
    attribute: str, value: object, match: str
) -> None:
    layer = initconv.VarianceScalingConv2d(4, 4, 3, seed=0)
    before = snapshot(layer)
    setattr(layer, attribute, value)
    with pytest.raises((ValueError, TypeError), match=match):
        layer.reset_parameters()
    assert unchanged(layer, before)
