"""A step the rule does not know, taken after an activation and before the next layer, leaves the
layer without an answer: a warned fallback, never the activation before that step.

docs/convert.md: the activation of a layer is the function its output goes through before the
next weight layer, and a step that is neither an activation nor a known pass-through means the
rule has no answer, which it says. Placed before the activation (``tanh(rsub(y, 3))``) such a step
always gave that fallback; placed after it, the steps below were dropped and the layer got tanh's
gain, 5/3, though each changes the function: 1 - 2 tanh(x) has gain 0.62, relu(tanh(x)) (the
``where``) 2.1, tanh(x)^2 (``float_power``) 2.0. Branches that only gate the value or compute
its statistics (a norm written out, as ConvNeXt V2's global response norm does after its GELU)
are no such step: there the activation is still the answer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import ConversionReport, convert

Step = Callable[[Tensor], Tensor]

UNKNOWN: dict[str, Step] = {
    "rsub": lambda t: torch.rsub(t, 1.0, alpha=2),
    "hypot": lambda t: torch.hypot(t, torch.ones_like(t)),
    "fmod": lambda t: torch.fmod(3 * t, 1),
    "copysign": lambda t: torch.copysign(t, torch.tensor(-1.0)),
    "float_power": lambda t: torch.float_power(t, 2).float(),
    "nan_to_num": lambda t: torch.nan_to_num(t) + 1,
    "where": lambda t: torch.where(t > 0, t, 0.0),
}


class After(nn.Module):
    """``b(step(tanh(a(x))))``."""

    def __init__(self, step: Step) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)
        self.step = step

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.b(self.step(torch.tanh(self.a(x))))
        return out


def _convert(model: nn.Module, mode: str) -> tuple[ConversionReport, list[str]]:
    example = torch.randn(16, 8) if mode == "run" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = convert(model, reinit=False, example_inputs=example)
    return report, [str(w.message) for w in caught]


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("name", list(UNKNOWN))
def test_an_unknown_step_after_the_activation_is_a_warned_fallback(name: str, mode: str) -> None:
    report, messages = _convert(After(UNKNOWN[name]), mode)
    row = report["a"]
    assert row in report.fallbacks, row
    assert any("could not be inferred (a)" in message for message in messages), messages


class GlobalResponseNorm(nn.Module):
    """ConvNeXt V2's norm, written out: x scaled by its channel norm over the norms' mean."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((width,), 0.1))
        self.beta = nn.Parameter(torch.zeros(width))

    def forward(self, x: Tensor) -> Tensor:
        size = torch.norm(x, p=2, dim=1, keepdim=True)
        scale = size / (size.mean(dim=-1, keepdim=True) + 1e-6)
        out: Tensor = self.gamma * (x * scale) + self.beta + x
        return out


class NormedAfter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.norm, self.b = nn.Linear(8, 32), GlobalResponseNorm(32), nn.Linear(32, 8)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.b(self.norm(F.gelu(self.a(x))))
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_statistics_of_the_activation_are_no_unknown_step(mode: str) -> None:
    report, messages = _convert(NormedAfter(), mode)
    row = report["a"]
    assert (row.activation, row.source) == ("gelu", "traced" if mode == "traced" else "run")
    assert messages == []
