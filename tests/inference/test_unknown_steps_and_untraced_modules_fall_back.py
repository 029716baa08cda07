"""A step the rule does not know, and a submodule torch.fx cannot trace, make the layer before
them a warned fallback that says why; neither is taken for an activation, neither makes convert
raise.

docs/convert.md, the rule: "when they lead ... through a step the rule does not know
(``torch.where``, ``cumprod``), there is none", and "When the rule cannot decide": such a layer
"is a fallback: its row's source is ``default`` with the reason", it is in ``report.fallbacks``
and convert warns. ``torch.cumprod`` is no elementwise step (each output is a product over the
elements before it), ``torch.where(y > 0, y, c)`` reads y through a comparison: neither is an
activation, in a trace or in a run, and the reason names the step.

"Two ways to read the model": without an input, "a submodule that torch.fx cannot trace (control
flow on values) becomes a leaf of its parent's graph, and is traced on its own; a path continues
into it". A module whose own forward has control flow on values cannot be traced on its own
either, so a trace does not know what it computes: the layer before it is a fallback whose reason
names the module, not an activation guessed from the module. A run sees its steps (here tanh,
whose gain is torch's 5/3) and decides.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from _support import Between, convert_warned
from torch import Tensor, nn

UNKNOWN_STEPS = [
    pytest.param(lambda y: torch.cumprod(y, dim=-1), "cumprod", id="cumprod"),
    pytest.param(lambda y: torch.where(y > 0, y, 0.1), "gt", id="where(y > 0, y, c)"),
]


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(("phi", "step"), UNKNOWN_STEPS)
def test_a_step_the_rule_does_not_know_is_a_warned_fallback_that_names_it(
    phi: Callable[[Tensor], Tensor], step: str, mode: str
) -> None:
    report, warned = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == "default", row.detail
    assert row in report.fallbacks, row.detail
    assert warned, "a fallback is warned"
    assert step in row.detail, row.detail


class ValueBranch(nn.Module):
    """tanh, after a branch on a value: torch.fx can trace neither this module nor its parent
    through it."""

    def forward(self, h: Tensor) -> Tensor:
        if bool(h.abs().sum() > 1e30):
            h = h * 0.0
        return torch.tanh(h)


def test_a_trace_does_not_guess_the_activation_of_a_module_it_cannot_trace() -> None:
    report, warned = convert_warned(Between(ValueBranch()), "traced")
    row = report["fc"]
    assert row.source == "default", row.detail
    assert row in report.fallbacks, row.detail
    assert warned, "a fallback is warned"
    assert "phi" in row.detail, row.detail  # the module's name in the model


def test_a_run_reads_the_module_a_trace_cannot() -> None:
    report, warned = convert_warned(Between(ValueBranch()), "run")
    row = report["fc"]
    assert (row.source, row.activation) == ("run", "tanh"), row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(5.0 / 3.0, rel=1e-12)  # torch's table value for tanh
