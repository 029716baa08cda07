"""The structured schemes: orthogonal, delta-orthogonal, identity, ICNR and zero."""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv
from initconv import (
    DeltaOrthogonalConv2d,
    ICNRConv2d,
    IdentityConv2d,
    InitConv2d,
    OrthogonalConv2d,
    ZeroConv2d,
)

STRUCTURED = ("delta_orthogonal", "icnr", "identity", "orthogonal", "zero")
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# The dtypes torch.linalg.qr (and so torch.nn.init.orthogonal_) works in.
QR_DTYPES = (torch.float32, torch.float64)

# One false alarm in 10^6 runs for the one statistical check in this file.
ALPHA = 1e-6


def _generator(seed: int) -> torch.Generator:
    return initconv.seeded_generator(seed)


def _torch_orthogonal(shape: tuple[int, ...], seed: int, gain: float, dtype: torch.dtype) -> Tensor:
    return nn.init.orthogonal_(torch.empty(shape, dtype=dtype), gain, generator=_generator(seed))


def _valid_layer(name: str, **kwargs: Any) -> InitConv2d:
    """A layer of scheme ``name`` with 4 inputs, 8 outputs: a configuration every scheme serves."""
    return initconv.conv2d(name, 4, 8, 3, padding=1, **kwargs)


def _second_moment_about_mean(layer: InitConv2d) -> float:
    weight = layer.weight.detach().double()
    return float(((weight - layer.expected_mean()) ** 2).mean())


def _second_moment_tolerance(dtype: torch.dtype, second_moment: float) -> float:
    """Absolute tolerance on mean((w - expected_mean)^2), given the exact mean(w^2)."""
    # check_invariants bounds every diagonal entry of the Gram matrix within max(1e-5, 2 eps) g^2
    # of g^2, so mean(w^2) is within that share of its exact value (a constant g rounded to dtype
    # is off by eps / 2, its square by eps); below the normal range an entry is off by up to the
    # subnormal spacing s, which moves mean(w^2) by <= 2 sqrt(mean(w^2)) s + s^2.
    info = torch.finfo(dtype)
    spacing = info.smallest_normal * info.eps
    relative = max(1e-5, 2 * info.eps) * second_moment
    return relative + 2 * math.sqrt(second_moment) * spacing + spacing**2


# --- Orthogonal ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", QR_DTYPES)
@pytest.mark.parametrize(("shape", "gain"), [((16, 8, 3, 3), 1.0), ((80, 4, 3, 3), 2.0**0.5)])
def test_orthogonal_equals_torch_orthogonal_bit_for_bit_for_the_same_generator(
    shape: tuple[int, ...], gain: float, dtype: torch.dtype
) -> None:
    expected = _torch_orthogonal(shape, 7, gain, dtype)
    functional = initconv.orthogonal_(
        torch.empty(shape, dtype=dtype), gain, generator=_generator(7)
    )
    layer = OrthogonalConv2d(shape[1], shape[0], shape[2], gain=gain, dtype=dtype, seed=7)
    assert torch.equal(functional, expected)
    assert torch.equal(layer.weight.detach(), expected)


def test_grouped_orthogonal_draws_each_group_as_torch_orthogonal_would_in_turn() -> None:
    layer = OrthogonalConv2d(6, 12, 3, groups=3, seed=5)
    generator = _generator(5)
    for block in layer.weight.detach().view(3, 4, 2, 3, 3):
        expected = nn.init.orthogonal_(torch.empty(4, 2, 3, 3), generator=generator)
        assert torch.equal(block, expected)
    layer.check_invariants()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["orthogonal", "delta_orthogonal"])
def test_half_precision_weights_are_the_float32_weights_cast_once(
    name: str, dtype: torch.dtype
) -> None:
    half = initconv.conv2d(name, 8, 16, 3, activation="tanh", dtype=dtype, seed=2)
    single = initconv.conv2d(name, 8, 16, 3, activation="tanh", seed=2)
    assert half.weight.dtype == dtype
    assert torch.equal(half.weight.detach(), single.weight.detach().to(dtype))
    half.check_invariants()


def test_orthogonal_matrices_are_haar_distributed_by_their_trace() -> None:
    # For a Haar-random Q in O(n), n >= 2: E[tr Q] = 0, E[(tr Q)^2] = 1 and |tr Q| <= n. Bernstein's
    # inequality then bounds |mean| of N traces by t solving N t^2 = 2 ln(2 / ALPHA) (1 + n t / 3).
    # Without the sign correction of Mezzadri (2007) the mean trace is about -0.83 at n = 4.
    n, count = 4, 2000
    log_term = 2 * math.log(2 / ALPHA)
    b = log_term * n / 3 / count
    bound = (b + math.sqrt(b * b + 4 * log_term / count)) / 2
    weight = initconv.orthogonal_(torch.empty(count * n, n), groups=count, generator=_generator(0))
    traces = weight.view(count, n, n).diagonal(dim1=1, dim2=2).sum(-1)
    assert abs(float(traces.mean())) <= bound
    # Power: the uncorrected QR of the same kind of draws is rejected.
    gaussian = torch.randn(count, n, n, generator=_generator(1))
    uncorrected = torch.linalg.qr(gaussian).Q.diagonal(dim1=1, dim2=2).sum(-1)
    assert abs(float(uncorrected.mean())) > bound


def test_orthogonal_check_catches_a_one_percent_error_in_one_entry() -> None:
    layer = OrthogonalConv2d(4, 8, 3, seed=0)
    with torch.no_grad():
        layer.weight[0, 0, 0, 0] *= 1.01
    with pytest.raises(AssertionError, match=r"not orthogonal up to the gain: max \|W W\^T"):
        layer.check_invariants()


def test_tall_orthogonal_check_reports_the_column_gram_matrix() -> None:
    layer = OrthogonalConv2d(1, 16, 2, seed=0, gain=2.0)
    layer.check_invariants()
    with torch.no_grad():
        layer.weight.mul_(1.001)
    with pytest.raises(AssertionError, match=r"group 0 \(16 x 4\).*W\^T W - g\^2 I"):
        layer.check_invariants()


# --- Delta-orthogonal ---------------------------------------------------------------------------


def test_delta_orthogonal_centre_is_torch_orthogonal_of_the_out_by_in_matrix() -> None:
    layer = DeltaOrthogonalConv2d(8, 16, 5, activation="tanh", seed=3)
    weight = layer.weight.detach()
    expected = _torch_orthogonal((16, 8), 3, 5 / 3, torch.float32)
    assert torch.equal(weight[:, :, 2, 2], expected)
    weight[:, :, 2, 2] = 0
    assert torch.count_nonzero(weight) == 0


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, (2, 5)])
def test_delta_orthogonal_layer_preserves_every_pixels_norm_with_padding_same(
    kernel_size: int | tuple[int, int],
) -> None:
    # H^T H = I makes each pixel's channel vector keep its norm, also for even kernels, whose centre
    # (k - 1) // 2 is the tap padding="same" aligns with the output pixel.
    layer = DeltaOrthogonalConv2d(
        6, 12, kernel_size, padding="same", bias=False, groups=2, dtype=torch.float64, seed=1
    )
    x = torch.randn(2, 6, 7, 9, generator=_generator(2), dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1))


def test_delta_orthogonal_with_fewer_outputs_than_inputs_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"needs out_channels >= in_channels.*out_channels=8"):
        DeltaOrthogonalConv2d(16, 8, 3)
    with pytest.raises(ValueError, match=r"needs out_channels >= in_channels"):
        DeltaOrthogonalConv2d(16, 8, 3, device="meta")


def test_delta_orthogonal_check_catches_a_nonzero_off_centre_tap_however_small() -> None:
    layer = DeltaOrthogonalConv2d(4, 8, 3, seed=0)
    layer.check_invariants()
    with torch.no_grad():
        layer.weight[3, 1, 0, 2] = 1e-30
    with pytest.raises(AssertionError, match=r"1 entries off the centre tap \(1, 1\) are nonzero"):
        layer.check_invariants()


# --- Identity -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, (3, 2)])
def test_identity_layer_is_exactly_the_identity_map_when_in_equals_out(
    kernel_size: int | tuple[int, int], groups: int
) -> None:
    layer = IdentityConv2d(6, 6, kernel_size, padding="same", groups=groups)
    x = torch.randn(2, 6, 5, 7, generator=_generator(0))
    with torch.no_grad():
        assert torch.equal(layer(x), x)
    layer.check_invariants()


@pytest.mark.parametrize("groups", [1, 3])
def test_identity_equals_torch_dirac_times_the_gain_for_odd_kernels(groups: int) -> None:
    layer = IdentityConv2d(6, 12, 5, groups=groups, activation="relu")
    expected = nn.init.dirac_(torch.empty(12, 6 // groups, 5, 5), groups) * math.sqrt(2)
    assert torch.equal(layer.weight.detach(), expected)


@pytest.mark.parametrize(("in_channels", "out_channels"), [(3, 5), (5, 3)])
def test_partial_identity_passes_the_first_channels_and_zeroes_the_rest(
    in_channels: int, out_channels: int
) -> None:
    # ZerO (Zhao et al. 2022): more outputs -> the extra ones are zero; fewer -> extra inputs dropped.
    layer = IdentityConv2d(in_channels, out_channels, 3, padding=1)
    x = torch.randn(2, in_channels, 4, 4, generator=_generator(0))
    with torch.no_grad():
        y = layer(x)
    kept = min(in_channels, out_channels)
    assert torch.equal(y[:, :kept], x[:, :kept])
    assert torch.count_nonzero(y[:, kept:]) == 0


def test_identity_gain_sets_the_diagonal_and_the_layers_gain() -> None:
    layer = IdentityConv2d(4, 4, 3, padding=1, identity_gain=0.5)
    x = torch.randn(1, 4, 3, 3, generator=_generator(0))
    with torch.no_grad():
        assert torch.equal(layer(x), 0.5 * x)
    assert layer.gain == 0.5
    assert "identity_gain=0.5" in repr(layer)


def test_identity_gain_and_gain_together_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"give identity_gain or gain, not both"):
        IdentityConv2d(4, 4, 3, identity_gain=2.0, gain=1.0)
    with pytest.raises(ValueError, match=r"identity_gain must be finite and >= 0, got -1"):
        IdentityConv2d(4, 4, 3, identity_gain=-1)


def test_identity_gain_set_on_a_built_layer_is_read_at_the_next_reset() -> None:
    layer = IdentityConv2d(4, 4, 3, padding=1, identity_gain=2.0)
    layer.identity_gain = 3.0
    layer.reset_parameters()
    assert layer.gain == 3.0
    assert float(layer.weight.detach().max()) == 3.0
    layer.check_invariants()
    # One setting: a gain set since is the identity gain too.
    layer.gain = 0.5
    layer.reset_parameters()
    assert layer.identity_gain == 0.5
    assert float(layer.weight.detach().max()) == 0.5


def test_identity_gain_set_to_a_bad_value_is_refused_by_name() -> None:
    layer = IdentityConv2d(4, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r"identity_gain must be finite and >= 0, got -2"):
        layer.identity_gain = -2
    with pytest.raises(TypeError, match=r"identity_gain must be a float, got str 'big'"):
        layer.identity_gain = "big"  # type: ignore[assignment]
    assert layer.gain == 1.0


@pytest.mark.parametrize(
    ("dtype", "gain"),
    [
        (torch.float32, 1e-46),
        (torch.float32, 1e-40),
        (torch.float16, 1e-5),
        (torch.bfloat16, 1e-40),
    ],
)
def test_identity_refuses_a_gain_its_dtype_cannot_hold_to_its_precision(
    dtype: torch.dtype, gain: float
) -> None:
    # Below the smallest normal a gain is a subnormal stored off by up to 50%, or 0 (all zeros,
    # and check_invariants, comparing in the same dtype, passed): refused as orthogonal is.
    tiny = f"{torch.finfo(dtype).smallest_normal:.6g}".replace("+", r"\+")
    with pytest.raises(ValueError, match=rf"gain must be 0 or at least {tiny} in size"):
        IdentityConv2d(4, 4, 3, padding=1, gain=gain, dtype=dtype)
    with pytest.raises(ValueError, match=rf"identity_gain must be 0 or at least {tiny}"):
        IdentityConv2d(4, 4, 3, padding=1, identity_gain=gain, dtype=dtype)
    with pytest.raises(ValueError, match=rf"gain must be 0 or at least {tiny}"):
        initconv.identity_(torch.empty(4, 4, 3, 3, dtype=dtype), gain)
    IdentityConv2d(4, 4, 3, padding=1, gain=0.0, dtype=dtype).check_invariants()


def test_identity_refuses_a_gain_that_turns_subnormal_when_the_layer_is_cast() -> None:
    layer = IdentityConv2d(4, 4, 3, padding=1, gain=1e-6)
    before = layer.weight.detach().clone()
    layer.half()
    with pytest.raises(ValueError, match=r"gain must be 0 or at least 6\.10352e-05 .* float16"):
        layer.reset_parameters()
    assert torch.equal(layer.weight.float(), before.half().float())


@pytest.mark.parametrize(
    ("kernel_size", "dilation"), [(2, 2), (4, 2), (2, 3), ((3, 2), (1, 2)), ((2, 3), (2, 1))]
)
def test_identity_refuses_an_even_dilated_kernel_with_padding_same(
    kernel_size: int | tuple[int, int], dilation: int | tuple[int, int]
) -> None:
    # 'same' pads d (k - 1) // 2 in front, so tap t sits t d - d (k - 1) // 2 from the output
    # pixel: never 0 for an even k and d > 1. Such a layer shifts by a pixel; refused, as a
    # strided transposed layer is, rather than warned about.
    with pytest.raises(ValueError, match=r"padding='same' needs an odd kernel wherever the dil"):
        IdentityConv2d(2, 2, kernel_size, padding="same", dilation=dilation)


@pytest.mark.parametrize(
    ("kernel_size", "dilation"), [(2, 1), (4, 1), (3, 2), (5, 3), ((3, 2), (2, 1))]
)
def test_identity_with_padding_same_is_the_identity_wherever_it_is_built(
    kernel_size: int | tuple[int, int], dilation: int | tuple[int, int]
) -> None:
    layer = IdentityConv2d(2, 2, kernel_size, padding="same", dilation=dilation, bias=False)
    x = torch.randn(1, 2, 7, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(layer(x), x)


def test_identity_check_catches_the_smallest_change() -> None:
    layer = IdentityConv2d(4, 4, 3)
    with torch.no_grad():
        layer.weight[0, 0, 1, 1] = torch.nextafter(torch.tensor(1.0), torch.tensor(2.0))
    with pytest.raises(AssertionError, match=r"1 entries differ from the Dirac kernel"):
        layer.check_invariants()


# --- ICNR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias_init", ["zeros", "torch"])
@pytest.mark.parametrize(("upscale_factor", "groups"), [(1, 1), (2, 1), (2, 2), (3, 1)])
def test_icnr_then_pixel_shuffle_is_constant_within_each_block_of_a_random_input(
    upscale_factor: int, groups: int, bias_init: str
) -> None:
    r = upscale_factor
    layer = ICNRConv2d(
        4, 2 * groups * r * r, 3, padding=1, groups=groups, upscale_factor=r, bias_init=bias_init
    )
    x = torch.randn(2, 4, 6, 5, generator=_generator(0))
    with torch.no_grad():
        y = nn.PixelShuffle(r)(layer(x))
    blocks = y.unfold(2, r, r).unfold(3, r, r)
    assert torch.equal(blocks, blocks[..., :1, :1].expand_as(blocks))
    assert y.std() > 0
    layer.check_invariants()


def test_icnr_sub_kernel_is_the_base_scheme_with_the_layers_gain_and_generator() -> None:
    layer = ICNRConv2d(8, 36, 3, upscale_factor=3, base="orthogonal", activation="tanh", seed=4)
    base = OrthogonalConv2d(8, 4, 3, activation="tanh", seed=4)
    assert torch.equal(layer.weight.detach()[::9], base.weight.detach())
    assert layer.expected_variance() == base.expected_variance()


def test_icnr_takes_the_base_schemes_default_activation_and_options() -> None:
    assert ICNRConv2d(4, 8, 3).activation == "relu"
    xavier = ICNRConv2d(4, 8, 3, base=initconv.XavierNormalConv2d)
    assert (xavier.activation, xavier.gain, xavier.base) == ("linear", 1.0, "xavier_normal")
    fan_out = ICNRConv2d(4, 8, 3, base_options={"mode": "fan_out"})
    # Kaiming fan_out of the sub-kernel: 2 outputs x 9 taps.
    assert fan_out.expected_variance() == pytest.approx(2 / 18, rel=1e-15)
    assert "base_options={'mode': 'fan_out'}" in repr(fan_out)


def test_icnr_check_runs_the_base_schemes_own_check_on_the_sub_kernel() -> None:
    layer = ICNRConv2d(4, 8, 3, base="orthogonal", seed=0)
    layer.check_invariants()
    with torch.no_grad():
        layer.weight.mul_(1.01)
    with pytest.raises(AssertionError, match=r"OrthogonalConv2d: the flattened weight"):
        layer.check_invariants()


def test_icnr_check_catches_one_changed_entry_in_a_run() -> None:
    layer = ICNRConv2d(4, 8, 3, seed=0)
    with torch.no_grad():
        layer.weight[5, 0, 0, 0] += 1
    with pytest.raises(AssertionError, match=r"weight of output channels 4\.\.7 .* not one value"):
        layer.check_invariants()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"upscale_factor": 2}, ValueError, r"divisible by groups \* upscale_factor\*\*2 = 4"),
        ({"upscale_factor": 0}, ValueError, r"upscale_factor must be >= 1, got 0"),
        ({"upscale_factor": 2.0}, TypeError, r"upscale_factor must be an int, got float 2\.0"),
        (
            {"base": "icnr"},
            ValueError,
            r"base must be one of \('critical', 'delta_orthogonal', .*got 'icnr'",
        ),
        ({"base": "kaiming"}, ValueError, r"base must be one of .* got 'kaiming'"),
        ({"base_options": {"gain": 2}}, ValueError, r"must take keys from \('mode',\), got 'gain'"),
        ({"base_options": [("mode", "fan_in")]}, TypeError, r"base_options must be a mapping"),
    ],
)
def test_icnr_rejects_what_it_cannot_serve_with_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ICNRConv2d(4, 6, 3, **kwargs)


def test_icnr_passes_the_base_schemes_own_errors_through() -> None:
    # The sub-kernel has 16 / 4 = 4 outputs for 8 inputs: delta-orthogonal cannot serve it.
    with pytest.raises(ValueError, match=r"out_channels=4, in_channels=8"):
        ICNRConv2d(8, 16, 3, base="delta_orthogonal")


# --- Zero ---------------------------------------------------------------------------------------


def test_zero_conv_outputs_exactly_zero_and_still_learns() -> None:
    layer = ZeroConv2d(4, 8, 3, padding=1)
    x = torch.randn(2, 4, 5, 5, generator=_generator(0))
    y = layer(x)
    assert torch.count_nonzero(y) == 0
    y.square().add(y).sum().backward()
    assert layer.weight.grad is not None
    assert torch.count_nonzero(layer.weight.grad) > 0


@pytest.mark.parametrize("bias_init", ["torch", 0.5])
def test_zero_conv_with_a_nonzero_bias_is_a_value_error(bias_init: str | float) -> None:
    with pytest.raises(ValueError, match=r"bias_init must be one of \('zeros',\) or 0\.0"):
        ZeroConv2d(4, 8, 3, bias_init=bias_init)


def test_zero_conv_check_catches_a_nonzero_bias() -> None:
    layer = ZeroConv2d(4, 8, 3)
    assert layer.bias is not None
    with torch.no_grad():
        layer.bias[3] = 1e-30
    with pytest.raises(AssertionError, match=r"1 entries of bias are nonzero"):
        layer.check_invariants()


# --- Every structured scheme --------------------------------------------------------------------


def test_every_structured_scheme_is_registered_and_exported() -> None:
    for name in STRUCTURED:
        scheme = initconv.schemes()[name]
        assert getattr(initconv, scheme.__name__) is scheme
        cls = initconv.layer_class(name, torch.nn.Conv2d)
        assert getattr(initconv, cls.__name__) is cls
        # ICNR's independent weights are its base's draws, so its family is the base's.
        expected = "normal" if name == "icnr" else None
        assert cls(4, 8, 3).expected_distribution() == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STRUCTURED)
def test_every_structured_scheme_serves_every_floating_dtype(name: str, dtype: torch.dtype) -> None:
    layer = _valid_layer(name, dtype=dtype, activation="tanh", seed=0)
    assert layer.weight.dtype == dtype
    assert torch.isfinite(layer.weight).all()
    layer.check_invariants()
    layer.reset_parameters()
    assert layer.weight.dtype == dtype
    layer.check_invariants()


@pytest.mark.parametrize("name", STRUCTURED)
def test_meta_construction_then_to_empty_and_reset_gives_the_same_weights(name: str) -> None:
    meta = _valid_layer(name, device="meta", seed=11, bias_init="zeros")
    meta.check_invariants()
    meta.to_empty(device="cpu")
    meta.reset_parameters()
    direct = _valid_layer(name, seed=11)
    assert torch.equal(meta.weight, direct.weight)
    meta.check_invariants()


@pytest.mark.parametrize("name", STRUCTURED)
def test_pickle_and_deepcopy_keep_the_configuration_and_the_weights_on_reset(name: str) -> None:
    layer = _valid_layer(name, seed=6)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert repr(clone) == repr(layer)
        clone.reset_parameters()
        assert torch.equal(clone.weight, layer.weight)


@pytest.mark.parametrize(
    ("function", "shape", "kwargs", "match"),
    [
        (initconv.delta_orthogonal_, (4, 8, 3, 3), {}, r"needs out_channels >= in_channels"),
        (initconv.icnr_, (6, 4, 3, 3), {"upscale_factor": 2}, r"divisible by groups"),
        (initconv.orthogonal_, (6, 4, 3, 3), {"groups": 4}, r"groups must be a positive divisor"),
        (initconv.identity_, (6, 4, 3, 3), {"gain": -1.0}, r"gain must be finite and >= 0"),
        (initconv.orthogonal_, (6,), {}, r"tensor must have at least 2 dimensions"),
    ],
)
def test_functional_errors_leave_the_tensor_untouched(
    function: Callable[..., Tensor], shape: tuple[int, ...], kwargs: dict[str, Any], match: str
) -> None:
    tensor = torch.randn(shape, generator=_generator(0))
    before = tensor.clone()
    with pytest.raises(ValueError, match=match):
        function(tensor, **kwargs)
    assert torch.equal(tensor, before)


def test_functional_initialisers_reject_integer_tensors() -> None:
    with pytest.raises(TypeError, match=r"tensor must be a floating point torch\.Tensor"):
        initconv.orthogonal_(torch.zeros(4, 4, dtype=torch.int64))


@st.composite
def _structured_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A scheme and a configuration it serves, valid by construction."""
    name = draw(st.sampled_from(STRUCTURED))
    groups = draw(st.integers(1, 3))
    per_in = draw(st.integers(1, 4))
    upscale_factor = draw(st.integers(1, 3))
    if name == "delta_orthogonal":
        per_out = per_in + draw(st.integers(0, 4))
    elif name == "icnr":
        per_out = upscale_factor**2 * draw(st.integers(1, 2))
    else:
        per_out = draw(st.integers(1, 6))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    options: dict[str, Any] = {
        "in_channels": groups * per_in,
        "out_channels": groups * per_out,
        "kernel_size": kernel,
        "groups": groups,
        "dtype": draw(st.sampled_from(DTYPES)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    if draw(st.booleans()):
        options["activation"] = draw(st.sampled_from(["linear", "relu", "tanh", "gelu", "selu"]))
    else:
        # From 1e-3 down float16 weights go subnormal; far smaller gains underflow float64's own
        # second moment, which no weight could then match.
        options["gain"] = draw(st.one_of(st.just(0.0), st.floats(1e-3, 4.0)))
    if name == "icnr":
        options["upscale_factor"] = upscale_factor
        # Bases whose per-group sub-kernel is always servable here.
        options["base"] = draw(st.sampled_from(["kaiming_normal", "orthogonal", "zero"]))
    return name, options


@settings(max_examples=60, deadline=None)
@given(_structured_configs())
def test_every_drawn_configuration_keeps_its_invariants_and_exact_second_moment(
    config: tuple[str, dict[str, Any]],
) -> None:
    name, options = config
    layer = initconv.conv2d(name, **options)
    layer.check_invariants()
    if name != "icnr":
        # Exact for these schemes: mean((w - expected_mean)^2) is fixed by the construction.
        expected = layer.expected_variance()
        measured = _second_moment_about_mean(layer)
        second_moment = expected + layer.expected_mean() ** 2
        tolerance = _second_moment_tolerance(layer.weight.dtype, second_moment)
        assert abs(measured - expected) <= tolerance
