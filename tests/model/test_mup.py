"""initconv.mup_ and initconv.param_groups: µP's roles, init laws and learning rates against the
theory derived here from Tensor Programs V (Table 3) and VI, their replay by every reset and
checkpoint, and bad bases refused by name.

Statistical checks run at ALPHA_CHECK and are counted in tests/conftest.py's budget.
"""

from __future__ import annotations

import copy
import doctest
import functools
import io
import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv
from initconv._model import mup as mup_module
from initconv._model import mup_record
from initconv._model import param_groups as param_groups_module
from initconv.testing import ALPHA_CHECK, assert_variance_matches

KINDS: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)
DIMS = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3, nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2}
DIMS[nn.ConvTranspose3d] = 3
# Scheme -> the family its weights are drawn from.
SCHEMES = {
    "kaiming_normal": "normal",
    "kaiming_uniform": "uniform",
    "xavier_normal": "normal",
    "lecun_normal": "normal",
    "torch_default": "uniform",
}
EXAMPLES = max(10, settings().max_examples // 4)
# The pooled sample each variance check draws at least (resets of the same layer): a variance off
# by a factor 2 (the smallest width multiplier here) falls outside the band with certainty.
POOL = 4096


# --- Theory, derived from the definitions -------------------------------------------------------


def true_fans(kind: type[nn.Module], shape: dict[str, Any]) -> tuple[float, float]:
    """fan_in and fan_out from their definitions: inputs per output unit and outputs per input
    unit, per group; a transposed convolution's output unit receives kernel / stride inputs."""
    if kind is nn.Linear:
        return float(shape["in_features"]), float(shape["out_features"])
    taps = math.prod(shape["kernel_size"])
    fan_in = shape["in_channels"] / shape["groups"] * taps
    fan_out = shape["out_channels"] / shape["groups"] * taps
    if kind in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        fan_in /= math.prod(shape["stride"])
    return fan_in, fan_out


def scheme_variance(
    scheme: str, mode: str, gain: float, kind: type[nn.Module], shape: dict[str, Any]
) -> float:
    """Var(W) of the scheme at this shape: He (He et al. 2015) by the chosen fan, Glorot (Glorot &
    Bengio 2010) by their mean, LeCun (LeCun et al. 1998) g^2 / fan_in, and torch's default
    U(-1/sqrt(n), 1/sqrt(n)) with n read off the weight's shape: in / groups * taps, which for a
    transposed weight (in, out / groups, *kernel) is out / groups * taps (pytorch#7865)."""
    fan_in, fan_out = true_fans(kind, shape)
    if scheme.startswith("kaiming"):
        return gain**2 / (fan_in if mode == "fan_in" else fan_out)
    if scheme == "xavier_normal":
        return 2 * gain**2 / (fan_in + fan_out)
    if scheme == "lecun_normal":
        return gain**2 / fan_in
    if kind is nn.Linear:
        return 1 / (3 * shape["in_features"])
    transposed = kind in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    channels = shape["out_channels"] if transposed else shape["in_channels"]
    return 1 / (3 * channels / shape["groups"] * math.prod(shape["kernel_size"]))


def mup_variance(role: str, base_variance: float, m_in: float) -> float:
    """Tensor Programs V, Table 3, in multiples of the base: the base's variance over m_in for
    input, hidden and vector weights (1/fan_in), over m_in^2 for the readout (1/fan_in^2)."""
    return base_variance / m_in ** (2 if role == "output" else 1)


def pooled_weights(layer: nn.Module, at_least: int = POOL) -> Tensor:
    draws = []
    total = 0
    while total < at_least:
        layer.reset_parameters()  # type: ignore[operator]
        draws.append(layer.weight.detach().reshape(-1).clone())
        total += draws[-1].numel()
    return torch.cat(draws)


# --- Layer pairs: a base layer and the same layer at a larger width -----------------------------


@st.composite
def layer_pairs(draw: st.DrawFn) -> dict[str, Any]:
    """A kind, a role, and the shapes of its base and wider layer: the role decides which of the
    fans grow, by a multiplier m in 2..4 ("fixed": none)."""
    kind = draw(st.sampled_from(KINDS))
    roles = ["input", "hidden", "output", "fixed"] + ([] if kind is nn.Linear else ["vector"])
    role = draw(st.sampled_from(roles))
    m = draw(st.integers(2, 4))
    grow_in = role in ("hidden", "output")
    grow_out = role in ("input", "hidden")
    scheme = draw(st.sampled_from(sorted(SCHEMES)))
    mode = (
        draw(st.sampled_from(("fan_in", "fan_out"))) if scheme.startswith("kaiming") else "fan_in"
    )
    activation = draw(st.sampled_from(("relu", "linear", "tanh")))
    if kind is nn.Linear:
        base_in, base_out = draw(st.integers(8, 24)), draw(st.integers(8, 24))
        base = {"in_features": base_in, "out_features": base_out}
        wide = {
            "in_features": base_in * (m if grow_in else 1),
            "out_features": base_out * (m if grow_out else 1),
        }
    else:
        d = DIMS[kind]
        kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
        stride = tuple(draw(st.integers(1, 2)) for _ in range(d))
        if role == "vector":
            # Depthwise: in = out = groups, every fan fixed while the channels grow.
            channels = draw(st.integers(2, 8))
            base = {"in_channels": channels, "out_channels": channels, "groups": channels}
            wide = {key: value * m for key, value in base.items()}
        else:
            groups = draw(st.integers(1, 3))
            per_in, per_out = draw(st.integers(2, 6)), draw(st.integers(2, 6))
            base = {
                "in_channels": groups * per_in,
                "out_channels": groups * per_out,
                "groups": groups,
            }
            wide = {
                "in_channels": groups * per_in * (m if grow_in else 1),
                "out_channels": groups * per_out * (m if grow_out else 1),
                "groups": groups,
            }
        for shape in (base, wide):
            shape.update(kernel_size=kernel, stride=stride)
    return {
        "kind": kind,
        "role": role,
        "scheme": scheme,
        "mode": mode,
        "activation": activation,
        "base": base,
        "wide": wide,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def _layer(pair: dict[str, Any], shape: dict[str, Any], **extra: Any) -> nn.Module:
    cls = initconv.layer_class(pair["scheme"], pair["kind"])
    options = {"mode": pair["mode"]} if pair["scheme"].startswith("kaiming") else {}
    return cls(**shape, activation=pair["activation"], **options, **extra)


@settings(max_examples=EXAMPLES, deadline=None)
@given(pair=layer_pairs())
def test_every_kind_and_role_draws_the_mup_law_derived_from_its_base(pair: dict[str, Any]) -> None:
    torch.manual_seed(pair["seed"])
    layer = _layer(pair, pair["wide"])
    model = nn.Sequential(layer)
    base = nn.Sequential(_layer(pair, pair["base"], device="meta"))
    report = initconv.mup_(model, base)
    kind = pair["kind"]
    fan_in, fan_out = true_fans(kind, pair["wide"])
    base_in, base_out = true_fans(kind, pair["base"])
    assert report.rows[0].role == pair["role"]
    assert layer.mup.fan_in == pytest.approx(fan_in / base_in)  # type: ignore[union-attr]
    assert layer.mup.fan_out == pytest.approx(fan_out / base_out)  # type: ignore[union-attr]
    base_variance = scheme_variance(pair["scheme"], pair["mode"], layer.gain, kind, pair["base"])
    expected = mup_variance(pair["role"], base_variance, fan_in / base_in)
    assert_variance_matches(
        pooled_weights(layer), expected, SCHEMES[pair["scheme"]], alpha=ALPHA_CHECK
    )


def test_the_law_check_has_the_power_to_see_a_readout_left_at_the_standard_law() -> None:
    # The factor a wrong readout law would be off by is m_in >= 2; at POOL values the band rejects
    # it (the mutation: the readout scaled as a hidden layer).
    torch.manual_seed(0)
    layer = initconv.KaimingNormalLinear(64, 10)
    initconv.mup_(nn.Sequential(layer), nn.Sequential(nn.Linear(32, 10)))
    weights = pooled_weights(layer)
    hidden_law = layer.gain**2 / 64
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_variance_matches(weights, hidden_law, "normal", alpha=ALPHA_CHECK)
    assert_variance_matches(weights, hidden_law / 2, "normal", alpha=ALPHA_CHECK)


def test_biases_keep_the_base_variance_also_where_the_bias_draw_reads_the_fan() -> None:
    # bias_init="torch" is U(-1/sqrt(n), 1/sqrt(n)), n read off the weight's shape: it would
    # shrink with width; under µP every bias is Theta(1), the base's (Table 3: fan_in 1).
    torch.manual_seed(1)
    wide = initconv.KaimingNormalConvTranspose2d(32, 64, 3, stride=2, bias_init="torch")
    base = nn.Sequential(initconv.KaimingNormalConvTranspose2d(8, 16, 3, stride=2, device="meta"))
    initconv.mup_(nn.Sequential(wide), base)
    draws = []
    for _ in range(64):
        wide.reset_parameters()
        draws.append(wide.bias.detach().clone())  # type: ignore[union-attr]
    base_shape_fan_in = 16 * 9  # the transposed weight is (in, out, 3, 3): torch reads out * 9
    assert_variance_matches(torch.cat(draws), 1 / (3 * base_shape_fan_in), "uniform")


# --- Roles of the kinds with unusual fans ---------------------------------------------------------


def test_a_depthwise_conv_is_vector_like_its_fans_do_not_grow() -> None:
    def make(width: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(3, width, 1), nn.Conv2d(width, width, 3, groups=width), nn.Conv2d(width, 5, 1)
        )

    report = initconv.mup_(make(32), make(8))
    assert report.roles() == {"0": "input", "1": "vector", "2": "output"}
    assert (report["1"].fan_in, report["1"].fan_out, report["1"].width) == (1.0, 1.0, 4.0)


def test_a_grouped_conv_with_fixed_groups_is_hidden_and_with_growing_groups_vector() -> None:
    def make(width: int, groups: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(width, width, 3, groups=groups))

    assert initconv.mup_(make(32, 4), make(8, 4)).rows[0].role == "hidden"
    assert initconv.mup_(make(32, 16), make(8, 4)).rows[0].role == "vector"


def test_a_transposed_conv_compares_its_true_fans() -> None:
    # fan_in = in * k / s: the stride does not change with width, so m_in is the channels' ratio.
    def make(width: int) -> nn.Sequential:
        return nn.Sequential(nn.ConvTranspose2d(width, 3, 4, stride=2))

    row = initconv.mup_(make(64), make(16)).rows[0]
    assert (row.role, row.fan_in, row.fan_out) == ("output", 4.0, 1.0)


def test_a_model_at_the_base_width_is_left_on_the_standard_law_with_every_factor_one() -> None:
    def make() -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
        )

    model = make()
    report = initconv.mup_(model, make())
    assert {row.role for row in report} == {"fixed"}
    assert all(row.weight_scale == row.adam == row.sgd == 1.0 for row in report)
    assert [g["lr"] for g in initconv.param_groups(model, 0.1)] == [0.1] * 2


# --- The learning-rate tables -------------------------------------------------------------------


def _all_roles(width: int) -> nn.Sequential:
    """input conv, depthwise conv, batch norm, hidden conv (2 width in, 1 width out), readout."""
    return nn.Sequential(
        nn.Conv2d(3, 2 * width, 3),
        nn.Conv2d(2 * width, 2 * width, 3, groups=2 * width),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.Conv2d(2 * width, width, 3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


def _rates(groups: list[dict[str, Any]], model: nn.Module) -> dict[str, float]:
    by_id = {id(p): name for name, p in model.named_parameters()}
    rates = {}
    for group in groups:
        for parameter in group["params"]:
            assert by_id[id(parameter)] not in rates  # every parameter once
            rates[by_id[id(parameter)]] = group["lr"]
    assert set(rates) == set(by_id.values())
    return rates


# Tensor Programs V, Table 3, written out for _all_roles at width 32 against 8: every multiplier
# is m = 4 (m_in, m_out, widths), lr 0.1.
ADAM_TABLE = {
    "0.weight": 0.1,  # input: eta
    "0.bias": 0.1,  # biases: eta
    "1.weight": 0.1,  # vector (depthwise): eta
    "1.bias": 0.1,
    "2.weight": 0.1,  # norm: vector
    "2.bias": 0.1,
    "4.weight": 0.1 / 4,  # hidden: eta / m_in
    "4.bias": 0.1,
    "7.weight": 0.1 / 4,  # output: eta / m_in
    "7.bias": 0.1,
}
SGD_TABLE = {
    "0.weight": 0.1 * 4,  # input: eta * m_out
    "0.bias": 0.1 * 4,  # biases: eta * fan_out (the bias's length grows 4x)
    "1.weight": 0.1 * 4,  # vector: eta * m
    "1.bias": 0.1 * 4,
    "2.weight": 0.1 * 4,
    "2.bias": 0.1 * 4,
    "4.weight": 0.1,  # hidden: eta
    "4.bias": 0.1 * 4,
    "7.weight": 0.1 / 4,  # output: eta / m_in
    "7.bias": 0.1,  # the readout's bias does not grow
}


@pytest.mark.parametrize(("optimizer", "table"), [("adam", ADAM_TABLE), ("sgd", SGD_TABLE)])
def test_param_groups_give_the_published_table(optimizer: str, table: dict[str, float]) -> None:
    model = _all_roles(32)
    initconv.mup_(model, _all_roles(8))
    rates = _rates(initconv.param_groups(model, 0.1, optimizer=optimizer), model)  # type: ignore[arg-type]
    assert rates == pytest.approx(table, rel=1e-12)


def test_a_model_without_mup_gets_one_plain_group_and_the_same_script_runs_both() -> None:
    plain = _all_roles(8)
    groups = initconv.param_groups(plain, 3e-3, weight_decay=0.01)
    assert groups == [{"params": list(plain.parameters()), "lr": 3e-3, "weight_decay": 0.01}]
    for model in (plain, _all_roles(16)):
        if model is not plain:
            initconv.mup_(model, _all_roles(8))
        optimizer = torch.optim.AdamW(initconv.param_groups(model, lr=3e-3))
        model(torch.randn(2, 3, 9, 9)).sum().backward()
        optimizer.step()


def test_weight_decay_keeps_the_decay_per_step_of_every_group() -> None:
    model = _all_roles(32)
    initconv.mup_(model, _all_roles(8))
    for optimizer in ("adam", "sgd"):
        groups = initconv.param_groups(model, 0.1, optimizer=optimizer, weight_decay=0.5)  # type: ignore[arg-type]
        assert len({g["lr"] for g in groups}) > 1
        assert all(g["lr"] * g["weight_decay"] == pytest.approx(0.05) for g in groups)


def test_shared_and_parametrized_parameters_are_grouped_once_under_their_layer() -> None:
    def make(width: int) -> nn.Sequential:
        model = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, width))
        nn.utils.parametrizations.weight_norm(model[2])
        return model

    model = make(32)
    initconv.mup_(model, make(8))
    rates = _rates(initconv.param_groups(model, 1.0), model)
    assert rates["2.parametrizations.weight.original0"] == 1 / 4  # hidden weight, Adam
    assert rates["2.parametrizations.weight.original1"] == 1 / 4
    assert rates["2.bias"] == 1.0


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"lr": 0.0}, ValueError, r"lr must be finite and > 0, got 0\.0"),
        ({"lr": math.nan}, ValueError, r"lr must be finite and > 0, got nan"),
        ({"lr": "1e-3"}, TypeError, r"lr must be a float, got str '1e-3'"),
        (
            {"lr": 1.0, "optimizer": "adamw"},
            ValueError,
            r"optimizer must be one of \('adam', 'sgd'\), got 'adamw'",
        ),
        (
            {"lr": 1.0, "weight_decay": -1.0},
            ValueError,
            r"weight_decay must be finite and >= 0, got -1\.0",
        ),
    ],
)
def test_param_groups_refuse_bad_arguments_by_name(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        initconv.param_groups(nn.Linear(2, 2), **arguments)


def test_a_parameter_without_a_record_in_a_mup_model_is_refused_by_name() -> None:
    model = _all_roles(16)
    initconv.mup_(model, _all_roles(8))
    model.append(nn.Linear(10, 10))
    with pytest.raises(ValueError, match=r"parameter '8\.weight' has no µP record"):
        initconv.param_groups(model, 1e-3)


# --- Depth ----------------------------------------------------------------------------------------


def _conv(width: int, activation: str = "relu") -> nn.Conv2d:
    return initconv.KaimingNormalConv2d(width, width, 3, padding=1, activation=activation)


class Block(nn.Module):
    """A pre-activation block: x + conv2(relu(bn2(conv1(relu(bn1(x))))))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(width)
        self.conv1 = _conv(width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))


class PostNorm(nn.Module):
    """x + bn(conv(x)): the norm ends the branch."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = _conv(width, "linear")
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn(self.conv(x))


def resnet(blocks: int, width: int = 8, block: type[nn.Module] = Block) -> nn.Sequential:
    return nn.Sequential(
        initconv.KaimingNormalConv2d(3, width, 3, padding=1, activation="relu"),
        nn.Sequential(*(block(width) for _ in range(blocks))),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        initconv.KaimingNormalLinear(width, 10),
    )


def test_depth_scales_each_branch_end_by_the_root_of_the_block_ratio() -> None:
    # 8 blocks against 2: the branch multiplier is (2 / 8)^(1/2) = 1/2, drawn into conv2.
    torch.manual_seed(2)
    model = resnet(8, width=32)
    report = initconv.mup_(model, resnet(2, width=32))
    assert (report.branches, report.base_branches) == (8, 2)
    for index in range(8):
        end = report[f"1.{index}.conv2"]
        assert (end.depth, end.branch_end, end.weight_scale) == (4.0, True, 0.5)
        assert report[f"1.{index}.conv1"].branch_end is False
    assert report["0"].depth == report["4"].depth == 1.0
    conv2 = model[1][5].conv2
    expected = conv2.gain**2 / conv2.fan_in / 4
    assert_variance_matches(pooled_weights(conv2, 2**15), expected, "normal")


def test_depth_learning_rates_follow_the_derivation() -> None:
    # Adam: every parameter inside a branch times (L_b / L)^(1/2) = 1/2, the branch end's times
    # L_b / L = 1/4 more (it carries the multiplier a in its init: Delta(a w) = a Delta w).
    # SGD: no factor inside a branch (the gradient carries a, the step a^2 = L_b / L per branch,
    # L branches: order 1); the branch end's times a^2 = 1/4.
    model = resnet(8)
    initconv.mup_(model, resnet(2))
    adam = _rates(initconv.param_groups(model, 1.0), model)
    sgd = _rates(initconv.param_groups(model, 1.0, optimizer="sgd"), model)
    assert adam["1.3.bn1.weight"] == adam["1.3.conv1.weight"] == adam["1.3.conv1.bias"] == 0.5
    assert adam["1.3.conv2.weight"] == adam["1.3.conv2.bias"] == 0.25
    assert sgd["1.3.bn1.weight"] == sgd["1.3.conv1.weight"] == 1.0
    assert sgd["1.3.conv2.weight"] == sgd["1.3.conv2.bias"] == 0.25
    assert adam["0.weight"] == adam["4.weight"] == sgd["4.weight"] == 1.0


def test_a_norm_that_ends_a_branch_carries_the_multiplier_once_and_says_so() -> None:
    model = resnet(8, block=PostNorm)
    report = initconv.mup_(model, resnet(2, block=PostNorm))
    row = report["1.0.bn"]
    assert (row.branch_end, row.replayed, row.weight_scale) == (True, False, 0.5)
    assert torch.equal(model[1][0].bn.weight, torch.full((8,), 0.5))
    assert "reset sets it back" in str(report)


def test_extra_blocks_take_the_last_block_of_the_same_stack_in_base_as_counterpart() -> None:
    model = resnet(5)
    initconv.mup_(model, resnet(2))
    records = [model[1][i].conv1.mup for i in range(5)]
    assert all(record == records[0] for record in records)


@pytest.mark.parametrize(
    ("model_blocks", "base_blocks", "match"),
    [
        (2, 4, r"the model has 2 residual branches and base 4"),
        (3, 0, r"the model has 3 residual branches and base 0"),
    ],
)
def test_a_base_deeper_than_the_model_or_without_branches_is_refused(
    model_blocks: int, base_blocks: int, match: str
) -> None:
    model = resnet(model_blocks)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=match):
        initconv.mup_(model, resnet(base_blocks))
    _assert_unchanged(model, before, plain=False)


# --- Replay: reset, to_empty, pickle, checkpoints -------------------------------------------------


def _mlp(width: int, device: str | None = None) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(16, width, device=device),
        nn.ReLU(),
        nn.Linear(width, width, device=device),
        nn.ReLU(),
        nn.Linear(width, 10, device=device),
    )


def _assert_law(model: nn.Sequential, width: int, base: int) -> None:
    """Each layer's weights against Table 3 at m = width / base: He by fan_in (input, hidden),
    the readout's He variance over m."""
    m = width / base
    input_, hidden, readout = model[0], model[2], model[4]
    assert_variance_matches(pooled_weights(input_), 2 / 16, "normal")
    assert_variance_matches(pooled_weights(hidden), 2 / width, "normal")
    assert_variance_matches(pooled_weights(readout), 1 / width / m, "normal")


def test_reset_save_load_into_a_fresh_model_and_reset_draws_the_same_law() -> None:
    torch.manual_seed(3)
    model = _mlp(256)
    initconv.mup_(model, _mlp(32, "meta"))
    _assert_law(model, 256, 32)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = _mlp(256)
    initconv.convert(fresh)  # the same initconv layers, no µP record
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer))
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True)
    )
    assert [fresh[i].mup for i in (0, 2, 4)] == [model[i].mup for i in (0, 2, 4)]
    _assert_law(fresh, 256, 32)


def test_a_meta_model_materialised_by_to_empty_and_reset_draws_the_law() -> None:
    torch.manual_seed(4)
    model = _mlp(256, "meta")
    initconv.mup_(model, _mlp(32, "meta"))
    model.to_empty(device="cpu")
    _assert_law(model, 256, 32)


def test_pickle_and_deepcopy_keep_the_records() -> None:
    model = _mlp(64)
    initconv.mup_(model, _mlp(16))
    for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert [copied[i].mup for i in (0, 2, 4)] == [model[i].mup for i in (0, 2, 4)]


def test_a_layer_pickled_before_records_existed_loads_without_one() -> None:
    layer = initconv.KaimingNormalLinear(4, 4)
    state = layer.__getstate__()
    del state["mup"]
    fresh = initconv.KaimingNormalLinear.__new__(initconv.KaimingNormalLinear)
    fresh.__setstate__(state)
    assert fresh.mup is None


def test_a_checkpoint_with_a_broken_record_fails_to_load_naming_the_layer() -> None:
    model = _mlp(32)
    initconv.mup_(model, _mlp(16))
    state = model.state_dict()
    state._metadata["2"]["initconv_mup"] = {"role": "sideways"}  # type: ignore[attr-defined]
    fresh = _mlp(32)
    initconv.convert(fresh)
    with pytest.raises(RuntimeError, match=r"layer '2': initconv_mup must be a dict with keys"):
        fresh.load_state_dict(state)


def test_to_torch_drops_the_records_and_the_state_dict_loads_into_plain_torch() -> None:
    model = _mlp(32)
    initconv.mup_(model, _mlp(16))
    plain = _mlp(32)
    plain.load_state_dict(model.state_dict())
    initconv.to_torch(model)
    assert type(model[2]) is nn.Linear
    assert "mup" not in vars(model[2])


def test_the_repr_shows_the_role() -> None:
    model = _mlp(32)
    initconv.mup_(model, _mlp(16))
    assert "mup=hidden" in repr(model[2])


# --- Plain torch models ---------------------------------------------------------------------------


def test_a_plain_torch_model_is_converted_with_inferred_activations() -> None:
    model = _mlp(32)
    initconv.mup_(model, _mlp(16))
    assert [type(model[i]).__name__ for i in (0, 2, 4)] == ["KaimingNormalLinear"] * 3
    assert [model[i].activation for i in (0, 2, 4)] == ["relu", "relu", "linear"]


def test_xavier_layers_are_put_on_the_fan_in_law_of_their_base() -> None:
    # Xavier's variance 2 g^2 / (fan_in + fan_out) does not fall like 1/fan_in for an input
    # layer (only its fan_out grows): µP keeps the base's variance there.
    torch.manual_seed(5)
    wide = initconv.XavierNormalLinear(16, 512)
    initconv.mup_(nn.Sequential(wide), nn.Sequential(nn.Linear(16, 32)))
    assert_variance_matches(pooled_weights(wide, 2**16), 2 / (16 + 32), "normal")


# --- Bad bases, refused by name, the model as it was -----------------------------------------------


def _assert_unchanged(model: nn.Module, before: dict[str, Tensor], plain: bool = True) -> None:
    """The values as they were, no record set, and (for a plain model) no layer converted."""
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    if plain:
        assert not any(isinstance(m, initconv.InitLayer) for m in model.modules())
    assert all(mup_record.record_of(m) is None for m in model.modules())


def _conv_net(width: int, kernel: int = 3, extra: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(3, width, kernel),
        nn.ReLU(),
        nn.Conv2d(width, width, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    ]
    if extra:
        layers.append(nn.Linear(10, 10))
    return nn.Sequential(*layers)


@pytest.mark.parametrize(
    ("base", "match"),
    [
        (_conv_net(8, extra=True), r"the model has no counterpart of base's Linear '7'"),
        (_conv_net(64), r"layer '0': its out_channels 16 is smaller than base's 64"),
        (
            _conv_net(8, kernel=5),
            r"layer '0': kernel_size is \(3, 3\) in the model but \(5, 5\) in base",
        ),
        (
            nn.Sequential(nn.Linear(3, 8), *_conv_net(8)[1:]),
            r"module '0' is a Conv2d in the model but a Linear in base",
        ),
    ],
)
def test_a_base_that_is_not_the_same_architecture_is_refused_naming_the_layer(
    base: nn.Module, match: str
) -> None:
    model = _conv_net(16)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=match):
        initconv.mup_(model, base)
    _assert_unchanged(model, before)


def test_a_layer_missing_from_base_is_refused_by_name() -> None:
    model = _conv_net(16, extra=True)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"base has no counterpart of the model's Linear '7'"):
        initconv.mup_(model, _conv_net(8))
    _assert_unchanged(model, before)


def test_groups_that_grow_faster_than_the_channels_shrink_a_fan_and_are_refused() -> None:
    model = nn.Sequential(nn.Conv2d(16, 16, 3, groups=8))
    with pytest.raises(ValueError, match=r"layer '0': its fan_in 18 is smaller than base's 36"):
        initconv.mup_(model, nn.Sequential(nn.Conv2d(8, 8, 3, groups=2)))


def test_a_parameter_that_grows_in_two_dimensions_outside_a_known_layer_is_refused() -> None:
    def make(width: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(4, width), nn.Bilinear(width, width, width))

    with pytest.raises(ValueError, match=r"parameter '1\.weight' of a Bilinear grows in 3 dim"):
        initconv.mup_(make(16), make(8))


@pytest.mark.parametrize(
    ("model", "base", "error", "match"),
    [
        ("model", "x", TypeError, r"base must be an nn.Module, got str 'x'"),
        ("model", "self", ValueError, r"base must be a separate model at the base width"),
        ("layer", "model", TypeError, r"model must contain the layers to replace, not be one"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    model: str, base: str, error: type[Exception], match: str
) -> None:
    built = _conv_net(8)
    target: Any = built if model == "model" else nn.Linear(2, 2)
    other: Any = {"x": "x", "self": built, "model": built}[base]
    with pytest.raises(error, match=match):
        initconv.mup_(target, other)


def test_a_subclass_with_its_own_forward_is_refused_and_the_model_left_as_it_was() -> None:
    class Scaled(nn.Conv2d):
        def forward(self, x: Tensor) -> Tensor:
            return 2 * super().forward(x)

    def make(width: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(3, width, 3), Scaled(width, width, 3))

    model = make(16)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"layer '1' is a Scaled, a subclass of nn.Conv2d"):
        initconv.mup_(model, make(8))
    assert type(model[0]) is nn.Conv2d
    assert type(model[1]) is Scaled
    _assert_unchanged(model, before)


# --- A second call ---------------------------------------------------------------------------------


def test_a_second_call_with_the_same_base_changes_nothing() -> None:
    model = _conv_net(16)
    initconv.mup_(model, _conv_net(8))
    before = copy.deepcopy(model.state_dict())
    report = initconv.mup_(model, _conv_net(8))
    assert report.changed is False
    assert "nothing changed" in str(report)
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_a_second_call_with_another_base_is_refused_by_name_and_changes_nothing() -> None:
    model = _conv_net(16)
    initconv.mup_(model, _conv_net(8))
    records = [getattr(m, "mup", None) for m in model.modules()]
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"module '0' already has a different µP record"):
        initconv.mup_(model, _conv_net(4))
    assert [getattr(m, "mup", None) for m in model.modules()] == records
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_the_docstring_examples_run() -> None:
    globs = {"initconv": initconv, "nn": nn, "torch": torch}
    runner = doctest.DocTestRunner()
    tries = 0
    for function in (mup_module.mup_, param_groups_module.param_groups):
        for test in doctest.DocTestFinder().find(function, function.__name__, globs=globs):
            runner.run(test)
            tries += len(test.examples)
    assert runner.failures == 0
    assert tries == 7


# --- Hostile values: refused by name, or a sound result ------------------------------------------

HOSTILE: tuple[Any, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    -1.0,
    -0.0,
    0.0,
    1e-300,
    1e300,
    1e308,
    10**400,
    True,
    None,
    "x",
    "adam ",
    [],
    (1,),
    {},
    1 + 2j,
    object(),
    np.float32(np.nan),
    np.float64(0.5),
    np.int64(3),
    torch.tensor(0.5),
    torch.tensor([0.5]),
    nn.ReLU,
)


@functools.cache
def _parametrized() -> nn.Sequential:
    """One µP model for the hostile-value tests, which only read it."""
    model = _all_roles(16)
    initconv.mup_(model, _all_roles(8))
    return model


@pytest.mark.parametrize("parameter", ["lr", "optimizer", "weight_decay"])
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_param_groups_refuse_a_hostile_value_by_name_or_give_finite_rates(
    parameter: str, value: Any
) -> None:
    model = _parametrized()
    arguments: dict[str, Any] = {"lr": 0.1, "optimizer": "adam", "weight_decay": 0.0}
    arguments[parameter] = value
    refused: Exception | None = None
    try:
        groups = initconv.param_groups(model, **arguments)
    except (TypeError, ValueError) as error:
        refused = error
    if refused is not None:
        assert parameter in str(refused)
        return
    assert all(math.isfinite(g["lr"]) for g in groups)
    assert all(g["lr"] > 0 for g in groups)
    assert all(math.isfinite(g["weight_decay"]) for g in groups)
    assert all(g["weight_decay"] >= 0 for g in groups)


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_mup_refuses_a_hostile_scheme_by_name_and_leaves_the_model(value: Any) -> None:
    model = _conv_net(16)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises((TypeError, ValueError), match="scheme"):
        initconv.mup_(model, _conv_net(8), scheme=value)
    _assert_unchanged(model, before)
