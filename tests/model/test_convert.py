"""convert(), to_torch() and the conversion report, proved on six real architectures."""

from __future__ import annotations

import copy
import io
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from _architectures import (
    ARCHITECTURES,
    CONVNEXT_ACTIVATIONS,
    IMAGE_SHAPE,
    INPUT_SHAPES,
    BasicBlock,
    convnext,
    resnet18,
)
from _support import snapshot, unchanged
from torch import Tensor, nn
from torch.nn.utils import parametrizations, parametrize

import initconv
from initconv import ConversionReport, InitConv2d, InitLayer, convert, to_torch
from initconv._cli import convert as convert_cli
from initconv._maths.fans import KINDS


def _input(seed: int = 0, arch: str = "") -> Tensor:
    # Images big enough for ResNet's five halvings and U-Net's two; the audio model's waveforms.
    shape = INPUT_SHAPES.get(arch, IMAGE_SHAPE)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _layers(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if isinstance(m, KINDS)}


def _structure(model: nn.Module) -> list[tuple[str, int]]:
    """Every module slot and the object in it, to show that nothing was swapped."""
    return [(name, id(module)) for name, module in model.named_modules(remove_duplicate=False)]


def _activations(report: ConversionReport) -> dict[str, str | None]:
    return {row.name: row.activation for row in report}


# --- The architectures ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_conv_of_the_architecture_gets_the_activation_of_the_hand_written_table(
    arch: str,
) -> None:
    build, expected = ARCHITECTURES[arch]
    model = build()
    report = convert(model, reinit=False)
    assert _activations(report) == expected
    assert len(report.converted) == len(_layers(model)) == len(expected)
    assert all(isinstance(layer, InitLayer) for layer in _layers(model).values())
    assert {row.source for row in report} == {"traced"}
    assert not report.fallbacks


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_converted_architecture_trains_a_step_with_an_optimiser_built_before_conversion(
    arch: str,
) -> None:
    torch.manual_seed(0)
    model = ARCHITECTURES[arch][0]()
    # Adam moves every weight with a non-zero gradient by about lr, however small the gradient
    # (ConvNeXt's layer scale starts at 1e-6).
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    convert(model, seed=0)
    convs = _layers(model)
    assert all(isinstance(conv, initconv.KaimingNormal) for conv in convs.values())
    before = {name: conv.weight.detach().clone() for name, conv in convs.items()}
    out = model(_input(arch=arch))
    target = torch.zeros(out.shape[0], *out.shape[2:], dtype=torch.long)
    loss = F.cross_entropy(out, target)
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss)
    for name, conv in convs.items():
        assert conv.weight.grad is not None
        assert torch.isfinite(conv.weight).all(), name
        assert not torch.equal(conv.weight, before[name]), name


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_architecture_round_trips_through_convert_and_to_torch_bit_for_bit(arch: str) -> None:
    torch.manual_seed(0)
    model = ARCHITECTURES[arch][0]().eval()
    x = _input(arch=arch)
    kinds = {name: type(m) for name, m in _layers(model).items()}
    expected = model(x)
    state = snapshot(model)
    parameters = list(model.parameters())
    rng = torch.get_rng_state()
    convert(model, reinit=False)
    assert unchanged(model, state)
    assert torch.equal(model(x), expected)
    to_torch(model)
    assert torch.equal(torch.get_rng_state(), rng)
    assert unchanged(model, state)
    assert all(a is b for a, b in zip(model.parameters(), parameters, strict=True))
    assert {name: type(m) for name, m in _layers(model).items()} == kinds
    assert torch.equal(model(x), expected)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_a_converted_architectures_checkpoint_loads_strictly_into_the_original_classes(
    arch: str,
) -> None:
    build = ARCHITECTURES[arch][0]
    model = build()
    convert(model, seed=1)
    original = build()
    original.load_state_dict(model.state_dict(), strict=True)
    assert all(type(layer) in KINDS for layer in _layers(original).values())
    model.load_state_dict(build().state_dict(), strict=True)
    to_torch(model)
    original.load_state_dict(model.state_dict(), strict=True)


# --- reinit ---------------------------------------------------------------------------------------


def test_reinit_false_keeps_parameters_and_draws_nothing() -> None:
    model = resnet18()
    state = snapshot(model)
    weights = {name: m.weight for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    rng = torch.get_rng_state()
    convert(model, reinit=False)
    assert torch.equal(torch.get_rng_state(), rng)
    assert unchanged(model, state)
    for name, weight in weights.items():
        assert model.get_submodule(name).weight is weight


def test_reinit_draws_each_layer_once_exactly_as_the_scheme_would() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.GELU(), nn.Conv2d(8, 8, 3, groups=2), nn.Tanh()
    )
    torch.manual_seed(1)
    convert(model, "kaiming_uniform", bias_init="torch")
    after_convert = torch.rand(3)
    torch.manual_seed(1)
    first = initconv.KaimingUniformConv2d(3, 8, 3, activation="gelu", bias_init="torch")
    second = initconv.KaimingUniformConv2d(8, 8, 3, groups=2, activation="tanh", bias_init="torch")
    for converted, reference in ((model[0], first), (model[3], second)):
        assert torch.equal(converted.weight, reference.weight)
        assert torch.equal(converted.bias, reference.bias)
    # Nothing else was drawn: the global generator is where the two references left it.
    assert torch.equal(torch.rand(3), after_convert)


def test_conversion_keeps_hyperparameters_dtype_requires_grad_and_forward() -> None:
    conv = nn.Conv2d(
        4, 6, (3, 5), stride=2, padding="valid", dilation=(1, 2), groups=2, bias=False,
        padding_mode="circular", dtype=torch.float64,
    )  # fmt: skip
    conv.weight.requires_grad_(False)
    same = nn.Conv2d(6, 6, 3, padding="same", padding_mode="reflect", dtype=torch.float64)
    model = nn.Sequential(conv, nn.ReLU(), same)
    x = torch.randn(1, 4, 12, 16, dtype=torch.float64)
    expected = model(x)
    convert(model, reinit=False)
    for old, new in ((conv, model[0]), (same, model[2])):
        assert isinstance(new, InitConv2d)
        for key in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                    "dilation", "groups", "padding_mode"):  # fmt: skip
            assert getattr(new, key) == getattr(old, key), key
        assert new.weight.dtype == torch.float64
    assert model[0].bias is None
    assert not model[0].weight.requires_grad
    assert torch.equal(model(x), expected)


def test_meta_device_model_converts_on_the_meta_device() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.SiLU())
    convert(model)
    assert model[0].weight.device.type == "meta"
    assert model[0].activation == "silu"


class _WrittenGelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        out: torch.Tensor = self.out(h * torch.sigmoid(1.702 * h))
        return out


def test_a_written_out_activation_is_read_inside_a_meta_device_context() -> None:
    # The large-model path builds and converts under `with torch.device("meta")`: the
    # activation's probes run on the CPU all the same (a raw "item() on meta tensors" once).
    with torch.device("meta"):
        model = _WrittenGelu()
        report = convert(model, reinit=False)
    assert report["fc"].activation == "x * sigmoid(1.702 * x)"
    assert report["fc"].source == "traced"


def test_pretrained_state_dict_survives_reinit_false_and_a_later_reset_applies_the_scheme() -> None:
    pretrained = convnext().state_dict()
    model = convnext()
    model.load_state_dict(pretrained)
    convert(model, reinit=False, seed=3)
    assert unchanged(model, pretrained)
    layer = model.stage1[0].pwconv1
    layer.reset_parameters()
    seed = initconv.module_seed(3, "stage1.0.pwconv1")
    reference = initconv.KaimingNormalConv2d(16, 64, 1, activation="gelu", seed=seed)
    assert torch.equal(layer.weight, reference.weight)


# --- Activation inference -------------------------------------------------------------------------


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c, self.d, self.e, self.f = (nn.Conv2d(4, 4, 1) for _ in range(6))

    def forward(self, x: Tensor) -> Tensor:
        x = torch.tanh(F.relu(self.a(x)).clone())
        x = torch.tanh(self.b(x))
        x = self.c(x).relu()
        x = F.leaky_relu(self.d(x), 0.2)
        x = F.gelu(self.e(x), approximate="tanh")
        return torch.relu_(F.max_pool2d(self.f(x), 1))


def test_functional_calls_methods_and_in_place_variants_are_inferred_with_their_arguments() -> None:
    report = convert(Functional(), reinit=False)
    assert _activations(report) == {
        # The activation is what acts before the next weight op: relu, then tanh after it.
        "a": "tanh(relu(x))",
        "b": "tanh",
        "c": "relu",
        "d": "leaky_relu(negative_slope=0.2)",
        "e": "gelu_tanh",
        "f": "relu",
    }


class DataDependent(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        # Control flow on a value: torch.fx cannot trace it.
        return x if x.sum() > 0 else -x


class UntraceableWrapper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = BasicBlock(4, 4)
        self.gate = DataDependent()

    def forward(self, x: Tensor) -> Tensor:
        return self.gate(self.block(x))


def test_an_untraceable_model_has_its_traceable_submodules_traced_on_their_own() -> None:
    report = convert(UntraceableWrapper(), reinit=False)
    assert _activations(report) == {"block.conv1": "relu", "block.conv2": "relu"}
    assert {row.source for row in report} == {"traced"}


def test_an_untraceable_module_is_a_leaf_of_its_parents_graph_and_only_its_input_falls_back() -> (
    None
):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Hardswish(), DataDependent(),
        nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 1), DataDependent(),
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"could not be inferred \(5\)"):
        report = convert(model, reinit=False, default_activation="selu")
    assert (report["0"].activation, report["0"].source) == ("hardswish", "traced")
    assert (report["4"].activation, report["4"].source) == ("linear", "traced")
    assert "next weight layer 5" in report["4"].detail
    assert (report["5"].activation, report["5"].source) == ("selu", "default")
    assert "6: torch.fx could not trace it" in report["5"].detail
    assert "DataDependent" in report["5"].detail
    assert report.fallbacks == (report["5"],)


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.conv(x)
        return torch.relu(y), torch.tanh(y)


def test_different_consumers_fall_back_to_the_schemes_default_with_the_reason() -> None:
    with pytest.warns(UserWarning, match=r"conv\); they use the default 'relu'"):
        report = convert(TwoHeads(), reinit=False)
    row = report["conv"]
    assert (row.activation, row.source) == ("relu", "default")  # KaimingNormal's default
    assert "several different consumers (relu; tanh)" in row.detail


def test_given_activation_and_patterns_override_inference() -> None:
    report = convert(
        resnet18(), reinit=False, activation={"layer4.*": "tanh", "conv1": nn.LeakyReLU(0.1)}
    )
    assert report["conv1"].activation == "leaky_relu(negative_slope=0.1)"
    assert (report["layer4.0.conv2"].activation, report["layer4.0.conv2"].source) == (
        "tanh",
        "pattern",
    )
    assert (report["layer3.1.conv2"].activation, report["layer3.1.conv2"].source) == (
        "relu",
        "traced",
    )
    single = convert(resnet18(), reinit=False, activation=nn.GELU)
    assert {(row.activation, row.source) for row in single} == {("gelu", "given")}


def test_an_activation_pattern_that_matches_no_layer_is_an_error() -> None:
    model = resnet18()
    structure = _structure(model)
    with pytest.raises(ValueError, match=r"pattern 'layr1\.\*' matches no layer"):
        convert(model, activation={"layr1.*": "relu"})
    assert _structure(model) == structure


# --- What is replaced and what is carried over ------------------------------------------------


class OwnConv(nn.Conv2d):
    pass


class ShiftedConv(nn.Conv2d):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + 1.0


def test_conv2d_and_subclasses_that_keep_its_forward_are_replaced_initconv_layers_when_asked() -> (
    None
):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), OwnConv(4, 4, 1),
        initconv.XavierNormalConv2d(4, 4, 1, seed=0), nn.Tanh(),
    )  # fmt: skip
    report = convert(model, reinit=False)
    assert [(row.name, row.source) for row in report] == [
        ("0", "traced"),
        ("2", "traced"),
        ("3", "skipped"),
    ]
    assert type(model[2]) is initconv.KaimingNormalConv2d
    assert report["2"].old_type == "OwnConv"
    assert type(model[3]) is initconv.XavierNormalConv2d
    weight = model[3].weight
    report = convert(model, "lecun_normal", reinit=False, reconvert=True)
    assert type(model[3]) is initconv.LeCunNormalConv2d
    assert model[3].weight is weight
    assert (model[3].activation, report["3"].old_type) == ("tanh", "XavierNormalConv2d")
    assert model[3].seed is None


def test_a_lazy_conv_is_skipped_until_a_forward_pass_materialises_it() -> None:
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU())
    with pytest.warns(UserWarning, match=r"\(LazyConv2d x 1\) left unconverted"):
        report = convert(model)
    assert (report["0"].source, report["0"].detail) == (
        "skipped",
        "a lazy Conv2d not materialised yet; run a forward pass first",
    )
    model(_input())
    assert convert(model)["0"].activation == "relu"
    assert isinstance(model[0], initconv.KaimingNormalConv2d)


def test_a_module_held_in_two_places_is_replaced_by_one_layer_in_both() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    model.alias = model[0]
    # nn.Sequential calls every module it holds, the alias too: the conv's two calls are
    # followed by relu and by nothing, so its activation is a fallback.
    with pytest.warns(UserWarning, match=r"could not be inferred \(0\)"):
        convert(model, reinit=False)
    assert isinstance(model[0], InitConv2d)
    assert model.alias is model[0]


def test_hooks_are_carried_over_and_their_handles_still_remove_them() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    calls: list[str] = []
    pre = model[0].register_forward_pre_hook(lambda module, args: calls.append("pre"))
    model[0].register_forward_hook(lambda module, args, out: calls.append(type(module).__name__))
    model[0].register_full_backward_hook(lambda module, grad_in, grad_out: calls.append("back"))
    model[0].tag = "stem"
    convert(model, reinit=False)
    model(_input().requires_grad_()).sum().backward()
    assert calls == ["pre", "KaimingNormalConv2d", "back"]
    assert model[0].tag == "stem"
    pre.remove()
    model(_input())
    assert calls == ["pre", "KaimingNormalConv2d", "back", "KaimingNormalConv2d"]


def test_parametrizations_are_carried_over_without_reinit() -> None:
    model = nn.Sequential(parametrizations.weight_norm(nn.Conv2d(3, 4, 3)), nn.ReLU())
    originals = list(model[0].parametrizations.weight.parameters())
    x = _input()
    expected = model(x)
    convert(model, reinit=False)
    layer = model[0]
    assert isinstance(layer, initconv.KaimingNormalConv2d)
    assert parametrize.is_parametrized(layer, "weight")
    assert list(layer.parametrizations.weight.parameters()) == originals
    assert torch.equal(model(x), expected)
    to_torch(model)
    assert type(model[0]).__mro__[1] is nn.Conv2d
    assert torch.equal(model(x), expected)


class _Halve(nn.Module):
    """A parametrization with a right_inverse: the tensor is half its original."""

    def forward(self, original: Tensor) -> Tensor:
        return original / 2

    def right_inverse(self, value: Tensor) -> Tensor:
        return value * 2


class _Square(nn.Module):
    """A parametrization without one: a value cannot be stored through it."""

    def forward(self, original: Tensor) -> Tensor:
        return original**2


def test_reinit_stores_the_draw_through_the_parametrizations() -> None:
    layer = parametrizations.weight_norm(nn.Conv2d(4, 6, 3))
    parametrize.register_parametrization(layer, "bias", _Halve())
    model = nn.Sequential(layer, nn.Tanh())
    originals = [*layer.parametrizations.weight.parameters(), layer.parametrizations.bias.original]
    convert(model, seed=5, bias_init="torch")
    converted = model[0]
    reference = initconv.KaimingNormalConv2d(
        4, 6, 3, activation="tanh", seed=initconv.module_seed(5, "0"), bias_init="torch"
    )
    # weight_norm stores g = |v| and v = w; g v / |v| gives w back up to rounding.
    torch.testing.assert_close(converted.weight, reference.weight)
    assert torch.equal(converted.bias, reference.bias)
    assert torch.equal(converted.parametrizations.bias.original, 2 * reference.bias)
    kept = [
        *converted.parametrizations.weight.parameters(),
        converted.parametrizations.bias.original,
    ]
    assert list(map(id, kept)) == list(map(id, originals))
    with torch.no_grad():
        converted.weight = torch.ones_like(converted.weight)
        converted.bias = torch.zeros_like(converted.bias)
    converted.reset_parameters()  # the same draw again, through the same parametrizations
    torch.testing.assert_close(converted.weight, reference.weight)
    assert torch.equal(converted.bias, reference.bias)


def test_a_parametrization_without_right_inverse_is_refused_and_the_model_is_unchanged() -> None:
    layer = nn.Conv2d(4, 4, 1)
    parametrize.register_parametrization(layer, "weight", _Square())
    model = nn.Sequential(nn.Conv2d(3, 4, 3), layer)
    structure, state = _structure(model), snapshot(model)
    with pytest.raises(
        RuntimeError, match=r"layer '1' \(Conv2d\): parametrization _Square does not implement"
    ):
        convert(model)
    assert _structure(model) == structure
    assert unchanged(model, state)
    convert(model, reinit=False)  # attaching the scheme draws nothing, so it needs no inverse
    assert isinstance(model[1], initconv.KaimingNormalConv2d)
    assert unchanged(model, state)


def test_deprecated_weight_norm_hooks_are_refused_by_name() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecation notice
        model = nn.Sequential(nn.utils.weight_norm(nn.Conv2d(3, 4, 3)))
    with pytest.raises(ValueError, match=r"layer '0' .*\('weight_g', 'weight_v'\)"):
        convert(model, reinit=False)


# --- All or nothing -------------------------------------------------------------------------------


def test_a_layer_that_fails_to_initialise_leaves_the_model_exactly_as_it_was(
    clean_schemes: None,
) -> None:
    class FailsAt16(InitConv2d, scheme="fails_at_16"):
        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            if self.out_channels == 16:
                raise RuntimeError("injected failure")
            weight.zero_()

        def expected_variance(self) -> float:
            return 0.0

    model = resnet18()
    structure, state = _structure(model), snapshot(model)
    with pytest.raises(RuntimeError, match=r"layer 'layer2\.0\.conv1' .*injected failure"):
        convert(model, "fails_at_16")
    assert _structure(model) == structure
    assert unchanged(model, state)


def test_a_bad_scheme_option_names_the_layer_and_changes_nothing() -> None:
    model = resnet18()
    structure, state = _structure(model), snapshot(model)
    with pytest.raises(ValueError, match=r"layer 'conv1' .*mode must be one of"):
        convert(model, mode="fan_avg")
    assert _structure(model) == structure
    assert unchanged(model, state)


class Stubborn(nn.Module):
    """A parent that refuses to take its second conv back: a failure in the middle of the swap."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 4, 3)
        self.second = nn.Conv2d(4, 4, 1)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "second" and isinstance(value, InitConv2d):
            raise RuntimeError("injected failure")
        super().__setattr__(name, value)

    def forward(self, x: Tensor) -> Tensor:
        return self.second(F.relu(self.first(x)))  # type: ignore[no-any-return]


def test_a_failure_while_swapping_puts_back_the_layers_already_swapped() -> None:
    model = Stubborn()
    structure, state = _structure(model), snapshot(model)
    with pytest.raises(RuntimeError, match=r"layer 'second' .*injected failure"):
        convert(model)
    assert _structure(model) == structure
    assert unchanged(model, state)


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "match"),
    [
        (nn.Conv2d(3, 4, 3), {}, TypeError, "must contain the layers to replace, not be one"),
        ("resnet", {}, TypeError, "model must be an nn.Module, got str 'resnet'"),
        (None, {"scheme": "kaiming_normall"}, ValueError, "did you mean 'kaiming_normal'"),
        (None, {"scheme": "he"}, ValueError, "got 'he'; did you mean 'he_normal'"),
        (None, {"scheme": InitConv2d}, TypeError, "abstract InitConv2d"),
        (None, {"scheme": 3}, TypeError, "scheme must be a scheme name"),
        (None, {"activation": "gleu"}, ValueError, "did you mean 'gelu'"),
        (None, {"default_activation": "gleu"}, ValueError, "^default_activation: .*'gleu'"),
        (None, {"activation": {1: "relu"}}, TypeError, "activation patterns must be str"),
        (None, {"reinit": "yes"}, TypeError, "reinit must be a bool, got str 'yes'"),
        (None, {"reconvert": 1}, TypeError, "reconvert must be a bool, got int 1"),
    ],
)
def test_bad_arguments_raise_and_change_nothing(
    model: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    target = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()) if model is None else model
    before = copy.deepcopy(target)
    with pytest.raises(error, match=match):
        convert(target, **kwargs)  # type: ignore[arg-type]
    if isinstance(target, nn.Module):
        assert repr(target) == repr(before)
        assert unchanged(target, before.state_dict())


# --- The report ---------------------------------------------------------------------------------


def test_report_renders_a_table_with_a_row_per_layer() -> None:
    with pytest.warns(UserWarning, match=r"1 layer\(s\) \(ShiftedConv x 1\) left unconverted"):
        report = convert(nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(), ShiftedConv(4, 4, 1)))
    lines = str(report).splitlines()
    assert lines[0] == "layer  old type     scheme          activation  gain    found by"
    assert lines[2].split()[:5] == ["0", "Conv2d", "kaiming_normal", "gelu", "1.5335"]
    assert lines[3].split()[:5] == ["2", "ShiftedConv", "-", "-", "-"]
    assert lines[-2].startswith("1 of 2 layers converted, weights re-initialised")
    assert repr(report) == "ConversionReport(1 converted, 2 layers, 0 fallbacks, reinit=True)"
    with pytest.raises(KeyError, match=r"layers \('0', '2'\), got 'missing'"):
        report["missing"]


# --- to_torch and the frameworks around it --------------------------------------------------------


def test_to_torch_keeps_parameters_hooks_and_attributes_and_draws_nothing() -> None:
    model = nn.Sequential(initconv.KaimingNormalConv2d(3, 4, 3, activation="gelu", seed=0))
    weight = model[0].weight
    model[0].tag = "stem"
    handle = model[0].register_forward_hook(lambda module, args, out: out * 0)
    rng = torch.get_rng_state()
    assert to_torch(model) is model
    assert torch.equal(torch.get_rng_state(), rng)
    assert type(model[0]) is nn.Conv2d
    assert model[0].weight is weight
    assert model[0].tag == "stem"
    assert not hasattr(model[0], "activation")
    assert (model(_input()) == 0).all()
    handle.remove()
    assert not (model(_input()) == 0).all()


def test_to_torch_refuses_a_layer_with_its_own_forward() -> None:
    class Scaled(initconv.KaimingNormalConv2d):
        def forward(self, x: Tensor) -> Tensor:
            return 2 * super().forward(x)

    model = nn.Sequential(initconv.KaimingNormalConv2d(3, 4, 1), Scaled(4, 4, 1))
    structure = _structure(model)
    with pytest.raises(TypeError, match=r"layer '1' \(Scaled\): it overrides forward\(\)"):
        to_torch(model)
    assert _structure(model) == structure
    with pytest.raises(TypeError, match="must contain the layers to replace, not be one"):
        to_torch(model[0])


def test_quantization_fusion_fails_on_initconv_layers_and_works_after_to_torch() -> None:
    model = resnet18().eval()
    convert(model, reinit=False)
    groups = [["conv1", "bn1", "relu"], ["layer1.0.conv1", "layer1.0.bn1"]]
    with pytest.raises(AssertionError, match="did not find fuser method"):
        torch.ao.quantization.fuse_modules(model, groups)
    x = _input()
    expected = model(x)
    fused = torch.ao.quantization.fuse_modules(to_torch(model), groups)
    assert type(fused.conv1).__name__ == "ConvReLU2d"
    torch.testing.assert_close(fused(x), expected)


def test_exported_program_carries_no_initconv_reference_after_to_torch() -> None:
    model = convnext().eval()
    convert(model, reinit=False)
    x = _input()

    def saved() -> bytes:
        buffer = io.BytesIO()
        torch.export.save(torch.export.export(model, (x,)), buffer)
        return buffer.getvalue()

    # The program names each module's class by its qualified name; a search for the bare word
    # "initconv" would also find the repository's folder in the stored source paths.
    name = initconv.KaimingNormalConv2d
    reference = f"{name.__module__}.{name.__qualname__}".encode()
    assert reference in saved()
    to_torch(model)
    program = saved()
    assert reference not in program
    assert b"initconv._" not in program
    loaded = torch.export.load(io.BytesIO(program))
    assert torch.equal(loaded.module()(x), model(x))


@pytest.mark.slow  # a fresh interpreter
def test_pickle_loads_where_initconv_cannot_be_imported_only_after_to_torch() -> None:
    model = resnet18().eval()
    convert(model)
    converted = pickle.dumps(model)
    plain = pickle.dumps(to_torch(model))
    x = _input()
    expected = model(x)
    # A fresh interpreter in which `import initconv` fails, as on a machine without it.
    script = textwrap.dedent(
        """
        import pickle, sys
        sys.modules["initconv"] = None
        import torch
        converted, plain, x = pickle.load(sys.stdin.buffer)
        try:
            pickle.loads(converted)
        except ImportError as error:
            print("converted:", type(error).__name__)
        model = pickle.loads(plain)
        torch.save(model(x), sys.stdout.buffer)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps((converted, plain, x)),
        capture_output=True,
        check=False,
        cwd=Path(__file__).parents[1],  # where the architectures' own module lives
    )
    assert result.returncode == 0, result.stderr.decode()
    first_line, _, tensor = result.stdout.partition(b"\n")
    assert first_line == b"converted: ModuleNotFoundError"
    assert torch.equal(torch.load(io.BytesIO(tensor)), expected)


def test_converted_model_compiles() -> None:
    # torch.jit.script: tests/layers/test_torchscript.py.
    model = resnet18().eval()
    convert(model)
    x = _input()
    expected = model(x)
    # The eager backend: dynamo must capture the converted model whole (fullgraph); code
    # generation does not depend on the module classes.
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), expected)


@pytest.mark.slow
def test_converted_model_compiles_with_the_default_backend() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))
    convert(model.eval())
    x = _input()
    torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x))


class TimmStyle(nn.Module):
    """A model that re-initialises every nn.Conv2d after construction, as timm models do."""

    def __init__(self, conv: Callable[..., nn.Conv2d]) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), conv(8, 8, 3))
        self.init_weights()

    def init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)  # type: ignore[no-any-return]


def test_a_models_own_init_weights_overrides_initconv_and_one_line_restores_the_scheme() -> None:
    def seeded(*args: int) -> nn.Conv2d:
        return initconv.KaimingNormalConv2d(*args, activation="relu", seed=7)

    model = TimmStyle(seeded)
    reference = seeded(3, 8, 3)
    assert not torch.equal(model.body[0].weight, reference.weight)
    # The one line (README): re-apply every initconv layer's scheme after the model's own init.
    model.apply(lambda m: m.reset_parameters() if isinstance(m, InitConv2d) else None)
    assert torch.equal(model.body[0].weight, reference.weight)
    # Converting after construction also runs last, so the scheme wins there too.
    plain = TimmStyle(nn.Conv2d)
    convert(plain, seed=7)
    renamed = initconv.KaimingNormalConv2d(
        3, 8, 3, activation="relu", seed=initconv.module_seed(7, "body.0")
    )
    assert torch.equal(plain.body[0].weight, renamed.weight)


# --- python -m initconv convert -----------------------------------------------------------------


def test_cli_prints_the_report_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert convert_cli.main(["_architectures:mobilenet_v2", "--scheme", "xavier_normal"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["layer", "old", "type"]
    assert out[4].split()[:4] == ["features.1.conv.1", "Conv2d", "xavier_normal", "linear"]
    assert out[-1] == (
        "17 of 17 layers converted, weights kept bit for bit; "
        "0 activations could not be inferred (report.fallbacks)."
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["architectures"], 2, "MODULE:FACTORY must name a module and a callable"),
        (["_architectures:nothing"], 2, "has no attribute 'nothing'"),
        (["no_such_module_here:f"], 2, "No module named 'no_such_module_here'"),
        (["_architectures:ARCHITECTURES"], 2, "is a dict, not callable"),
        (["builtins:dict"], 2, r"builtins:dict\(\) returned a dict, not an nn.Module"),
        (["_architectures:BasicBlock"], 2, r"_architectures:BasicBlock\(\) raised TypeError"),
        (["_architectures:unet", "--activation", "gleu"], 2, "did you mean 'gelu'"),
        (["_architectures:unet", "--scheme", "kaiming"], 2, "did you mean 'kaiming_normal'"),
    ],
)
def test_cli_reports_bad_input_on_stderr_with_an_exit_code(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert convert_cli.main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(message, captured.err)


@pytest.mark.slow  # a fresh interpreter
def test_python_dash_m_initconv_convert_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "initconv", "convert", "_architectures:convnext"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[1],
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]
    assert {row[0]: row[3] for row in rows} == CONVNEXT_ACTIVATIONS


class TiedDifferently(nn.Module):
    """Two layers holding one weight, read by different activations: one draw serves both."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.out = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 4)
        self.b.weight = self.a.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.relu(self.a(x)) + self.b(x))  # type: ignore[no-any-return]


@pytest.mark.parametrize("inputs", [None, torch.randn(2, 16)], ids=["traced", "run"])
def test_layers_sharing_a_weight_with_different_activations_fall_back_warned(
    inputs: Tensor | None,
) -> None:
    """Before: a got relu's gain and b linear's, unwarned, and each drew into the one weight,
    so the weight had b's draw while the report gave a relu's. One weight is one layer called
    twice: the same activation each time, or a fallback."""
    model = TiedDifferently()
    with pytest.warns(UserWarning, match=r"could not be inferred \(a, b\)"):
        report = convert(model, example_inputs=inputs)
    assert {row.name for row in report.fallbacks} == {"a", "b"}
    assert "shares its weight with" in report["a"].detail
    assert report["a"].gain == report["b"].gain
    assert model.b.weight is model.a.weight


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("function", [convert, to_torch])
def test_a_scripted_model_is_refused_by_name(function: Callable[[nn.Module], object]) -> None:
    """Before: a ScriptModule's layers are no torch layers, so nothing was replaced and the
    report said "0 of 0 layers converted", unwarned."""
    scripted = torch.jit.script(nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 4)))
    with pytest.raises(TypeError, match=r"model must not be a ScriptModule.*before torch\.jit"):
        function(scripted)
