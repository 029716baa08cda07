"""The layer contract: a drop-in nn.Conv2d whose reset_parameters() applies its scheme."""

from __future__ import annotations

import copy
import io
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import Tensor, nn

import initconv
from initconv import InitConv2d, testing

CORE_SCHEMES = (
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
    "lecun_normal",
    "lecun_uniform",
    "variance_scaling",
    "uniform",
    "normal",
    "torch_default",
)

# One false alarm in 10^6 runs per statistical check in this file (the chi-square band is
# exact for normal weights).
ALPHA = 1e-6


def _seeded(init: Callable[..., Any], shape: tuple[int, ...], seed: int, **kwargs: Any) -> Tensor:
    weight = torch.empty(shape)
    init(weight, generator=initconv.seeded_generator(seed), **kwargs)
    return weight


# --- Drop-in behaviour -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORE_SCHEMES)
def test_every_scheme_is_an_nn_conv2d_with_the_same_state_dict_keys(name: str) -> None:
    conv = initconv.conv2d(name, 4, 8, 3)
    assert isinstance(conv, nn.Conv2d)
    assert list(conv.state_dict()) == list(nn.Conv2d(4, 8, 3).state_dict())


@pytest.mark.parametrize("name", sorted(initconv.schemes()))
def test_state_dict_round_trips_with_nn_conv2d_in_both_directions(name: str) -> None:
    layer = initconv.conv2d(name, 4, 16, 3, padding=1, seed=0)
    plain = nn.Conv2d(4, 16, 3, padding=1)
    plain.load_state_dict(layer.state_dict(), strict=True)
    assert torch.equal(plain.weight, layer.weight)
    donor = nn.Conv2d(4, 16, 3, padding=1)
    layer.load_state_dict(donor.state_dict(), strict=True)
    assert torch.equal(layer.weight, donor.weight)
    assert layer.bias is not None
    assert donor.bias is not None
    assert torch.equal(layer.bias, donor.bias)


@pytest.mark.parametrize("name", CORE_SCHEMES)
def test_pickle_and_deepcopy_keep_the_weights_and_the_configuration(name: str) -> None:
    conv = initconv.conv2d(name, 4, 8, 3, activation=nn.ELU(alpha=0.5), seed=3)
    for clone in (pickle.loads(pickle.dumps(conv)), copy.deepcopy(conv)):
        assert type(clone) is type(conv)
        assert torch.equal(clone.weight, conv.weight)
        assert (clone.activation, clone.gain, clone.seed) == (conv.activation, conv.gain, 3)
        assert repr(clone) == repr(conv)
        clone.reset_parameters()
        assert torch.equal(clone.weight, conv.weight)


def test_torch_save_and_load_round_trip_the_whole_layer() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, activation="gelu")
    buffer = io.BytesIO()
    torch.save(conv, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert torch.equal(loaded.weight, conv.weight)
    assert loaded.activation == "gelu"


@pytest.mark.slow  # compiling takes seconds; the default run checks compile on the layer kinds
def test_torch_compile_matches_eager() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, padding=1, activation="gelu")
    compiled = torch.compile(conv)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(compiled(x), conv(x))


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
def test_forward_is_f_conv2d_with_the_layers_weights(padding_mode: str) -> None:
    conv = initconv.XavierUniformConv2d(
        6,
        4,
        3,
        stride=2,
        padding=1,
        dilation=1,
        groups=2,
        padding_mode=padding_mode,  # type: ignore[arg-type]
    )
    x = torch.randn(2, 6, 9, 9)
    if padding_mode == "zeros":
        expected = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1, groups=2)
    else:
        padded = F.pad(x, (1, 1, 1, 1), mode=padding_mode)
        expected = F.conv2d(padded, conv.weight, conv.bias, stride=2, groups=2)
    assert torch.equal(conv(x), expected)


def test_meta_device_then_to_empty_then_reset_gives_the_schemes_distribution() -> None:
    conv = initconv.KaimingNormalConv2d(64, 64, 3, activation="relu", device="meta")
    assert conv.weight.is_meta
    conv.to_empty(device="cpu")
    torch.manual_seed(0)
    conv.reset_parameters()
    weight = conv.weight.detach().double()
    n = weight.numel()
    ratio = float((weight**2).mean()) / conv.expected_variance()
    # Mean-known second moment of normal draws: n * ratio ~ chi-square(n).
    lo, hi = stats.chi2.ppf(ALPHA / 2, n) / n, stats.chi2.isf(ALPHA / 2, n) / n
    assert lo <= ratio <= hi
    assert conv.bias is not None
    assert not conv.bias.any()


def test_meta_band_rejects_the_torch_default_variance() -> None:
    # The check above has power: torch's own init, a sixth of He's variance, falls far outside it.
    conv = nn.Conv2d(64, 64, 3)
    n = conv.weight.numel()
    ratio = float((conv.weight.detach().double() ** 2).mean()) / (2 / conv.weight[0].numel())
    assert ratio < stats.chi2.ppf(ALPHA / 2, n) / n


def test_channels_last_weight_keeps_its_layout_and_gets_the_same_values() -> None:
    conv = initconv.KaimingNormalConv2d(8, 16, 3, seed=4)
    last = initconv.KaimingNormalConv2d(8, 16, 3, seed=4).to(memory_format=torch.channels_last)
    last.reset_parameters()
    assert last.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(last.weight, conv.weight)


# --- Bit-for-bit agreement with torch.nn.init --------------------------------------------------


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "linear", "sigmoid", "leaky_relu"])
def test_kaiming_equals_torch_bit_for_bit_with_the_same_generator(
    mode: str, activation: str
) -> None:
    shape = (16, 8, 3, 5)
    for cls, init in (
        (initconv.KaimingNormalConv2d, nn.init.kaiming_normal_),
        (initconv.KaimingUniformConv2d, nn.init.kaiming_uniform_),
    ):
        conv = cls(8, 16, (3, 5), activation=activation, mode=mode, seed=11)  # type: ignore[arg-type]
        # kaiming_*'s own default slope is a=0; "leaky_relu" by name means calculate_gain's 0.01.
        a = 0.01 if activation == "leaky_relu" else 0.0
        expected = _seeded(init, shape, 11, a=a, mode=mode, nonlinearity=activation)
        assert torch.equal(conv.weight, expected)


def test_defaults_draw_what_torchs_functions_draw_with_their_defaults() -> None:
    cases: list[tuple[type[InitConv2d], Callable[..., Any]]] = [
        (initconv.KaimingNormalConv2d, nn.init.kaiming_normal_),
        (initconv.KaimingUniformConv2d, nn.init.kaiming_uniform_),
        (initconv.XavierNormalConv2d, nn.init.xavier_normal_),
        (initconv.XavierUniformConv2d, nn.init.xavier_uniform_),
        (initconv.UniformConv2d, nn.init.uniform_),
        (initconv.NormalConv2d, nn.init.normal_),
    ]
    for cls, init in cases:
        assert torch.equal(cls(3, 8, 3, seed=5).weight, _seeded(init, (8, 3, 3, 3), 5)), cls


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_xavier_equals_torch_bit_for_bit_with_the_activations_gain(activation: str) -> None:
    gain = nn.init.calculate_gain(activation)  # type: ignore[arg-type]
    for cls, init in (
        (initconv.XavierNormalConv2d, nn.init.xavier_normal_),
        (initconv.XavierUniformConv2d, nn.init.xavier_uniform_),
    ):
        conv = cls(6, 10, 3, activation=activation, seed=2)
        assert torch.equal(conv.weight, _seeded(init, (10, 6, 3, 3), 2, gain=gain))


def test_lecun_normal_equals_kaiming_normal_with_a_linear_gain() -> None:
    conv = initconv.LeCunNormalConv2d(6, 10, 3, seed=9)
    expected = _seeded(nn.init.kaiming_normal_, (10, 6, 3, 3), 9, nonlinearity="linear")
    assert torch.equal(conv.weight, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("rest", [0, 5, 15, 16, 21])
def test_normal_drawn_in_pieces_equals_one_normal_call_bit_for_bit(
    dtype: torch.dtype, rest: int
) -> None:
    # Seams between the pieces, and a remainder below and above the 16 values torch transforms at
    # a time; 5 and 15 are merged into the last full piece.
    n = 2 * initconv._maths.sampling.NORMAL_PIECE + rest
    pieces = torch.empty(n, dtype=dtype)
    initconv._maths.sampling.draw_normal_(pieces, 0.5, 2.0, torch.Generator().manual_seed(13))
    whole = torch.empty(n, dtype=dtype).normal_(
        0.5, 2.0, generator=torch.Generator().manual_seed(13)
    )
    assert torch.equal(pieces, whole)


def test_large_normal_layers_equal_torch_bit_for_bit() -> None:
    # 256 x 256 x 3 x 3 = 9 pieces of 65,536 values: the layer path, not only the helper.
    conv = initconv.KaimingNormalConv2d(256, 256, 3, activation="relu", seed=3)
    assert torch.equal(conv.weight, _seeded(nn.init.kaiming_normal_, (256, 256, 3, 3), 3))
    normal = initconv.NormalConv2d(256, 256, 3, mean=1.0, std=0.1, seed=3)
    expected = _seeded(nn.init.normal_, (256, 256, 3, 3), 3, mean=1.0, std=0.1)
    assert torch.equal(normal.weight, expected)


def test_uniform_and_normal_take_torchs_arguments() -> None:
    uniform = initconv.UniformConv2d(3, 4, 3, low=-0.5, high=2.0, seed=1)
    assert torch.equal(uniform.weight, _seeded(nn.init.uniform_, (4, 3, 3, 3), 1, a=-0.5, b=2.0))
    normal = initconv.NormalConv2d(3, 4, 3, mean=1.0, std=0.1, seed=1)
    assert torch.equal(normal.weight, _seeded(nn.init.normal_, (4, 3, 3, 3), 1, mean=1.0, std=0.1))


@pytest.mark.parametrize("groups", [1, 4])
def test_torch_default_is_nn_conv2d_bit_for_bit_weight_and_bias(groups: int) -> None:
    with torch.random.fork_rng():
        torch.set_rng_state(initconv.seeded_generator(123).get_state())
        reference = nn.Conv2d(8, 16, 3, groups=groups)
    ours = initconv.TorchDefaultConv2d(8, 16, 3, groups=groups, seed=123)
    assert torch.equal(ours.weight, reference.weight)
    assert ours.bias is not None
    assert reference.bias is not None
    assert torch.equal(ours.bias, reference.bias)
    assert ours.expected_variance() == pytest.approx(1 / (3 * 8 / groups * 9), rel=1e-15)


def test_torch_default_variance_is_a_sixth_of_he_for_relu() -> None:
    default = initconv.TorchDefaultConv2d(64, 64, 3)
    he = initconv.KaimingNormalConv2d(64, 64, 3, activation="relu")
    assert he.expected_variance() / default.expected_variance() == pytest.approx(6, rel=1e-12)


def test_the_jax_names_are_string_aliases_of_the_same_classes() -> None:
    assert initconv.layer_class("he_normal", "conv2d") is initconv.KaimingNormalConv2d
    assert initconv.layer_class("he_uniform", "conv2d") is initconv.KaimingUniformConv2d
    assert initconv.layer_class("glorot_normal", "conv2d") is initconv.XavierNormalConv2d
    assert initconv.layer_class("glorot_uniform", "conv2d") is initconv.XavierUniformConv2d
    assert not hasattr(initconv, "HeNormalConv2d")


# --- Theory -------------------------------------------------------------------------------------


def test_expected_variance_follows_the_scheme_formulas() -> None:
    g = initconv.gain("gelu")
    kw: dict[str, Any] = {"activation": "gelu"}
    fan_in, fan_out = 2 * 9, 3 * 9  # 8 -> 12 channels in 4 groups, 3x3
    layer = initconv.KaimingNormalConv2d(8, 12, 3, groups=4, **kw)
    assert layer.expected_variance() == pytest.approx(g**2 / fan_in)
    layer = initconv.KaimingUniformConv2d(8, 12, 3, groups=4, mode="fan_out", **kw)
    assert layer.expected_variance() == pytest.approx(g**2 / fan_out)
    layer = initconv.XavierNormalConv2d(8, 12, 3, groups=4, **kw)
    assert layer.expected_variance() == pytest.approx(2 * g**2 / (fan_in + fan_out))
    layer = initconv.LeCunUniformConv2d(8, 12, 3, groups=4)
    assert layer.expected_variance() == pytest.approx(1 / fan_in)
    layer = initconv.VarianceScalingConv2d(8, 12, 3, groups=4, scale=3.0, mode="fan_avg", **kw)
    assert layer.expected_variance() == pytest.approx(3 * g**2 / ((fan_in + fan_out) / 2))
    layer = initconv.UniformConv2d(8, 12, 3, low=1.0, high=4.0)
    assert (layer.expected_mean(), layer.expected_variance()) == (2.5, 0.75)


def test_truncated_normal_is_cut_at_two_of_its_own_deviations() -> None:
    conv = initconv.VarianceScalingConv2d(64, 64, 3, scale=2.0, seed=0)
    sigma = math.sqrt(conv.expected_variance()) / 0.87962566103423978
    weight = conv.weight.detach()
    assert float(weight.abs().max()) <= 2 * sigma
    # P(1.9 < |Z| | |Z| <= 2) = 0.0125: a cut at 2 sigma leaves a shoulder right below it. Of
    # n = 36,864 draws that is 461 expected, sd 21; the bound 0.005 n = 184 is 13 sd below.
    assert float((weight.abs() > 1.9 * sigma).float().mean()) > 0.005


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_truncated_normal_sampler_draws_the_truncated_normal_into_strided_tensors(
    dtype: torch.dtype,
) -> None:
    # A transposed tensor goes through the sampler's contiguous scratch. KS at ALPHA_CHECK with
    # 200k values: the kit's own test shows this n tells a truncated normal from a plain one.
    weight = torch.empty(400, 500, dtype=dtype).t()
    generator = torch.Generator().manual_seed(21)
    initconv._maths.sampling.truncated_normal_(weight, 0.5, generator)
    testing.assert_distribution(
        weight.flatten(), "truncated_normal", (0.5 * 0.87962566103423978) ** 2
    )
    assert float(weight.abs().max()) <= 1.0


def test_truncated_normal_sampler_is_reproducible_and_bounded_in_bfloat16() -> None:
    draws = []
    for _ in range(2):
        weight = torch.empty(256, 256, 3, 3, dtype=torch.bfloat16)
        initconv._maths.sampling.truncated_normal_(weight, 1.0, torch.Generator().manual_seed(22))
        draws.append(weight)
    assert torch.equal(draws[0], draws[1])
    assert float(draws[0].abs().max()) <= 2.0
    # The shoulder under the cut (see the test above): 1.25% expected, sd 0.015% at n = 589,824.
    assert float((draws[0].abs() > 1.9).float().mean()) > 0.01


def test_truncated_normal_constant_is_the_std_of_the_truncated_standard_normal() -> None:
    variance = stats.truncnorm(-2, 2).var()
    assert math.sqrt(variance) == pytest.approx(0.87962566103423978, rel=1e-15)


# --- The reset_parameters contract --------------------------------------------------------------


class _Counting(initconv.KaimingNormalConv2d):
    calls = 0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        type(self).calls += 1
        super().init_weight(weight, generator)


def test_construction_initialises_the_weight_exactly_once() -> None:
    _Counting.calls = 0
    _Counting(4, 8, 3)
    assert _Counting.calls == 1


def test_seeded_construction_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    state = torch.get_rng_state()
    initconv.KaimingNormalConv2d(4, 8, 3, seed=1, bias_init="torch")
    assert torch.equal(torch.get_rng_state(), state)


def test_seed_gives_the_same_weights_on_every_reset_whatever_the_global_rng() -> None:
    conv = initconv.XavierNormalConv2d(4, 8, 3, seed=7, bias_init="torch")
    weight, bias = conv.weight.clone(), conv.get_parameter("bias").clone()
    torch.manual_seed(99)
    torch.randn(100)
    conv.reset_parameters()
    assert torch.equal(conv.weight, weight)
    assert torch.equal(conv.get_parameter("bias"), bias)
    other = initconv.XavierNormalConv2d(4, 8, 3, seed=8)
    assert not torch.equal(other.weight, weight)


def test_reset_parameters_keeps_the_parameter_objects_dtype_and_requires_grad() -> None:
    conv = initconv.KaimingUniformConv2d(4, 8, 3, dtype=torch.float64)
    conv.weight.requires_grad_(False)
    weight = conv.weight
    conv.reset_parameters()
    assert conv.weight is weight
    assert conv.weight.dtype == torch.float64
    assert not conv.weight.requires_grad
    assert conv.get_parameter("bias").requires_grad


def test_reset_runs_without_recording_autograd_history() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3)
    conv.reset_parameters()
    assert conv.weight.grad_fn is None
    assert conv.weight.is_leaf


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", CORE_SCHEMES)
def test_every_floating_dtype_is_served(name: str, dtype: torch.dtype) -> None:
    conv = initconv.conv2d(name, 4, 8, 3, dtype=dtype, bias_init="torch")
    assert conv.weight.dtype == dtype
    assert bool(torch.isfinite(conv.weight).all())
    assert bool(conv.weight.any())


@pytest.mark.parametrize("bias_init", ["zeros", "torch", 0.25])
def test_bias_init_options(bias_init: str | float) -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, bias_init=bias_init, seed=0)
    bias = conv.get_parameter("bias").detach()
    if bias_init == "zeros":
        assert not bias.any()
    elif bias_init == "torch":
        bound = 1 / math.sqrt(4 * 9)
        assert float(bias.abs().max()) <= bound
        assert len(set(bias.tolist())) == 8
    else:
        assert torch.equal(bias, torch.full((8,), 0.25))


def test_layer_without_bias_initialises_only_the_weight() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, bias=False)
    assert conv.bias is None
    conv.reset_parameters()


def test_zero_element_weight_warns_as_torch_does() -> None:
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        initconv.KaimingNormalConv2d(0, 4, 3)


def test_failure_in_the_bias_hook_leaves_weight_and_bias_untouched() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, bias_init=0.5)
    weight, bias = conv.weight.clone(), conv.get_parameter("bias").clone()

    def failing(bias: Tensor, generator: torch.Generator | None) -> None:
        raise RuntimeError("the bias hook fails")

    conv.init_bias = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="the bias hook fails"):
        conv.reset_parameters()
    assert torch.equal(conv.weight, weight)
    assert torch.equal(conv.get_parameter("bias"), bias)


def test_a_bias_init_set_to_a_bad_value_fails_before_writing() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, bias_init=0.5)
    weight, bias = conv.weight.clone(), conv.get_parameter("bias").clone()
    conv.bias_init = "bogus"
    with pytest.raises(
        ValueError, match=r"bias_init must be one of \('normal', 'torch', 'zeros'\)"
    ):
        conv.reset_parameters()
    assert torch.equal(conv.weight, weight)
    assert torch.equal(conv.get_parameter("bias"), bias)


def test_options_changed_to_bad_values_after_construction_fail_before_writing() -> None:
    conv = initconv.VarianceScalingConv2d(4, 8, 3)
    weight = conv.weight.clone()
    conv.distribution = "cauchy"
    with pytest.raises(ValueError, match=r"distribution must be one of \(.*\), got 'cauchy'"):
        conv.reset_parameters()
    conv.distribution, conv.mode = "normal", "fan_sideways"
    with pytest.raises(ValueError, match=r"mode must be one of \(.*\), got 'fan_sideways'"):
        conv.reset_parameters()
    assert torch.equal(conv.weight, weight)


# --- Configuration, repr and registry -----------------------------------------------------------


def test_extra_repr_shows_scheme_activation_gain_and_only_changed_options() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, activation="gelu")
    assert repr(conv) == (
        "KaimingNormalConv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), "
        "scheme=kaiming_normal, activation=gelu, gain=1.534)"
    )
    conv = initconv.KaimingNormalConv2d(4, 8, 3, mode="fan_out", seed=3, bias_init="torch")
    assert "mode='fan_out'" in repr(conv)
    assert "seed=3" in repr(conv)
    assert "bias_init='torch'" in repr(conv)
    assert "bias_init" not in repr(initconv.TorchDefaultConv2d(4, 8, 3))
    assert "bias_init=0.0" in repr(initconv.TorchDefaultConv2d(4, 8, 3, bias_init=0.0))


def test_explicit_gain_overrides_the_activations() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, activation="tanh", gain=0.5)
    assert (conv.activation, conv.gain) == ("tanh", 0.5)
    assert conv.expected_variance() == pytest.approx(0.25 / 36)


def test_default_activations_follow_torchs_function_defaults() -> None:
    assert initconv.KaimingNormalConv2d(4, 8, 3).gain == math.sqrt(2)
    assert initconv.XavierUniformConv2d(4, 8, 3).gain == 1.0
    assert initconv.LeCunNormalConv2d(4, 8, 3).gain == 1.0


def test_activation_given_as_module_class_instance_or_callable() -> None:
    for spec in (nn.GELU, nn.GELU(), F.gelu, "gelu"):
        conv = initconv.KaimingNormalConv2d(4, 8, 3, activation=spec)
        assert (conv.activation, conv.gain) == ("gelu", initconv.gain("gelu"))


def test_the_layer_never_stores_the_activation_callable() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, activation=lambda x: x * torch.sigmoid(x))
    plain = (str, float, int, bool, type(None), tuple, dict, list)
    own = set(vars(conv)) - set(vars(nn.Conv2d(4, 8, 3)))
    assert own
    assert all(isinstance(getattr(conv, key), plain) for key in own)
    pickle.dumps(conv)


def test_schemes_lists_the_registered_classes_by_name() -> None:
    registry = initconv.schemes()
    assert list(registry) == sorted(registry)
    for name in CORE_SCHEMES:
        assert registry[name].scheme == name
    assert initconv.conv2d("he_normal", 4, 4, 3).scheme == "kaiming_normal"


def test_conv2d_builds_a_layer_by_scheme_name() -> None:
    conv = initconv.conv2d("xavier_uniform", 4, 8, 3, padding=1, activation="tanh")
    assert type(conv) is initconv.XavierUniformConv2d
    assert conv.padding == (1, 1)
    with pytest.raises(
        ValueError,
        match=r"scheme must be one of \(.*\), got 'kaiming'; did you mean 'kaiming_\w+'\?",
    ):
        initconv.conv2d("kaiming", 4, 8, 3)


def test_the_bare_base_is_abstract_and_names_the_schemes() -> None:
    with pytest.raises(
        TypeError, match=r"has no scheme of its own; construct one of \(.*'kaiming_normal'"
    ):
        InitConv2d(4, 8, 3)


def test_a_new_scheme_is_one_small_class(clean_schemes: None) -> None:
    class ConstantConv2d(InitConv2d, scheme="test_constant"):
        """W = c g / fan_in: a deterministic scheme, for the test."""

        def __init__(self, *args: Any, c: float = 1.0, **kwargs: Any) -> None:
            self.c = c
            super().__init__(*args, **kwargs)

        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            weight.fill_(self.c * self.gain / self.fan_in)

        def expected_variance(self) -> float:
            return 0.0

    conv = initconv.conv2d("test_constant", 2, 3, 3, c=2.0, activation="relu")
    assert isinstance(conv, ConstantConv2d)
    assert torch.equal(conv.weight, torch.full((3, 2, 3, 3), 2.0 * math.sqrt(2) / 18))
    assert "c=2.0" in repr(conv)
    assert initconv.schemes()["test_constant"] is ConstantConv2d


def test_registering_a_taken_scheme_name_names_both_classes(clean_schemes: None) -> None:
    with pytest.raises(
        ValueError,
        match=r"'kaiming_normal' is already registered by initconv\._schemes\.iid\.KaimingNormal;"
        r" test_layer_contract\..*Impostor needs another name",
    ):

        class Impostor(initconv.KaimingNormalConv2d, scheme="kaiming_normal"):
            pass

    assert initconv.schemes()["kaiming_normal"] is initconv.KaimingNormal


def test_a_scheme_must_state_its_theory(clean_schemes: None) -> None:
    with pytest.raises(TypeError, match=r"'no_theory' .* must override expected_variance\(\)"):

        class NoTheory(InitConv2d, scheme="no_theory"):
            def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
                weight.zero_()

    assert "no_theory" not in initconv.schemes()


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"mode": "fan_avg"},
            ValueError,
            r"mode must be one of \('fan_in', 'fan_out'\), got 'fan_avg'",
        ),
        ({"gain": -1.0}, ValueError, r"gain must be finite and >= 0, got -1.0"),
        ({"gain": math.nan}, ValueError, r"gain must be finite and >= 0, got nan"),
        ({"gain": "2"}, TypeError, r"gain must be a float, got str '2'"),
        (
            {"dtype": torch.int64},
            TypeError,
            r"dtype must be a floating point torch.dtype, got torch.int64",
        ),
        (
            {"bias_init": "ones"},
            ValueError,
            r"bias_init must be one of \('normal', 'torch', 'zeros'\) or a float, got 'ones'",
        ),
        ({"bias_init": math.inf}, ValueError, r"bias_init must be finite, got inf"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 1.5}, TypeError, r"seed must be an int or None, got float 1.5"),
        (
            {"activation": "rleu"},
            ValueError,
            r"activation must be one of .*got 'rleu'; did you mean 'relu'\?",
        ),
    ],
)
def test_bad_options_raise_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        initconv.KaimingNormalConv2d(4, 8, 3, **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (
            initconv.VarianceScalingConv2d,
            {"distribution": "cauchy"},
            ValueError,
            r"distribution must be one of \('normal', 'truncated_normal', 'uniform'\), got 'cauchy'",
        ),
        (
            initconv.VarianceScalingConv2d,
            {"mode": "avg"},
            ValueError,
            r"mode must be one of \('fan_avg', 'fan_in', 'fan_out'\), got 'avg'",
        ),
        (
            initconv.VarianceScalingConv2d,
            {"scale": -2.0},
            ValueError,
            r"scale must be finite and >= 0, got -2.0",
        ),
        (
            initconv.UniformConv2d,
            {"low": 1.0, "high": 0.0},
            ValueError,
            r"low must be <= high, got low=1.0, high=0.0",
        ),
        (initconv.UniformConv2d, {"low": math.nan}, ValueError, r"low must be finite, got nan"),
        (
            initconv.NormalConv2d,
            {"std": -0.1},
            ValueError,
            r"std must be finite and >= 0, got -0.1",
        ),
        (
            initconv.NormalConv2d,
            {"mean": None},
            TypeError,
            r"mean must be a float, got NoneType None",
        ),
    ],
)
def test_bad_scheme_options_raise_clear_errors(
    cls: type[InitConv2d], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        cls(4, 8, 3, **kwargs)


def test_bad_activation_callable_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="returned NaN or inf"):
        initconv.KaimingNormalConv2d(4, 8, 3, activation=torch.log)


def test_nn_conv2d_argument_errors_still_come_from_torch() -> None:
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        initconv.KaimingNormalConv2d(5, 8, 3, groups=2)


class _Doubled(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return 2 * x

    def right_inverse(self, x: Tensor) -> Tensor:
        return x / 2


def test_reset_reaches_a_parametrized_weight_through_its_right_inverse() -> None:
    conv = initconv.KaimingNormalConv2d(4, 8, 3, seed=6)
    expected = conv.weight.detach().clone()
    torch.nn.utils.parametrize.register_parametrization(conv, "weight", _Doubled())
    with torch.no_grad():
        conv.parametrizations.weight.original.zero_()
    conv.reset_parameters()
    assert torch.equal(conv.weight, expected)
