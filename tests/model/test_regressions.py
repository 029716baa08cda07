"""One test per way the library was found silently wrong: seeds, failed resets and restores,
activations the gain cannot mean, runaway quadrature, races, and inputs that overflow.

Each test failed on the code before these fixes; the numbers in the section headers are the order
in which the findings were listed.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

import initconv
from initconv import _activations
from initconv._maths.derived_gain import probe_evaluations
from initconv._maths.quadrature import MAX_EVALUATIONS
from initconv.testing import check_layer

Conv = initconv.KaimingNormalConv2d


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _same_state(model: nn.Module, before: dict[str, Tensor]) -> bool:
    after = model.state_dict()
    return set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before)


# --- 1. Seeds reach the generator whole ------------------------------------------------------


@pytest.mark.parametrize("multiple", [1, 2, 3, 2**31, 2**32 - 1])
def test_seeds_that_differ_by_a_multiple_of_2_to_the_32_give_different_weights(
    multiple: int,
) -> None:
    low = Conv(16, 16, 3, seed=5)
    high = Conv(16, 16, 3, seed=5 + multiple * 2**32)
    assert not torch.equal(low.weight, high.weight)


def test_the_largest_seed_differs_from_its_low_32_bits() -> None:
    top = 2**64 - 1
    assert not torch.equal(Conv(8, 8, 3, seed=top).weight, Conv(8, 8, 3, seed=top % 2**32).weight)


def test_seed_modules_pair_that_once_collided_gives_different_layers() -> None:
    # seed_modules(m, 4588) and seed_modules(m, 94084) give layer "0" seeds equal in their low 32
    # bits, which is all that torch's manual_seed keeps.
    first, second = nn.Sequential(Conv(16, 16, 3)), nn.Sequential(Conv(16, 16, 3))
    seeds = initconv.seed_modules(first, 4588), initconv.seed_modules(second, 94084)
    assert seeds[0]["0"] % 2**32 == seeds[1]["0"] % 2**32
    assert not torch.equal(first[0].weight, second[0].weight)


def test_ten_thousand_seeded_layers_are_pairwise_distinct() -> None:
    model = nn.ModuleList(initconv.KaimingNormalLinear(4, 4, bias=False) for _ in range(10_000))
    initconv.seed_modules(model, 2024)
    weights = torch.stack([layer.weight.detach().flatten() for layer in model])
    assert torch.unique(weights, dim=0).shape[0] == 10_000


def test_the_same_seed_gives_bit_identical_weights_every_time() -> None:
    seed = 2**63 + 12345
    first = Conv(8, 16, 3, seed=seed)
    second = Conv(8, 16, 3, seed=seed)
    assert torch.equal(first.weight, second.weight)
    first.reset_parameters()
    assert torch.equal(first.weight, second.weight)


def test_the_generator_keeps_the_whole_seed() -> None:
    seed = 2**64 - 2
    assert initconv.seeded_generator(seed).initial_seed() == seed
    expected = torch.empty(16, 8, 3, 3)
    nn.init.kaiming_normal_(expected, generator=initconv.seeded_generator(seed))
    assert torch.equal(Conv(8, 16, 3, seed=seed).weight, expected)


# --- 2. A failed reset writes neither the weight nor the bias ----------------------------------


class _Doubled(nn.Module):
    """A parametrization without right_inverse: assigning to the tensor it computes fails."""

    def forward(self, x: Tensor) -> Tensor:
        return x * 2


def test_a_reset_whose_bias_store_fails_leaves_the_weight_as_it_was() -> None:
    conv = Conv(4, 8, 3, seed=0)
    parametrize.register_parametrization(conv, "bias", _Doubled())
    before = _state(conv)
    conv.seed = 1
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        conv.reset_parameters()
    assert _same_state(conv, before)


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


# --- 3. A failed lsuv_ restores weight-normalised convolutions ---------------------------------


class _Fails(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("the model fails after the convolutions")


@pytest.mark.parametrize("make", [nn.Conv2d, initconv.KaimingNormalConv2d])
def test_a_failed_lsuv_restores_a_conv_with_weight_norm(make: Callable[..., nn.Module]) -> None:
    torch.manual_seed(0)
    body = nn.Sequential(make(3, 8, 3), nn.ReLU(), make(8, 8, 3))
    parametrizations.weight_norm(body[0])
    classes = [type(module) for module in body]
    before = _state(body)
    with pytest.raises(RuntimeError, match="the model fails after the convolutions"):
        initconv.lsuv_(nn.Sequential(body, _Fails()), torch.randn(2, 3, 8, 8))
    assert [type(module) for module in body] == classes
    assert _same_state(body, before)


# --- 4. Activations that are not elementwise are refused ----------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_is_refused_as_not_elementwise(dim: int) -> None:
    with pytest.raises(ValueError, match=rf"activation Softmax\(dim={dim}\) is not elementwise"):
        initconv.gain(nn.Softmax(dim=dim))
    with pytest.raises(ValueError, match="is not elementwise"):
        Conv(16, 16, 3, activation=nn.Softmax(dim=dim))


def test_a_normalisation_by_the_whole_tensor_is_refused_as_not_elementwise() -> None:
    def by_largest(x: Tensor) -> Tensor:
        return x / x.abs().max()

    with pytest.raises(ValueError, match="by_largest is not elementwise"):
        initconv.gain(by_largest)


# --- 5. convert(reinit=True) is atomic once layers are swapped -----------------------------------


class _RefusesTheRealStore(nn.Module):
    """Accepts the rehearsal on a copy, refuses the store into the layer itself."""

    real: ClassVar[set[int]] = set()

    def forward(self, x: Tensor) -> Tensor:
        return x

    def right_inverse(self, x: Tensor) -> Tensor:
        if id(self) in _RefusesTheRealStore.real:
            raise RuntimeError("right_inverse refuses the real store")
        return x


def test_convert_with_reinit_changes_nothing_when_a_store_fails_after_the_swaps() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())
    refusing = _RefusesTheRealStore()
    parametrize.register_parametrization(model[2], "weight", refusing)
    _RefusesTheRealStore.real = {id(refusing)}
    classes, before = [type(module) for module in model], _state(model)
    with pytest.raises(RuntimeError, match="right_inverse refuses the real store"):
        initconv.convert(model, "kaiming_normal", reinit=True)
    assert [type(module) for module in model] == classes
    assert _same_state(model, before)


# --- 6. The gain answers or refuses within a bounded number of evaluations ----------------------


class _Counted:
    """An activation that counts the points it is evaluated at."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn
        self.evaluations = 0

    def __call__(self, x: Tensor) -> Tensor:
        self.evaluations += x.numel()
        return self.fn(x)


BUDGET = probe_evaluations() + MAX_EVALUATIONS


def test_a_large_activation_gets_its_gain_like_a_small_one() -> None:
    large = _Counted(lambda x: 1000 * torch.tanh(x))
    derived_tanh = initconv.gain(lambda x: torch.tanh(x))
    assert initconv.gain(large) == pytest.approx(derived_tanh / 1000, rel=1e-12)
    assert large.evaluations <= BUDGET


@pytest.mark.parametrize("narrow", [torch.float32, torch.bfloat16, torch.float16])
def test_an_activation_computed_in_a_narrow_dtype_answers_to_that_dtypes_precision(
    narrow: torch.dtype,
) -> None:
    mixed = _Counted(lambda x: F.silu(x.to(narrow)).type_as(x))
    value = initconv.gain(mixed)
    assert value == pytest.approx(initconv.gain("silu"), rel=4 * torch.finfo(narrow).eps)
    assert mixed.evaluations <= BUDGET


def test_a_random_activation_is_refused_as_not_deterministic() -> None:
    dropout = nn.Dropout()
    with pytest.raises(ValueError, match=r"activation Dropout\(p=0.5.*is not deterministic"):
        initconv.gain(dropout)


def test_an_activation_whose_second_moment_diverges_is_refused_quickly() -> None:
    divergent = _Counted(lambda x: torch.exp(x * x))
    with pytest.raises(ValueError, match=r"has no gain.*does not decay by"):
        initconv.gain(divergent)
    assert divergent.evaluations <= BUDGET


def test_an_activation_too_rough_to_integrate_stops_at_the_evaluation_budget() -> None:
    rough = _Counted(lambda x: torch.sin(1e5 * x))
    with pytest.raises(ValueError, match=f"did not converge .* within {MAX_EVALUATIONS} eval"):
        initconv.gain(rough)
    assert rough.evaluations <= BUDGET


# --- 7. register_activation is atomic ------------------------------------------------------------


@pytest.fixture
def clean_registry() -> Iterator[None]:
    saved = dict(_activations._REGISTERED)
    yield
    _activations._REGISTERED.clear()
    _activations._REGISTERED.update(saved)


def test_two_threads_registering_one_name_cannot_both_succeed(clean_registry: None) -> None:
    # Each thread's first evaluation waits for the other's, so both are deriving the gain at
    # once: both have passed any check made before it.
    meeting = threading.Barrier(2, timeout=60)
    local = threading.local()

    def tanh_after_meeting(x: Tensor) -> Tensor:
        if not getattr(local, "met", False):
            local.met = True
            meeting.wait()
        return torch.tanh(x)

    outcomes: list[str] = []

    def register() -> None:
        try:
            initconv.register_activation("contested", tanh_after_meeting)
            outcomes.append("registered")
        except ValueError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        "activation 'contested' is already registered; pass overwrite=True to replace it",
        "registered",
    ]


# --- 8. Finite options too large for the dtype are refused, at construction and at reset --------


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
    before = _state(normal)
    normal.mean = 1e300
    with pytest.raises(ValueError, match=r"mean=1e\+300"):
        normal.reset_parameters()
    assert _same_state(normal, before)


def test_critical_refuses_a_bias_std_beyond_its_search_with_the_reason() -> None:
    # sigma_b^2 <= q*, and q* is sought up to 2^12: a bias std of 64 or more has no point.
    with pytest.raises(ValueError, match=r"bias_std=1e\+308.*must be below 64"):
        initconv.critical("tanh", bias_std=1e308)


def test_a_gain_too_large_for_a_narrower_dtype_is_refused_at_reset() -> None:
    conv = Conv(4, 4, 3, gain=1e5, seed=0).to(torch.bfloat16).to(torch.float16)
    before = _state(conv)
    with pytest.raises(ValueError, match="gain must be at most 65504 in size for a float16"):
        conv.reset_parameters()
    assert _same_state(conv, before)


# --- 9. A custom activation's gain follows its attributes ---------------------------------------


class _ScaledTanh(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        return self.k * torch.tanh(x)


def test_changing_a_custom_modules_attribute_changes_its_gain() -> None:
    activation = _ScaledTanh(1.0)
    once = initconv.gain(activation)
    activation.k = 2.0
    assert initconv.gain(activation) == pytest.approx(once / 2, rel=1e-12)
    activation.k = 1.0
    assert initconv.gain(activation) == once


# --- 10. Errors are ValueError or TypeError and name the parameter ------------------------------


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: Conv(4, 4, 3, bias_init=1e300), ValueError, "bias_init must be at most"),
        (
            lambda: initconv.UniformConv2d(4, 4, 3, low=-1e5, high=1e5, dtype=torch.float16),
            ValueError,
            r"low must be at most 65504",
        ),
        (lambda: Conv(4, 4, 3, gain=10**400), ValueError, r"gain must be finite.*\(401 char"),
        (
            lambda: Conv(4, 4, 3, activation=nn.LeakyReLU(float("nan"))),
            ValueError,
            "LeakyReLU's negative_slope must be finite, got nan",
        ),
        (
            lambda: Conv(4, 4, 3, activation=nn.LeakyReLU(1e200)),
            ValueError,
            r"gain=1\.414.*e-200 .*the weights would have .*std 2\.357",
        ),
        (
            lambda: initconv.ICNRConv2d(8, 16, 3, base="delta_orthogonal"),
            ValueError,
            r"ICNR with out_channels=16 .* out_channels=4 = 16 / 4 with base 'delta_orthogonal'",
        ),
        (lambda: initconv.conv2d(["x"], 4, 4, 3), TypeError, r"scheme must be .*, got list"),
    ],
)
def test_a_bad_value_gives_a_value_or_type_error_naming_the_parameter(
    build: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build()


def test_a_leaky_relu_with_a_huge_slope_has_a_finite_gain() -> None:
    assert initconv.gain(nn.LeakyReLU(1e200)) == pytest.approx(math.sqrt(2) / 1e200, rel=1e-15)


def test_a_prelu_on_the_meta_device_gives_the_gain_of_its_init_slope() -> None:
    expected = initconv.gain(nn.PReLU(init=0.25))
    assert initconv.gain(nn.PReLU(init=0.25, device="meta")) == expected
    with torch.device("meta"):
        model = nn.Sequential(Conv(4, 8, 3, activation=nn.PReLU()), nn.PReLU())
    assert model[0].gain == expected


# --- 11. Hooks with the wrong signature fail when the class is defined --------------------------


def test_a_hook_with_the_wrong_signature_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match=r"init_weight must take \(self, weight, generator\)"):

        class Forgetful(initconv.InitConv2d):  # pragma: no cover - never defined
            def init_weight(self, weight: Tensor) -> None:  # type: ignore[override]
                weight.zero_()

            def expected_variance(self) -> float:
                return 0.0


# --- 12. The smaller ones ---------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "suggested"), [("Relu", "relu"), ("GELU", "gelu")])
def test_activation_suggestions_ignore_case(typed: str, suggested: str) -> None:
    with pytest.raises(ValueError, match=f"got '{typed}'; did you mean '{suggested}'"):
        Conv(4, 4, 3, activation=typed)


@pytest.mark.parametrize("scalar", [np.float16, np.float32, np.float64])
def test_numpy_float_scalars_are_accepted_wherever_floats_are(scalar: type) -> None:
    assert Conv(4, 4, 3, gain=scalar(0.5), bias_init=scalar(0.25)).gain == 0.5
    assert initconv.NormalConv2d(4, 4, 3, mean=scalar(0.5), std=scalar(0.5)).std == 0.5
    assert initconv.VarianceScalingConv2d(4, 4, 3, scale=scalar(2.0)).scale == 2.0
    assert initconv.IdentityConv2d(4, 4, 3, identity_gain=scalar(0.5)).gain == 0.5


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


@pytest.mark.parametrize("scalar", [np.int64, np.uint64])
def test_numpy_integer_scalars_are_accepted_as_seeds_and_counts(scalar: type) -> None:
    assert Conv(4, 4, 3, seed=scalar(7)).seed == 7
    assert initconv.ICNRConv2d(4, 8, 3, upscale_factor=scalar(2)).upscale_factor == 2
    assert initconv.seed_modules(nn.Sequential(Conv(4, 4, 3)), scalar(3))


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


def test_lsuv_leaves_a_plain_conv_the_batch_never_reaches_as_it_was() -> None:
    class Detour(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)

        def forward(self, x: Tensor) -> Tensor:
            return self.used(x)

    model = Detour()
    before = _state(model)
    with pytest.warns(UserWarning, match="the batch never reached unused"):
        initconv.lsuv_(model, torch.randn(2, 3, 8, 8))
    assert type(model.unused) is nn.Conv2d
    assert torch.equal(model.unused.weight, before["unused.weight"])


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


def test_propagation_in_training_mode_leaves_batch_norm_statistics_as_they_were() -> None:
    model = nn.Sequential(Conv(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).train()
    before = _state(model)
    initconv.diagnostics.propagation(model, torch.randn(2, 3, 8, 8))
    assert _same_state(model, before)


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
    before = _state(layer)
    setattr(layer, attribute, value)
    with pytest.raises((ValueError, TypeError), match=match):
        layer.reset_parameters()
    assert _same_state(layer, before)


@pytest.mark.parametrize("layer", [initconv.CriticalLinear(4, 4), initconv.CriticalConv2d(4, 4, 3)])
def test_a_critical_layer_whose_base_turns_bad_refuses_it_by_name_at_reset(
    layer: nn.Module,
) -> None:
    before = _state(layer)
    layer.base = float("nan")
    with pytest.raises(ValueError, match=r"base must be one of \('delta_orthogonal'"):
        layer.reset_parameters()
    assert _same_state(layer, before)
