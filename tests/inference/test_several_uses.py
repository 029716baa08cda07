"""A layer whose output has several uses: they agree, or the layer is undecided, unless norms
divide its scale out.

docs/convert.md, the rule: "When every use of the output leads to the same activation, that is
the answer; when they lead to different ones ... there is none" (a fallback, warned, with the
detail "several different consumers"). "Uses through a norm": a use that reaches a batch, layer,
group, instance or RMS norm first does not depend on the value's scale; where some uses are of
that kind and others are not, the others decide (a pre-norm block's input read by its norm and by
a shortcut layer is linear; Xception's block input read by a ReLU and by a shortcut layer and its
BatchNorm is relu); where every use passes a norm and they lead to different activations (DPN), no
gain changes what the model computes, and the layer is linear. torch's norms are the same norms
whether a model calls them as modules (``nn.LayerNorm``) or as functions (``F.layer_norm``).
"A layer called more than once needs the same activation at every call." One activation is one
function: two uses (or two calls) that compute ``(x * tanh(x)) * 0.5`` and ``x * (tanh(x) * 0.5)``
agree, by the associativity of + and *.

Why, from first principles: a norm computes (v - mean(v)) / std(v) (times an affine), which is the
same for c v at any c > 0, so no gain of the layer reaches what follows it; relu and tanh need
gains sqrt(2) and 1.5925 (1 / sqrt(E[tanh(z)^2])), so one gain cannot serve two such uses.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

Branch = Callable[["TwoUses", Tensor], Tensor]


class TwoUses(nn.Module):
    """One layer, its output read by two branches, each ending at a linear layer of its own."""

    def __init__(self, first: Branch, second: Branch) -> None:
        super().__init__()
        self.fc, self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.bn_a, self.bn_b = nn.BatchNorm1d(8), nn.BatchNorm1d(8)
        self.first, self.second = first, second

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        out: Tensor = self.a(self.first(self, y)) + self.b(self.second(self, y))
        return out


# The branches, each a function of the model (for its norm modules) and the layer's output.
BRANCHES: dict[str, Branch] = {
    "relu": lambda model, y: torch.relu(y),
    "tanh": lambda model, y: torch.tanh(y),
    ".relu()": lambda model, y: y.relu(),
    "identity": lambda model, y: y,
    "BatchNorm1d > relu": lambda model, y: F.relu(model.bn_a(y)),
    "BatchNorm1d > elu": lambda model, y: F.elu(model.bn_b(y)),
    "F.layer_norm > relu": lambda model, y: F.relu(F.layer_norm(y, (8,))),
    "F.layer_norm > elu": lambda model, y: F.elu(F.layer_norm(y, (8,))),
    "F.group_norm > relu": lambda model, y: F.relu(F.group_norm(y, 2)),
    "F.group_norm > elu": lambda model, y: F.elu(F.group_norm(y, 4)),
    "F.group_norm > silu": lambda model, y: F.silu(F.group_norm(y, 2)),
}


def _two(first: str, second: str) -> TwoUses:
    return TwoUses(BRANCHES[first], BRANCHES[second])


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_two_uses_with_different_activations_leave_the_layer_undecided(mode: str) -> None:
    report, warned = convert_warned(_two("relu", "tanh"), mode)
    row = report["fc"]
    assert row in report.fallbacks, (row.source, row.activation, row.detail)
    assert "several different consumers" in row.detail
    assert any("could not be inferred" in message for message in warned)


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_one_activation_spelled_as_a_method_and_as_a_function_is_one_activation(
    mode: str,
) -> None:
    report, warned = convert_warned(_two(".relu()", "relu"), mode)
    assert (report["fc"].source, report["fc"].activation) == (mode, "relu"), report["fc"].detail
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("norm", ["BatchNorm1d", "F.layer_norm", "F.group_norm"])
def test_uses_that_all_pass_a_norm_and_disagree_make_the_layer_linear(norm: str, mode: str) -> None:
    """DPN's pattern: two norms of one output, followed by relu and by elu."""
    report, warned = convert_warned(_two(f"{norm} > relu", f"{norm} > elu"), mode)
    row = report["fc"]
    assert (row.source, row.activation, row.gain) == (mode, "linear", 1.0), row.detail
    assert "every use passes a norm first" in row.detail
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_shortcut_layer_decides_over_a_functional_pre_norm(mode: str) -> None:
    """A pre-norm block's input: F.group_norm then silu, and a shortcut linear layer."""
    report, warned = convert_warned(_two("F.group_norm > silu", "identity"), mode)
    row = report["fc"]
    assert (row.source, row.activation) == (mode, "linear"), row.detail
    assert "the other uses pass a norm first" in row.detail
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_relu_decides_over_a_shortcut_layer_followed_by_a_functional_batch_norm(
    mode: str,
) -> None:
    """Xception's block input: a relu, and a shortcut linear layer whose output goes to a batch
    norm called as a function (batch statistics, as in training)."""

    class Xception(TwoUses):
        def forward(self, x: Tensor) -> Tensor:
            y = self.fc(x)
            shortcut = F.batch_norm(self.b(y), None, None, training=True)
            out: Tensor = self.a(F.relu(y)) + shortcut
            return out

    report, warned = convert_warned(Xception(BRANCHES["relu"], BRANCHES["relu"]), mode)
    row = report["fc"]
    assert (row.source, row.activation) == (mode, "relu"), row.detail
    assert "the other uses pass a norm first" in row.detail
    assert warned == []


# One function, its steps grouped two ways by the parentheses a user wrote (each product and sum
# with the tensor first, as a run records it): (a * b) * c = a * (b * c) and (a + b) + c =
# a + (b + c) for every a, b, c, so the two spellings are one activation.
REGROUPED = [
    pytest.param(
        lambda model, y: (y * torch.tanh(y)) * 0.5,
        lambda model, y: y * (torch.tanh(y) * 0.5),
        id="(x*t)*c=x*(t*c)",
    ),
    pytest.param(
        lambda model, y: (torch.tanh(y) + y * y) + 0.5,
        lambda model, y: torch.tanh(y) + (y * y + 0.5),
        id="(t+x*x)+c=t+(x*x+c)",
    ),
    pytest.param(
        lambda model, y: (torch.tanh(y) + y) - 0.5,
        lambda model, y: torch.tanh(y) + (y - 0.5),
        id="(t+x)-c=t+(x-c)",
    ),
]


class CalledTwice(TwoUses):
    """One layer called twice (a shared block): first followed by ``first``, then by ``second``;
    ``b`` reads the input, as a skip connection's projection."""

    def forward(self, x: Tensor) -> Tensor:
        h = self.first(self, self.fc(x))
        out: Tensor = self.a(self.second(self, self.fc(h))) + self.b(x)
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(("first", "second"), REGROUPED)
def test_two_uses_computing_one_function_grouped_differently_agree(
    first: Branch, second: Branch, mode: str
) -> None:
    report, warned = convert_warned(TwoUses(first, second), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(("first", "second"), REGROUPED)
def test_a_layer_called_twice_with_one_function_grouped_differently_has_it(
    first: Branch, second: Branch, mode: str
) -> None:
    report, warned = convert_warned(CalledTwice(first, second), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    assert warned == []
