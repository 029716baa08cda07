"""The copy inference runs a forward on shares what it need not copy, and runs the hooks the
model's forward relies on.

Before: a model whose first call installed hooks its forward then relies on (transformers'
output capturing) crashed convert(example_inputs=...) after one forward, because the copy
dropped the hooks; every tensor held as a plain attribute was duplicated.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import convert
from initconv._inference.copies import structural_copy, working_copy

_COLLECTOR: list[Tensor] = []  # transformers keeps its collector in a context variable


def _capture(module: nn.Module, args: object, out: Tensor) -> None:
    _COLLECTOR.append(out)


class CapturesOnFirstCall(nn.Module):
    """Installs a forward hook on its first call that fills a collector, which every forward
    reads (as transformers' output-capturing hooks do)."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(8, 8)
        self.head = nn.Linear(8, 8)
        self.installed = False

    def forward(self, x: Tensor) -> Tensor:
        if not self.installed:
            self.block.register_forward_hook(_capture)
            self.installed = True
        self.block(x)
        return self.head(F.gelu(_COLLECTOR.pop()))  # type: ignore[no-any-return]


def test_a_model_called_once_converts_as_a_fresh_one() -> None:
    x = torch.randn(2, 8)
    fresh = CapturesOnFirstCall()
    called = CapturesOnFirstCall()
    called(x)
    reports = []
    for model in (fresh, called):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            report = convert(model, reinit=False, example_inputs=x)
        reports.append([(row.name, row.activation, row.source) for row in report])
    assert reports[0] == reports[1] == [("block", "gelu", "run"), ("head", "linear", "run")]
    assert _COLLECTOR == []


class HoldsTensors(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.table = torch.randn(1000, 8)  # a plain attribute, not a parameter or buffer
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        self.steps += 1
        self.fc.weight.mul_(1.0)  # an in-place write to a shared parameter
        return F.relu(self.fc(x) + self.table[:1])


def test_the_working_copy_shares_parameters_and_attributes_and_copies_buffers() -> None:
    model = HoldsTensors()
    duplicate = working_copy(model).module
    assert duplicate.table is model.table
    assert duplicate.fc.weight is model.fc.weight
    assert duplicate.steps is not model.steps
    assert structural_copy(model).table is model.table


def test_a_shared_tensor_written_in_place_by_the_run_is_put_back() -> None:
    model = HoldsTensors()
    with torch.no_grad():
        model.fc.weight.copy_(torch.linspace(-1, 1, 64).reshape(8, 8))
    weight = model.fc.weight.detach().clone()
    original = HoldsTensors.forward

    def doubling(self: HoldsTensors, x: Tensor) -> Tensor:
        self.fc.weight.mul_(2.0)
        return original(self, x)

    HoldsTensors.forward = doubling  # type: ignore[method-assign]
    try:
        report = convert(model, reinit=False, example_inputs=torch.randn(2, 8))
    finally:
        HoldsTensors.forward = original  # type: ignore[method-assign]
    assert report["fc"].activation == "relu"
    assert torch.equal(model.fc.weight, weight)
    assert int(model.steps) == 0
