"""A gated unit whose gate is computed by more elementwise steps than the rule follows gets the
gain of the whole gate or falls back with a warning: never a gain read from part of the gate.

docs/convert.md, "Gated units": for ``phi_a(a) * phi_b(b)`` with independent Gaussian halves,
E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2], so the layer of ``a`` gets g_a g_b, each
half's derived gain 1 / sqrt(E[phi(z)^2]). "When the rule cannot decide": "No layer gets an
activation the rule did not find without that warning"; and the rule follows a bounded number of
elementwise steps ("the elementwise steps after fc run past 64, more than are followed").

Here ``a = fc1(x)``, ``b = fc2(x)`` and the gate is c sigmoid(b) for a constant c > 0, so the
layer fc1 must get g_tanh * g_sigmoid / c (scaling phi by c divides its derived gain by c), or fall
back. The gate is spelt with about 64 steps:

- ``y = sigmoid(b)``; ``y + y * 2`` (= 3 y) scaled by 1.5 k times: c = 3 * 1.5^k, in k + 3 steps
  that fork (the sum reads both y and 2 y);
- ``sigmoid(b)`` scaled by 1.5 k times: c = 1.5^k, in k + 1 steps.

Read from part of the gate (dropping the sigmoid, say) the gate is linear, g = 1 / c instead of
g_sigmoid / c: 0.54 times the true gain, far from it. The expected gains come from scipy's adaptive
quadrature to 1e-13 relative; initconv's quadrature is good to 1e-12 relative on E[phi^2]
(docs/guarantees.md) and the k + 2 float64 products of the scale add a few 1e-16; the test allows
1e-10.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from _reference_theory import gaussian_mean
from _support import slow_except
from torch import Tensor, nn

from initconv import convert

GAIN_RTOL = 1e-10  # see the module docstring
# g_tanh * g_sigmoid = 1 / sqrt(E[tanh(z)^2] E[sigmoid(z)^2]): the gain of tanh(a) * sigmoid(b),
# before the gate's scale.
UNIT_GAIN = 1.0 / math.sqrt(
    gaussian_mean(lambda z: math.tanh(z) ** 2, 1.0)
    * gaussian_mean(lambda z: (0.5 + 0.5 * math.tanh(z / 2)) ** 2, 1.0)
)


class ForkedGate(nn.Module):
    """``out(tanh(fc1(x)) * g)``, g = (y + y * 2) * 1.5^k with y = sigmoid(fc2(x))."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2)
        self.times = times

    def forward(self, x: Tensor) -> Tensor:
        y = torch.sigmoid(self.fc2(x))
        gate = torch.add(y, y * 2.0)
        for _ in range(self.times):
            gate = gate * 1.5
        out: Tensor = self.out(torch.tanh(self.fc1(x)) * gate)
        return out


class ChainedGate(nn.Module):
    """``out(tanh(fc1(x)) * g)``, g = sigmoid(fc2(x)) * 1.5^k."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 2)
        self.times = times

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.fc2(x))
        for _ in range(self.times):
            gate = gate * 1.5
        out: Tensor = self.out(torch.tanh(self.fc1(x)) * gate)
        return out


def _assert_whole_gate_or_fallback(model: nn.Module, scale: float) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = convert(model, reinit=False)
    row = report["fc1"]
    if row.source == "default":
        assert row in report.fallbacks, row.detail
        assert any("could not be inferred" in str(w.message) for w in caught), row.detail
    else:
        assert row.source == "traced", row.detail
        assert row.gain == pytest.approx(UNIT_GAIN / scale, rel=GAIN_RTOL), row.detail


# 61 (64 steps) is within the steps followed: its gate's derived gain costs a second of CPU.
@pytest.mark.parametrize("times", slow_except([61, 63], keep=63))
def test_a_forked_gate_gets_the_gain_of_the_whole_gate_or_falls_back(times: int) -> None:
    _assert_whole_gate_or_fallback(ForkedGate(times), 3.0 * 1.5**times)


# The gate sigmoid(b) * 1.5^64 has 65 steps; read from its 64 last, x * 1.5^64, fc1 would get
# g_tanh / 1.5^64, 0.54 times the true gain, without a warning.
def test_a_gate_one_step_past_the_steps_followed_gets_the_whole_gates_gain_or_falls_back() -> None:
    _assert_whole_gate_or_fallback(ChainedGate(64), 1.5**64)
