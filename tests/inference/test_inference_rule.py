"""convert() sees the activation that really acts on each layer, and never changes the model.

Each numbered pattern of the model zoos (the models are in ``_inference_models.py``) has a test whose
docstring says what the code before these tests did with it. Every model is checked both ways: by
torch.fx on a structural copy (no input) and by a recorded run on ``example_inputs``.
"""

from __future__ import annotations

import copy
import pickle
import random
import sys
import threading
import warnings
from collections.abc import Callable

import _inference_models as zoo
import pytest
import torch
from torch import Tensor, nn

import initconv
from initconv import ConversionReport, convert
from initconv._cli import convert as convert_cli

MODES = ("traced", "run")


def _input(seed: int = 0) -> Tensor:
    return torch.randn(*zoo.INPUT, generator=torch.Generator().manual_seed(seed))


def _plain_attributes(model: nn.Module) -> dict[str, dict[str, object]]:
    """Every module's own attributes that are not torch's bookkeeping, by module name."""
    return {
        name: {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training"}
        for name, module in model.named_modules()
    }


def _convert(model: nn.Module, mode: str, **options: object) -> ConversionReport:
    """convert(reinit=False) by torch.fx or by a run, checking that inference changed nothing
    but the layers' classes: state, attributes, random state; the model still pickles. The
    warnings are the caller's to check."""
    if mode == "run":
        options["example_inputs"] = _input()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    attributes = _plain_attributes(model)
    rng = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = convert(model, reinit=False, **options)  # type: ignore[arg-type]
    assert list(model.state_dict()) == list(state)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in state.items())
    converted = {row.name for row in report.converted}
    after = _plain_attributes(model)
    assert {k: v for k, v in after.items() if k not in converted} == {
        k: v for k, v in attributes.items() if k not in converted
    }
    assert torch.equal(torch.get_rng_state(), rng)
    pickle.dumps(model)
    return report


def _assert_rule(report: ConversionReport, expected: dict[str, str | None], mode: str) -> None:
    """Every layer has the expected activation, found by the rule in ``mode``; a ``None`` layer
    is a fallback (and so warned, which test_every_fallback_is_warned checks)."""
    assert {row.name for row in report} == set(expected)
    for name, activation in expected.items():
        row = report[name]
        if activation is None:
            assert row in report.fallbacks, (name, row.detail)
        else:
            assert (row.activation, row.source) == (activation, mode), (name, row.detail)


# --- 1. Norm layers that apply an activation in their own forward -----------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_norm_subclass_that_applies_an_activation_gives_that_activation(mode: str) -> None:
    """Before: every BatchNorm2d/GroupNorm/LayerNorm subclass was a plain norm, walked past to
    the next conv, so every conv here came out "linear" with no warning."""
    _assert_rule(_convert(zoo.NormActNet(), mode), zoo.NORM_ACT_EXPECTED, mode)


@pytest.mark.parametrize("mode", MODES)
def test_norm_act_modules_inside_a_sequential_are_looked_into(mode: str) -> None:
    """Before: "linear" for convs 0 and 2, as in the Net above."""
    report = _convert(zoo.norm_act_sequential(), mode)
    _assert_rule(report, zoo.NORM_ACT_SEQUENTIAL_EXPECTED, mode)


def test_a_norm_that_keeps_torchs_forward_is_still_a_pass_through() -> None:
    model = nn.Sequential(nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8), nn.SiLU(), nn.Conv2d(8, 8, 1))
    report = convert(model, reinit=False)
    assert report["0"].activation == "silu"
    assert "1 > 2" in report["0"].detail


# --- 2. Modules with parameters are not weight layers -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_hand_written_layer_norm_and_a_learnable_activation_are_not_weight_layers(
    mode: str,
) -> None:
    """Before: the Sequential fallback took both for "the next weight layer": conv 1 came out
    "linear" (GELU acts on it after the LayerNorm) and conv 4 "linear", both with source
    "sequential", no warning, not in report.fallbacks. The learnable swish is now read by what
    it computes, x * sigmoid(beta x) at beta = 1: swish."""
    report = _convert(zoo.parametrised_sequential(), mode)
    _assert_rule(report, zoo.PARAMETRISED_EXPECTED, mode)
    assert report["4"].detail.endswith("x * sigmoid(1 * x)")


# --- 3. Attention through F.scaled_dot_product_attention --------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_qkv_conv_before_scaled_dot_product_attention_is_linear(mode: str) -> None:
    """Before: F.scaled_dot_product_attention was no weight op, so "attn.qkv" fell back to the
    default (relu, with a warning); by the rule it is "linear", as before torch.matmul."""
    _assert_rule(_convert(zoo.AttentionNet(), mode), zoo.ATTENTION_EXPECTED, mode)


# --- 4. Reductions --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_paths_stacked_and_summed_get_the_activation_after_the_sum(mode: str) -> None:
    """Before: Tensor.sum was no pass-through, so "a" and "b" fell back (relu by chance, but as
    the default, warned); torch.stack(...).mean(0) worked. Now all four are found."""
    _assert_rule(_convert(zoo.SummedPaths(), mode), zoo.SUMMED_EXPECTED, mode)


# --- 5. Squeeze-excite gates ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_squeeze_excite_gate_is_not_a_consumer_of_the_tensor_it_gates(mode: str) -> None:
    """Before: "conv2" and "conv3" feed both the main path and the gate branch ("several
    different consumers") and fell back to the default."""
    _assert_rule(_convert(zoo.SEBottleneck(), mode), zoo.SE_EXPECTED, mode)


@pytest.mark.parametrize("mode", MODES)
def test_inverted_residual_blocks_with_in_place_activations(mode: str) -> None:
    """Before: in-place activations and the SE after them were found already; this model pins
    MobileNetV3's block down in both modes (the depthwise conv is relu, the projection linear)."""
    _assert_rule(_convert(zoo.MobileNetV3ish(), mode), zoo.MOBILENETV3_EXPECTED, mode)


class ManualLayerNormAct(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 1)
        self.norm = zoo.ChannelLayerNorm(8)
        self.out = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return self.out(y * torch.sigmoid(self.norm(y)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_swish_written_out_is_silu_but_a_gate_without_weights_or_statistics_is_not_a_gate(
    mode: str,
) -> None:
    model = nn.Sequential(nn.Conv2d(4, 8, 1), zoo.LearnableSwish(), nn.Conv2d(8, 8, 1))
    written = copy.deepcopy(model)
    written[1] = _Swish()
    assert _convert(written, mode)["0"].activation == "silu"
    # y * sigmoid(norm(y)) has a statistic in its gate: y's consumer is the product.
    assert _convert(ManualLayerNormAct(), mode)["conv"].activation == "linear"


class _Swish(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)


# --- 6. Inference never changes the model ---------------------------------------------------------


def _snapshot(model: nn.Module) -> tuple[dict[str, object], dict[str, Tensor]]:
    attributes = {key: value for key, value in vars(model).items() if not key.startswith("_")}
    state = {key: value.clone() for key, value in model.state_dict().items()}
    return attributes, state


@pytest.mark.parametrize("mode", MODES)
def test_inference_leaves_attributes_buffers_statistics_and_rng_state_as_they_were(
    mode: str,
) -> None:
    """Before: torch.fx ran forward() on the model itself: ``model.features`` was left holding
    an fx Proxy, ``model.calls`` was 1, and pickling the model failed."""
    model = zoo.SideEffects().train()
    attributes, state = _snapshot(model)
    rng, python_rng = torch.get_rng_state(), random.getstate()
    report = _convert(model, mode)
    _assert_rule(report, zoo.SIDE_EFFECTS_EXPECTED, mode)
    assert not hasattr(model, "features")
    assert model.calls == 0
    assert _snapshot(model)[0].keys() == attributes.keys()
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key  # seen, BN statistics
    assert torch.equal(torch.get_rng_state(), rng)
    assert random.getstate() == python_rng
    assert model.training
    restored = pickle.loads(pickle.dumps(initconv.to_torch(model)))
    assert isinstance(restored, zoo.SideEffects)


def test_a_run_does_not_change_the_example_input_or_call_the_models_hooks() -> None:
    model = nn.Sequential(nn.Conv2d(4, 8, 1), nn.ReLU(inplace=True), nn.Conv2d(8, 8, 1))
    seen: list[Tensor] = []
    model[0].register_forward_hook(lambda module, args, out: seen.append(out))
    x = _input()
    before = x.clone()
    convert(model, reinit=False, example_inputs=(x,))
    assert torch.equal(x, before)
    assert seen == []


# --- 7. A seed gives each layer its own stream ------------------------------------------------------


def test_a_seed_given_to_convert_gives_each_layer_the_seed_seed_modules_gives_it() -> None:
    """Before: every layer got seed=0 itself, so layers of the same shape drew identical
    weights: a symmetric network."""
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())
    convert(model, seed=0)
    assert not torch.equal(model[0].weight, model[2].weight)
    for name in ("0", "2"):
        reference = initconv.KaimingNormalConv2d(
            8, 8, 3, activation="relu", seed=initconv.module_seed(0, name)
        )
        assert torch.equal(model.get_submodule(name).weight, reference.weight)
    seeds = initconv.seed_modules(copy.deepcopy(model), 0, reset=False)
    assert seeds == {name: model.get_submodule(name).seed for name in ("0", "2")}


def test_a_bad_seed_is_an_error_that_leaves_the_model_alone() -> None:
    model = nn.Sequential(nn.Conv2d(4, 4, 1))
    with pytest.raises(ValueError, match=r"seed"):
        convert(model, seed=-1)
    assert type(model[0]) is nn.Conv2d


# --- 8. Layers left alone because their class overrides forward() --------------------------------


class StandardisedConv2d(nn.Conv2d):
    """A weight-standardised conv (Qiao et al. 2019), as timm's StdConv2d."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


def test_layers_skipped_because_they_override_forward_are_warned_and_counted() -> None:
    """Before: they were skipped silently; only the report's last line said "1 of 3"."""
    model = nn.Sequential(
        StandardisedConv2d(4, 8, 3), nn.ReLU(), StandardisedConv2d(8, 8, 3), nn.Conv2d(8, 8, 1)
    )
    with pytest.warns(UserWarning, match=r"2 layer\(s\) \(StandardisedConv2d x 2\) left"):
        report = convert(model, reinit=False)
    assert [row.name for row in report.overridden] == ["0", "2"]
    assert "overrides forward()" in str(report).splitlines()[-1]


# --- Run-time inference ------------------------------------------------------------------------------


def test_a_run_sees_through_control_flow_on_values_that_torch_fx_cannot_trace() -> None:
    traced = _convert(zoo.DataDependentBranch(), "traced")
    assert traced["conv"] in traced.fallbacks
    _assert_rule(_convert(zoo.DataDependentBranch(), "run"), zoo.DATA_DEPENDENT_EXPECTED, "run")


class OptionalBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.spare = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        y = torch.tanh(self.used(x))
        if extra is not None:  # torch.fx traces this branch, a run on (x,) does not
            y = y + torch.tanh(self.spare(extra))
        return y


def test_a_layer_the_example_input_never_reaches_is_traced_instead() -> None:
    report = _convert(OptionalBranch(), "run")
    assert (report["used"].source, report["spare"].source) == ("run", "traced")
    assert report["spare"].activation == "tanh"
    assert "not called on example_inputs" in report["spare"].detail


@pytest.mark.parametrize(
    ("example_inputs", "error", "match"),
    [
        ("x", TypeError, r"example_inputs must be a tensor, a list.*got str 'x'"),
        (torch.zeros(1, 3, 8, 8), ValueError, r"example_inputs: the forward pass on a copy"),
    ],
)
def test_a_bad_example_input_is_an_error_that_leaves_the_model_alone(
    example_inputs: object, error: type[Exception], match: str
) -> None:
    model = zoo.NormActNet()
    with pytest.raises(error, match=match):
        convert(model, reinit=False, example_inputs=example_inputs)
    assert type(model.conv1) is nn.Conv2d


# --- Fallbacks are never silent ------------------------------------------------------------------


class CumProd(nn.Module):
    """A step the rule does not know: a running product along the channels."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cumprod(x, dim=1)


def _unknown_step_sequential() -> nn.Module:
    return nn.Sequential(nn.Conv2d(4, 8, 1), CumProd(), nn.Conv2d(8, 8, 1))


@pytest.mark.parametrize(
    "build", [_unknown_step_sequential, zoo.DataDependentBranch], ids=["unknown-step", "control"]
)
def test_every_fallback_is_warned_and_listed(build: Callable[[], nn.Module]) -> None:
    with pytest.warns(UserWarning, match=r"could not be inferred") as caught:
        report = convert(build(), reinit=False)
    assert report.fallbacks
    message = str(caught[0].message)
    assert all(row.name in message for row in report.fallbacks)


class Uncopyable(nn.Module):
    """Holds a lock, which deepcopy refuses: neither torch.fx nor a run gets a copy."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8), nn.GELU())
        self.head = nn.Conv2d(8, 8, 1)
        self.lock = threading.Lock()

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))  # type: ignore[no-any-return]


def test_a_model_that_cannot_be_copied_falls_back_to_its_sequentials_and_says_why() -> None:
    """Before: body.0's guess from its Sequential was reported as found, with no warning."""
    with pytest.warns(UserWarning, match=r"could not be inferred \(body\.0, head\)"):
        report = convert(Uncopyable(), reinit=False)
    assert (report["body.0"].activation, report["body.0"].source) == ("gelu", "sequential")
    assert report.fallbacks == (report["body.0"], report["head"])
    assert "cannot be deep-copied" in report["body.0"].detail
    assert "cannot be deep-copied" in report["head"].detail


def test_the_command_line_infers_from_a_run_on_an_input_of_the_given_shape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert convert_cli.main(["_inference_models:NormActNet", "--input-shape", "2,4,8,8"]) == 0
    printed = capsys.readouterr().out
    assert "run: batch_norm > norm6.act" in printed
    assert convert_cli.main(["_inference_models:NormActNet", "--input-shape", "2,x"]) == 2
    assert "--input-shape must be positive integers" in capsys.readouterr().err


def test_conversions_in_two_threads_at_once_decide_as_one_and_leave_torch_as_it_was() -> None:
    # Tracing swaps the forward of torch's norm classes, and torch.fx patches torch, for the
    # duration; two at once must neither save each other's swaps as the originals nor fall back.
    from torch.nn.modules.batchnorm import _BatchNorm

    original = vars(_BatchNorm)["forward"]
    meeting = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def convert_many() -> None:
        try:
            meeting.wait()
            for _ in range(30):
                model = nn.Sequential(
                    nn.Conv2d(4, 4, 3), zoo.BatchNormSiLU(4), nn.Conv2d(4, 4, 3), nn.Flatten()
                )
                report = convert(model, reinit=False)
                assert report["0"].activation == "silu"
                assert not report.fallbacks, report.fallbacks
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=convert_many) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the two traces interleave
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    assert vars(_BatchNorm)["forward"] is original
