"""The residual branches read from the traced graph: the modules each branch runs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from initconv._inference.branches import find_branches


class PreActivation(nn.Module):
    """x + conv2(relu(bn2(conv1(relu(bn1(x)))))), with a projection-free shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(4)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.bn2(self.conv1(torch.relu(self.bn1(x))))))


class Projected(nn.Module):
    """bn(conv(x)) + proj(x): the shortcut's projection is not a module of the branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.extra = nn.Conv2d(8, 8, 1)
        self.proj = nn.Conv2d(4, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.extra(self.bn(self.conv(x))) + self.proj(x)


def test_a_branch_lists_every_module_it_runs_in_order_and_none_before_the_fork() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), PreActivation(), PreActivation())
    branches, skipped, failures = find_branches(model)
    assert (skipped, failures) == ([], {})
    assert [branch.modules for branch in branches] == [
        ("2.bn1", "2.conv1", "2.bn2", "2.act", "2.conv2"),
        ("3.bn1", "3.conv1", "3.bn2", "3.act", "3.conv2"),
    ]


def test_the_shortcut_projection_is_not_among_the_branch_modules() -> None:
    (branch,), _, _ = find_branches(nn.Sequential(Projected()))
    assert branch.modules == ("0.conv", "0.bn", "0.extra")
    assert branch.shortcut == ("0.proj",)
