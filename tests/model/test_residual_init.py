"""initconv.residual_init_: branches found in the traced graph, each method's recipe, its replay by
reset_parameters(), and checkpoints that still load into the original classes."""

from __future__ import annotations

import copy
import math
import pickle

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
