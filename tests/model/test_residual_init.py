"""initconv.residual_init_: branches found in the traced graph, each method's recipe, its replay by
reset_parameters(), and checkpoints that still load into the original classes."""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import pytest
import torch
from torch import Tensor, nn

import initconv
from initconv import KaimingNormalConv2d


class Block(nn.Module):
    """A norm-free basic block: x + conv2(relu(conv1(x)))."""

    def __init__(self, width: int, conv: type[nn.Conv2d] = KaimingNormalConv2d) -> None:
        super().__init__()
        self.conv1 = conv(width, width, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = conv(width, width, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class Down(nn.Module):
    """torchvision's BasicBlock with a projection shortcut: bn2 ends the branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.downsample = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        out += self.downsample(x)
        return torch.relu(out)


def resnet(blocks: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        Down(),
        *[Block(8) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def _input() -> Tensor:
    return torch.randn(2, 8, 6, 6, generator=torch.Generator().manual_seed(1))


def test_the_branches_are_found_with_their_layers_and_the_projection_left_alone() -> None:
    report = initconv.residual_init_(resnet(), "fixup", seed=0)
    assert report.branches == 4
    assert [row.name for row in report] == [
        "1.conv1", "1.conv2", "2.conv1", "2.conv2", "3.conv1", "3.conv2", "4.conv1", "4.conv2",
    ]  # fmt: skip
    assert {row.branch for row in report} == {"1", "2", "3", "4"}
    assert all(row.layers == 2 for row in report)
    assert "1.downsample.0" not in {row.name for row in report}


def test_zero_makes_every_norm_free_block_the_identity_and_replays_it() -> None:
    block = nn.Sequential(Block(8))
    report = initconv.residual_init_(block, "zero", seed=0)
    assert [(row.name, row.action, row.replayed) for row in report] == [("0.conv2", "zeroed", True)]
    x = _input()
    assert torch.equal(block(x), x)
    conv2 = block[0].conv2
    with torch.no_grad():
        conv2.weight.normal_()
    conv2.reset_parameters()
    assert torch.equal(block(x), x)
    assert conv2.calibrated_base == "zero"


def test_zero_sets_a_norms_scale_where_a_norm_ends_the_branch() -> None:
    model = resnet(0)
    report = initconv.residual_init_(model, "zero")
    (row,) = report
    assert (row.name, row.action, row.replayed) == ("1.bn2", "scale zeroed", False)
    assert torch.count_nonzero(model[1].bn2.weight) == 0
    assert torch.count_nonzero(model[1].conv2.weight) > 0


def test_fixup_scales_each_layers_own_draw_by_l_to_the_minus_one_over_2m_minus_2() -> None:
    model = resnet(3)
    reference = copy.deepcopy(model)
    report = initconv.residual_init_(model, "fixup", seed=7)
    factor = 4 ** (-1 / (2 * 2 - 2))
    conv1: KaimingNormalConv2d = model[2].conv1
    assert report["2.conv1"].factor == pytest.approx(factor, rel=1e-15)
    # The same layer, drawn from the same seed, times the factor.
    base = reference[2].conv1
    base.seed = conv1.seed
    base.reset_parameters()
    assert torch.equal(conv1.weight, base.weight * factor)
    assert torch.count_nonzero(model[2].conv2.weight) == 0
    before = conv1.weight.detach().clone()
    conv1.reset_parameters()
    assert torch.equal(conv1.weight, before)


def test_plain_torch_layers_are_changed_once_and_the_report_says_so() -> None:
    model = nn.Sequential(Block(8, nn.Conv2d), Block(8, nn.Conv2d))
    before = model[0].conv1.weight.detach().clone()
    report = initconv.residual_init_(model, "fixup")
    assert not any(row.replayed for row in report)
    assert torch.equal(model[0].conv1.weight, before * 2 ** (-1 / 2))
    assert "convert it to replay" in str(report)


def test_skipinit_gates_each_branch_with_a_zero_parameter_that_learns() -> None:
    model = nn.Sequential(Block(8), Block(8))
    report = initconv.residual_init_(model, "skipinit")
    assert [row.name for row in report] == ["0.conv2", "1.conv2"]
    gate = model[0].conv2.get_parameter(initconv.GATE)
    assert float(gate.detach()) == 0.0
    x = _input()
    assert torch.equal(model(x), x)
    model(x).pow(2).sum().backward()
    assert gate.grad is not None
    assert float(gate.grad) != 0.0
    assert f"0.conv2.{initconv.GATE}" in model.state_dict()
    assert torch.equal(pickle.loads(pickle.dumps(model))(x), x)


@pytest.mark.parametrize("method", ["zero", "fixup"])
def test_checkpoints_load_into_the_original_and_the_plain_torch_classes(method: str) -> None:
    model = resnet(2)
    initconv.residual_init_(model, method, seed=3)
    state = model.state_dict()
    resnet(2).load_state_dict(state)
    plain = initconv.to_torch(copy.deepcopy(model))
    plain.load_state_dict(state)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    model.eval()
    plain.eval()
    assert torch.equal(plain(x), model(x))


def test_a_model_without_residual_adds_is_left_alone_with_a_warning() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(
        UserWarning, match=r"found no residual branch it can change in the Sequential; nothing"
    ):
        report = initconv.residual_init_(model)
    assert len(report) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class GatedBlock(nn.Module):
    """A squeeze-excite-style block: its branch ends in a multiplication, not in a module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.gate = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y * torch.sigmoid(self.gate(y.mean((2, 3), keepdim=True)))


def test_skipinit_says_why_it_skips_a_branch_that_ends_in_a_function() -> None:
    model = nn.Sequential(GatedBlock(), GatedBlock())
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(UserWarning, match=r"in the Sequential; 2 candidates skipped, the report"):
        report = initconv.residual_init_(model, "skipinit")
    assert "the branch ends in a function, not a module, to gate" in str(report)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class TwoTowers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(4, 4, 1)
        self.right = nn.Conv2d(4, 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.left(x) + self.right(x)


def test_an_add_of_two_equal_towers_is_not_taken_for_a_branch() -> None:
    model = nn.Sequential(TwoTowers(), Block(4))
    report = initconv.residual_init_(model, "zero")
    assert report.branches == 1
    assert "both paths have 1 weight layers: not a shortcut" in report.skipped["add"]


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it, its children trace alone."""

    def __init__(self) -> None:
        super().__init__()
        self.block = Block(4)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) if float(x.sum()) > 0 else -self.block(x)


def test_a_module_fx_cannot_trace_is_looked_into_child_by_child() -> None:
    report = initconv.residual_init_(Untraceable(), "zero")
    assert [row.name for row in report] == ["block.conv2"]
    assert "torch.fx could not trace it" in report.skipped["(model)"]


def test_the_report_prints_as_a_table() -> None:
    text = str(initconv.residual_init_(nn.Sequential(Block(4), Block(4)), "fixup", seed=0))
    lines = text.splitlines()
    assert lines[0].split() == [
        "module",
        "branch",
        "m",
        "action",
        "replayed",
        "by",
        "reset",
        "detail",
    ]
    assert f"x {2**-0.5:.4g}" in text
    assert (
        lines[-1]
        == "fixup: 2 residual branches, 4 modules changed; 0 adds were not residual branches."
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"method": "he"},
            ValueError,
            r"method must be one of \('fixup', 'skipinit', 'zero'\), got 'he'",
        ),
        ({"seed": -1}, ValueError, r"seed"),
        ({"seed": 1.5}, TypeError, r"seed"),
    ],
)
def test_bad_arguments_raise_and_change_nothing(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    model = nn.Sequential(Block(4))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=match):
        initconv.residual_init_(model, **kwargs)  # type: ignore[arg-type]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_model_that_is_not_a_module_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"model must be an nn\.Module, got"):
        initconv.residual_init_([Block(4)])  # type: ignore[arg-type]


def test_a_deep_norm_free_resnet_keeps_its_signal_with_zero_init_and_not_without() -> None:
    def deep() -> nn.Sequential:
        torch.manual_seed(0)
        return nn.Sequential(*[Block(8) for _ in range(50)])

    x = _input()
    plain, zeroed = deep(), deep()
    initconv.residual_init_(zeroed, "fixup", seed=0)
    with torch.no_grad():
        assert math.log2(float(plain(x).pow(2).mean() / x.pow(2).mean())) > 10
        assert float(zeroed(x).pow(2).mean()) == pytest.approx(float(x.pow(2).mean()), rel=1e-6)


# Parallel blocks: x + attn(h) + mlp(h), every branch of the sum once.


class Parallel(nn.Module):
    """A GPT-J/PaLM parallel block: two branches of a shared pre-norm, one sum. The attention
    stand-in has more layers than the MLP, so a reading of the second add as a binary one takes
    the first add (attention included) for its branch."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attn = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        self.attn.append(nn.ReLU()).append(nn.Linear(width, width))
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        return x + self.attn(h) + self.mlp(h)


def _tokens(width: int = 8) -> Tensor:
    return torch.randn(3, 5, width, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("method", ["zero", "fixup", "skipinit"])
def test_a_parallel_block_starts_as_the_identity_with_each_branch_found_once(method: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(Parallel(), Parallel())
    report = initconv.residual_init_(model, method, seed=0)
    assert report.branches == 4
    assert sorted({row.branch for row in report}) == ["0.attn", "0.mlp", "1.attn", "1.mlp"]
    names = [row.name for row in report]
    assert len(names) == len(set(names))
    x = _tokens()
    assert torch.equal(model(x), x)


def test_fixup_scales_each_branch_of_a_parallel_block_once_by_its_own_m() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(Parallel(), Parallel())
    before = copy.deepcopy(model)
    initconv.residual_init_(model, "fixup")
    total = 4  # two branches in each of two blocks
    attn, mlp = (total ** (-1 / (2 * m - 2)) for m in (3, 2))  # Fixup's L^(-1/(2m-2))
    for block, old in zip(model, before, strict=True):
        assert torch.equal(block.attn[0].weight, old.attn[0].weight * attn)
        assert torch.equal(block.attn[2].weight, old.attn[2].weight * attn)
        assert torch.equal(block.mlp[0].weight, old.mlp[0].weight * mlp)
        assert torch.count_nonzero(block.attn[4].weight) == 0
        assert torch.count_nonzero(block.mlp[2].weight) == 0


# Branches through modules that hold weights without being one of the seven kinds.


class AttentionBlock(nn.Module):
    """A pre-norm transformer block with torch's own attention."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 2, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))


@pytest.mark.parametrize("method", ["zero", "fixup"])
def test_an_attention_branch_is_a_weight_layer_zeroed_through_its_out_proj(method: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(AttentionBlock(), AttentionBlock())
    report = initconv.residual_init_(model, method)
    assert report.branches == 4
    assert report["0.attn"].action == "zeroed"
    assert report["0.attn"].layers == 1
    assert torch.count_nonzero(model[0].attn.out_proj.weight) == 0
    assert torch.count_nonzero(model[0].attn.in_proj_weight) > 0
    x = _tokens()
    assert torch.equal(model(x), x)


class FunctionalMLP(nn.Module):
    """A residual MLP that holds its weights as Parameters and applies them with F.linear."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(2 * width, width) / width**0.5)
        self.b1 = nn.Parameter(torch.zeros(2 * width))
        self.w2 = nn.Parameter(torch.randn(width, 2 * width) / width**0.5)
        self.b2 = nn.Parameter(torch.randn(width))

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(torch.nn.functional.linear(x, self.w1, self.b1))
        return x + torch.nn.functional.linear(h, self.w2, self.b2)


def test_a_branch_of_functional_weight_ops_on_parameters_is_found_and_zeroed() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(FunctionalMLP(), FunctionalMLP())
    before = model[0].w1.detach().clone()
    report = initconv.residual_init_(model, "fixup")
    assert [(row.name, row.action) for row in report][:2] == [
        ("0.w1", "scaled"),
        ("0.w2", "zeroed"),
    ]
    assert torch.equal(model[0].w1, before * 2 ** (-1 / 2))
    assert torch.count_nonzero(model[0].b2) == 0
    x = _tokens()
    assert torch.equal(model(x), x)


class Recurrent(nn.Module):
    """A branch that ends in a module whose weights residual_init_ cannot zero."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.lstm = nn.LSTM(width, width, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.lstm(x)[0]


def test_a_branch_whose_last_weight_cannot_be_zeroed_is_left_with_a_warning_naming_it() -> None:
    model = nn.Sequential(Block(8), Recurrent())
    before = copy.deepcopy(model[1].state_dict())
    with pytest.warns(
        UserWarning, match=r"left 1 residual branch\(es\) of the Sequential unchanged"
    ):
        report = initconv.residual_init_(model, "zero")
    assert [row.name for row in report] == ["0.conv2"]
    assert "1.lstm cannot be zeroed" in report.unchanged["1"]
    assert "LSTM" in report.unchanged["1"]
    assert all(torch.equal(before[k], v) for k, v in model[1].state_dict().items())


def test_zero_picks_a_layer_whose_zeros_zero_the_branch_not_one_before_a_sigmoid() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(GatedBlock(), GatedBlock())
    report = initconv.residual_init_(model, "zero")
    assert [row.name for row in report] == ["0.conv", "1.conv"]
    x = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(x), x)


# All or nothing.


class Refusing(nn.Module):
    """A parametrization that cannot be assigned to: torch raises when a value is stored."""

    def forward(self, weight: Tensor) -> Tensor:
        return weight


def _state(model: nn.Module) -> dict[str, object]:
    """Everything residual_init_ may change: values, calibrations, seeds, hooks and gates."""
    return {
        "values": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "parameters": [id(p) for p in model.parameters()],
        "layers": {
            name: (module.calibration, module.seed, module.bias_init, module.bias_std)
            for name, module in model.named_modules()
            if isinstance(module, initconv.InitLayer)
        },
        "hooks": {name: len(module._forward_hooks) for name, module in model.named_modules()},
        "attributes": {name: sorted(vars(module)) for name, module in model.named_modules()},
    }


def _same(before: dict[str, object], after: dict[str, object]) -> bool:
    values = cast_dict(before["values"]), cast_dict(after["values"])
    equal = values[0].keys() == values[1].keys() and all(
        torch.equal(values[0][k], values[1][k]) for k in values[0]
    )
    rest = [key for key in before if key != "values"]
    return equal and all(before[key] == after[key] for key in rest)


def cast_dict(value: object) -> dict[str, Tensor]:
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("method", ["zero", "fixup", "skipinit"])
def test_a_failure_in_the_last_block_leaves_every_block_as_it_was(method: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(Block(8), Block(8, nn.Conv2d), Block(8))
    from torch.nn.utils import parametrize

    parametrize.register_parametrization(model[2].conv2, "weight", Refusing())
    parametrize.register_parametrization(model[2].conv1, "weight", Refusing())
    if method == "skipinit":
        model[2].conv2.residual_gate = 1.0  # taken: the gate cannot be added
    before = _state(model)
    with pytest.raises(ValueError, match=r"residual_init_ could not \w+( the scale of)? '2\.conv"):
        initconv.residual_init_(model, method, seed=0)
    assert _same(before, _state(model))


def test_a_failure_is_a_value_error_naming_the_module_not_a_bare_runtime_error() -> None:
    with torch.inference_mode():
        model = nn.Sequential(Block(8, nn.Conv2d), Block(8, nn.Conv2d))
    before = _state(model)
    with pytest.raises(ValueError, match=r"could not zero '0\.conv2' \(Conv2d\) of branch '0'"):
        initconv.residual_init_(model, "zero")
    assert _same(before, _state(model))


# A second call.


@pytest.mark.parametrize("method", ["zero", "fixup", "skipinit"])
@pytest.mark.parametrize("second", ["zero", "fixup", "skipinit"])
def test_a_second_call_is_refused_by_name_and_changes_nothing(method: str, second: str) -> None:
    model = nn.Sequential(Block(8), Block(8, nn.Conv2d))
    initconv.residual_init_(model, method, seed=0)
    before = _state(model)
    gate = getattr(model[0].conv2, initconv.GATE, None)
    with pytest.raises(ValueError, match=r"already changed this model: module '0\.conv\d' holds"):
        initconv.residual_init_(model, second, seed=0)
    assert _same(before, _state(model))
    assert getattr(model[0].conv2, initconv.GATE, None) is gate


def test_a_second_skipinit_neither_adds_a_gate_nor_replaces_the_first() -> None:
    model = nn.Sequential(Block(8))
    initconv.residual_init_(model, "skipinit")
    gate = model[0].conv2.get_parameter(initconv.GATE)
    with pytest.raises(ValueError, match=r"holds method='skipinit'"):
        initconv.residual_init_(model, "skipinit")
    assert model[0].conv2.get_parameter(initconv.GATE) is gate
    assert len(model[0].conv2._forward_hooks) == 1


def test_a_second_call_is_refused_after_a_deep_copy_and_a_pickle() -> None:
    model = nn.Sequential(Block(8))
    initconv.residual_init_(model, "fixup", seed=0)
    for again in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        with pytest.raises(ValueError, match=r"already changed this model"):
            initconv.residual_init_(again, "fixup")


# SkipInit, then to_torch and convert.


@pytest.mark.parametrize("conv", [KaimingNormalConv2d, nn.Conv2d])
def test_a_gated_model_converts_to_plain_torch_and_back_keeping_its_gates(
    conv: type[nn.Conv2d],
) -> None:
    model = nn.Sequential(Block(8, conv), Block(8, conv))
    initconv.residual_init_(model, "skipinit")
    gates = [block.conv2.get_parameter(initconv.GATE) for block in model]
    plain = initconv.to_torch(model)
    assert all(type(block.conv2) is nn.Conv2d for block in plain)
    assert [block.conv2.get_parameter(initconv.GATE) for block in plain] == gates
    x = _input()
    assert torch.equal(plain(x), x)
    with torch.no_grad():
        gates[0].fill_(0.5)
    assert not torch.equal(plain(x), x)
    initconv.convert(plain, reinit=False)
    assert isinstance(plain[0].conv2, initconv.InitLayer)
    assert plain[0].conv2.get_parameter(initconv.GATE) is gates[0]


# Real architectures: torchvision's ResNet-18, MobileNetV2 and ConvNeXt as tests/_architectures.py
# writes them, and a ViT as timm writes its blocks (LayerScale, a traced DropPath, fused qkv).


def _drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """timm's drop_path: a per-sample mask made from the input's shape."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * x.new_empty(shape).bernoulli_(keep).div_(keep)


class DropPath(nn.Module):
    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        return _drop_path(x, self.drop_prob, self.training)


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class FusedAttention(nn.Module):
    def __init__(self, dim: int, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))  # type: ignore[no-any-return]


class ViTBlock(nn.Module):
    def __init__(self, dim: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = FusedAttention(dim)
        self.ls1 = LayerScale(dim)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.ls2 = LayerScale(dim)
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, dim: int = 8, depth: int = 3) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 4, stride=4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, 5, dim))
        self.blocks = nn.Sequential(*[ViTBlock(dim, 0.1 * i) for i in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])  # type: ignore[no-any-return]


def _architecture(name: str) -> tuple[nn.Module, list[str], str, int]:
    """The model, its residual blocks, the module ending each block's branch ("" where the block
    returns x + branch), and the input's spatial size."""
    from _architectures import convnext, mobilenet_v2, resnet18

    torch.manual_seed(0)
    if name == "resnet18":
        model: nn.Module = resnet18()
        blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]
        return model, blocks, "bn2", 32
    if name == "mobilenet_v2":
        model = mobilenet_v2()
        return model, ["features.1", "features.3", "features.5"], "", 32
    if name == "convnext":
        return convnext(), ["stage1.0", "stage1.1", "stage2.0"], "", 32
    return ViT(), [f"blocks.{i}" for i in range(3)], "", 8


@pytest.mark.parametrize("convert", [False, True], ids=["torch", "initconv"])
@pytest.mark.parametrize("method", ["zero", "fixup", "skipinit"])
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "convnext", "vit"])
def test_every_block_of_a_real_architecture_starts_as_the_identity(
    name: str, method: str, convert: bool
) -> None:
    model, blocks, end, size = _architecture(name)
    if convert:
        initconv.convert(model, reinit=False)
    report = initconv.residual_init_(model, method, seed=0)
    assert report.branches == len(blocks) * (2 if name == "vit" else 1)
    assert not report.unchanged
    seen: dict[str, tuple[Tensor, Tensor]] = {}

    def keep(label: str) -> object:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            seen[label] = (inputs[0].clone(), output.clone())

        return hook

    for block in blocks:
        target = model.get_submodule(f"{block}.{end}" if end else block)
        target.register_forward_hook(keep(block))
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    for training in (False, True):  # drop paths and batch statistics as they train
        model.train(training)
        with torch.no_grad():
            model(x)
        for block in blocks:
            given, out = seen[block]
            if end:  # the branch's end is exactly zero: the block adds nothing to its shortcut
                assert torch.count_nonzero(out) == 0, block
            else:
                assert torch.equal(out, given), block


# Found attacking it: the meta device, tied and parametrized weights, models that cannot be
# copied, threads, dtypes, sums of many terms.


def test_on_the_meta_device_replayed_changes_survive_materialisation() -> None:
    with torch.device("meta"):
        model = nn.Sequential(Block(8), Block(8))
    report = initconv.residual_init_(model, "fixup", seed=0)
    assert all(row.replayed for row in report)
    model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, initconv.InitLayer):
            module.reset_parameters()
    x = _input()
    assert torch.equal(model(x), x)


@pytest.mark.parametrize("method", ["zero", "fixup", "skipinit"])
def test_on_the_meta_device_a_change_that_would_be_lost_is_refused_by_name(method: str) -> None:
    with torch.device("meta"):  # for SkipInit, initconv layers only: the gate is what is lost
        model = nn.Sequential(Block(8), Block(8, nn.Conv2d) if method != "skipinit" else Block(8))
    before = _state(model)
    match = (
        r"cannot gate '0\.conv2' on the meta device"
        if method == "skipinit"
        else (r"cannot change '1\.conv\d' \(Conv2d\) on the meta device")
    )
    with pytest.raises(ValueError, match=match):
        initconv.residual_init_(model, method, seed=0)
    assert _state(model)["layers"] == before["layers"]
    assert _state(model)["hooks"] == before["hooks"]


def test_a_branch_whose_last_weight_is_tied_elsewhere_is_left_with_a_warning() -> None:
    model = nn.Sequential(Block(8, nn.Conv2d), Block(8, nn.Conv2d), nn.Conv2d(8, 8, 3))
    model[1].conv2.weight = model[2].weight  # the head shares the second block's last weight
    with pytest.warns(UserWarning, match=r"left 1 residual branch\(es\) .* unchanged \('1'\)"):
        report = initconv.residual_init_(model, "zero")
    assert "shares a Parameter with another module" in report.unchanged["1"]
    assert torch.count_nonzero(model[2].weight) > 0
    assert torch.count_nonzero(model[0].conv2.weight) == 0


class Symmetric(nn.Module):
    """A parametrization with a right_inverse: the stored tensor is the parametrization's."""

    def forward(self, weight: Tensor) -> Tensor:
        return weight.triu() + weight.triu(1).transpose(0, 1)

    def right_inverse(self, weight: Tensor) -> Tensor:
        return weight.triu()


@pytest.mark.parametrize("method", ["zero", "fixup"])
def test_a_parametrized_torch_layer_is_changed_through_its_parametrization(method: str) -> None:
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    model = nn.Sequential(Parallel(), Parallel())
    for parallel in model:
        for layer in (parallel.mlp[0], parallel.mlp[2]):
            parametrize.register_parametrization(layer, "weight", Symmetric())
    initconv.residual_init_(model, method)
    x = _tokens()
    assert torch.equal(model(x), x)
    assert torch.count_nonzero(model[0].mlp[2].weight) == 0


class Locked(nn.Module):
    """A model that holds a lock: copy.deepcopy cannot copy it, its children copy."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.lock = threading.Lock()
        self.blocks = nn.Sequential(Block(8), Block(8))

    def forward(self, x: Tensor) -> Tensor:
        with self.lock:
            return self.blocks(x)  # type: ignore[no-any-return]


def test_a_model_that_cannot_be_copied_is_read_child_by_child() -> None:
    model = Locked()
    report = initconv.residual_init_(model, "zero")
    assert [row.name for row in report] == ["blocks.0.conv2", "blocks.1.conv2"]
    assert "cannot be deep-copied" in report.skipped["(model)"]
    x = _input()
    assert torch.equal(model(x), x)


def test_concurrent_calls_change_the_model_once_and_refuse_the_rest() -> None:
    import threading

    model = nn.Sequential(*[Block(8, nn.Conv2d) for _ in range(4)])
    before = copy.deepcopy(model)
    outcomes: list[str] = []

    def call() -> None:
        try:
            initconv.residual_init_(model, "fixup")
            outcomes.append("changed")
        except ValueError as error:
            outcomes.append("refused" if "already changed" in str(error) else str(error))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "refused", "refused", "refused"]
    assert torch.equal(model[0].conv1.weight, before[0].conv1.weight * 4 ** (-1 / 2))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_gate_takes_the_dtype_of_the_module_it_gates(dtype: torch.dtype) -> None:
    model = nn.Sequential(Block(8), Block(8, nn.Conv2d)).to(dtype)
    initconv.residual_init_(model, "skipinit")
    assert {g.dtype for n, g in model.named_parameters() if n.endswith(initconv.GATE)} == {dtype}
    x = _input().to(dtype)
    assert torch.equal(model(x), x)


class Experts(nn.Module):
    """x + e_1(x) + ... + e_n(x): one sum of more terms than Python's recursion limit."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.experts = nn.ModuleList(nn.Linear(4, 4) for _ in range(count))

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for expert in self.experts:
            out = out + expert(x)
        return out


@pytest.mark.slow
def test_a_sum_of_more_terms_than_the_recursion_limit_gives_each_branch_once() -> None:
    import sys

    model = Experts(sys.getrecursionlimit() + 100)
    report = initconv.residual_init_(model, "zero")
    assert report.branches == len(model.experts)
    x = torch.randn(2, 4)
    assert torch.equal(model(x), x)


class SharedStem(nn.Module):
    """x + f(h) + g(h) with h = relu(lin(x)): the two branches share a weight layer."""

    def __init__(self) -> None:
        super().__init__()
        self.lin, self.f, self.g = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.lin(x))
        return x + self.f(h) + self.g(h)


def test_branches_that_share_a_weight_layer_are_left_with_a_warning_not_changed_twice() -> None:
    model = nn.Sequential(SharedStem(), SharedStem())
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(UserWarning, match=r"found no residual branch it can change"):
        report = initconv.residual_init_(model, "fixup")
    assert len(report.unchanged) == 2
    assert all("share the weight layer" in reason for reason in report.unchanged.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_torch_layer_holding_nan_is_zeroed_not_left_nan() -> None:
    model = nn.Sequential(Block(8, nn.Conv2d))
    with torch.no_grad():
        model[0].conv2.weight.fill_(float("nan"))
    initconv.residual_init_(model, "zero")
    x = _input()
    assert torch.equal(model(x), x)


def test_fixup_after_lsuv_scales_the_calibrated_draw_at_the_gain_it_was_calibrated_at() -> None:
    # A gain changed between the two calls must not enter the replay: the calibration recorded the
    # law its scale was measured at, and fixup multiplies that same draw.
    model = resnet(3)
    initconv.lsuv_(model, torch.randn(8, 3, 6, 6, generator=torch.Generator().manual_seed(2)))
    conv1: KaimingNormalConv2d = model[2].conv1
    calibrated = conv1.weight.detach().clone()
    conv1.gain = 2 * conv1.gain
    initconv.residual_init_(model, "fixup", seed=7)
    factor = 4 ** (-1 / (2 * 2 - 2))
    torch.testing.assert_close(conv1.weight, calibrated * factor, rtol=1e-6, atol=0.0)
    conv1.reset_parameters()
    torch.testing.assert_close(conv1.weight, calibrated * factor, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("method", ["zero", "fixup"])
def test_a_weight_normed_last_layer_is_refused_not_written_nan(method: str) -> None:
    # weight_norm's right_inverse stores a zero weight as g = 0, v = 0, which it reads back as
    # 0 / 0 = nan: zeroing through it would leave a model that outputs nan.
    model = nn.Sequential(Block(8), Block(8))
    torch.nn.utils.parametrizations.weight_norm(model[0].conv2)
    before = _state(model)
    with pytest.raises(ValueError, match=r"'0\.conv2'"):
        initconv.residual_init_(model, method, seed=0)
    assert _same(before, _state(model))
    assert bool(torch.isfinite(model(_input())).all())


def test_a_layer_whose_weight_a_pre_hook_recomputes_is_not_reported_zeroed() -> None:
    # The deprecated torch.nn.utils.weight_norm recomputes .weight from weight_g and weight_v
    # before every forward: a zero written into .weight is gone at the next call.
    model = nn.Sequential(Block(8, nn.Conv2d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(model[0].conv2)
    before = copy.deepcopy(model.state_dict())
    with pytest.warns(UserWarning, match=r"found no residual branch"):
        report = initconv.residual_init_(model, "zero")
    assert "pre-hook" in report.unchanged["0"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
