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
from initconv.testing import ALPHA_CHECK, assert_variance_matches, check_layer

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
        # These raised ZeroDivisionError or returned their option's variance.
        lambda: initconv.CriticalConv2d(0, 4, 3),
        lambda: initconv.CriticalLinear(4, 0),
        lambda: initconv.NormalConv2d(0, 4, 3),
        lambda: initconv.UniformConv2d(4, 0, 3),
        lambda: initconv.ZeroConv2d(0, 4, 3),
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


def test_every_scheme_says_nan_for_a_zero_size_layers_variance() -> None:
    for name in initconv.schemes():
        cls = initconv.layer_class(name, nn.Conv2d)
        if not cls.serves(0, 4, 3):
            continue
        with pytest.warns(UserWarning, match="zero-element"):
            layer = cls(0, 4, 3)
        assert math.isnan(layer.expected_variance()), name


@pytest.mark.parametrize(
    ("scheme", "bias_init", "expected"),
    [("kaiming_normal", 0.5, 0.5), ("kaiming_normal", "zeros", 0.0), ("torch_default", None, 0.0)],
)
def test_a_layer_with_no_inputs_writes_its_bias(
    scheme: str, bias_init: str | float | None, expected: float
) -> None:
    # Its weight is empty (torch warns), but its output is the bias: uninitialised memory before.
    options = {} if bias_init is None else {"bias_init": bias_init}
    with pytest.warns(UserWarning, match="zero-element"):
        layer = initconv.conv2d(scheme, 0, 4, 3, **options)
    assert torch.equal(layer.bias.detach(), torch.full((4,), expected))
    with torch.no_grad():
        layer.bias.fill_(7.0)
    with pytest.warns(UserWarning, match="zero-element"):
        layer.reset_parameters()
    assert torch.equal(layer.bias.detach(), torch.full((4,), expected))


def test_a_layer_with_no_inputs_draws_a_normal_bias() -> None:
    with pytest.warns(UserWarning, match="zero-element"):
        layer = initconv.CriticalConv2d(0, 4096, 1, activation="tanh", bias_std=0.5, seed=0)
    assert layer.expected_bias_variance() == 0.25
    assert_variance_matches(layer.bias.detach(), 0.25, "normal", alpha=ALPHA_CHECK)


@pytest.mark.parametrize(
    "dtype", [torch.float8_e4m3fn, torch.float8_e5m2, torch.int64, torch.complex64, "float32"]
)
def test_a_dtype_torch_cannot_draw_in_is_a_type_error_naming_dtype(dtype: object) -> None:
    with pytest.raises(TypeError, match=r"dtype must be (one of|a floating point torch\.dtype)"):
        Conv(4, 4, 3, dtype=dtype)  # type: ignore[arg-type]


def test_a_layer_cast_to_float8_is_refused_at_reset_by_its_dtype() -> None:
    conv = Conv(4, 4, 3, seed=0).to(torch.float8_e4m3fn)
    before = snapshot(conv)
    with pytest.raises(TypeError, match=r"the layer's dtype must be one of .*float8_e4m3fn"):
        conv.reset_parameters()
    assert unchanged(conv, before)


@pytest.mark.parametrize("value", ["junk", 1.5, {"scale": 2.0}])
def test_a_calibration_set_to_junk_is_a_type_error_naming_calibration(value: object) -> None:
    # It failed at the next reset with an AttributeError ('str' object has no attribute 'base').
    conv = Conv(4, 4, 3, seed=0)
    before = snapshot(conv)
    with pytest.raises(TypeError, match=r"calibration must be a Calibration .* or None"):
        conv.calibration = value  # type: ignore[assignment]
    assert conv.calibration is None
    conv.reset_parameters()
    assert conv.state_dict().keys() == before.keys()
    # Written past the check, it is refused at the reset.
    conv.__dict__["calibration"] = value
    with pytest.raises(TypeError, match=r"calibration must be a Calibration .* or None"):
        conv.reset_parameters()


def test_bias_init_normal_set_without_bias_std_is_refused_at_reset_as_at_construction() -> None:
    conv = Conv(4, 4, 3, seed=0)
    before = snapshot(conv)
    conv.bias_init = "normal"
    with pytest.raises(ValueError, match=r"bias_init='normal' draws the bias .* needs bias_std"):
        conv.reset_parameters()
    assert unchanged(conv, before)
    conv.bias_std = 0.25
    conv.reset_parameters()
    assert conv.expected_bias_variance() == 0.0625
    assert not torch.equal(conv.bias, before["bias"])


def test_bias_std_left_behind_by_another_bias_init_is_refused_at_reset() -> None:
    conv = Conv(4, 4, 3, bias_init="normal", bias_std=0.1, seed=0)
    before = snapshot(conv)
    conv.bias_init = "zeros"
    with pytest.raises(ValueError, match=r"bias_std is the standard deviation of bias_init="):
        conv.reset_parameters()
    assert unchanged(conv, before)
    assert conv.bias_init == "zeros"  # the attributes as the user left them, not half-normalised


def test_a_failed_reset_leaves_the_attributes_as_they_were() -> None:
    conv = Conv(4, 4, 3, seed=0, gain=np.float32(2.0))
    conv.gain = np.float64(3.0)
    conv.bias_init = "normal"
    with pytest.raises(ValueError, match="needs bias_std"):
        conv.reset_parameters()
    assert type(conv.gain) is np.float64


def test_a_derived_gain_follows_an_activation_set_on_the_built_layer() -> None:
    conv = Conv(4, 4, 3, activation="relu", seed=0)
    conv.activation = "tanh"
    conv.reset_parameters()
    assert conv.gain == initconv.gain("tanh")
    check_layer(conv)


def test_a_gain_given_or_set_since_is_kept_whatever_the_activation() -> None:
    given = Conv(4, 4, 3, activation="relu", gain=0.7)
    given.activation = "tanh"
    given.reset_parameters()
    assert given.gain == 0.7
    derived = Conv(4, 4, 3, activation="relu")
    derived.gain = 0.9
    derived.activation = "tanh"
    derived.reset_parameters()
    assert derived.gain == 0.9


def test_an_activation_set_to_an_unknown_name_is_refused_at_reset_by_name() -> None:
    conv = Conv(4, 4, 3, seed=0)
    before = snapshot(conv)
    conv.activation = "gleu"
    with pytest.raises(ValueError, match=r"activation must be one of .*got 'gleu'; did you mean"):
        conv.reset_parameters()
    assert unchanged(conv, before)
    assert conv.gain == math.sqrt(2)
