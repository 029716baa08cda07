"""A step the rule does not know, called as a tensor method, leaves the layer undecided: a fallback,
warned, never an activation the rule did not find.

docs/convert.md: "When every use of the output leads to the same activation, that is the answer;
when they lead ... through a step the rule does not know (``torch.where``, ``cumprod``), there is
none", and "When the rule cannot decide": the layer is a fallback, its row in
``report.fallbacks`` with the reason, and "No layer gets an activation the rule did not find
without that warning."

Why no activation can be read here: a running product or sum along the features,
``y.cumprod(-1)`` or ``y.cumsum(-1)``, mixes the features of y (output i depends on features 0..i),
so it is no elementwise phi(y) whose derived gain 1 / sqrt(E[phi(z)^2]) would keep the next
layer's input at unit scale; and it is neither a weight layer, nor a norm, nor a pass-through the
docs list. The method spelling is the same step as ``torch.cumprod(y, -1)``.
"""

from __future__ import annotations

import pytest
from _support import convert_warned
from torch import Tensor, nn


class RunningStep(nn.Module):
    """``out(y.cumprod(-1))`` or ``out(y.cumsum(-1))`` for ``y = fc(x)``."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.method = method

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        out: Tensor = self.out(getattr(y, self.method)(-1))
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("method", ["cumprod", "cumsum"])
def test_a_running_product_or_sum_called_as_a_method_is_a_warned_fallback(
    method: str, mode: str
) -> None:
    report, warned = convert_warned(RunningStep(method), mode)
    row = report["fc"]
    assert row in report.fallbacks, (row.activation, row.detail)
    assert row.source == "default", (row.activation, row.detail)
    assert f".{method}()" in row.detail
    assert any("could not be inferred (fc" in message for message in warned), warned
