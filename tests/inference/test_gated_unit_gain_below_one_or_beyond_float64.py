"""A gated unit's gain is g_a g_b whatever its size: below 1 it is kept, below float64's range it
is refused with a reason, never a crash.

docs/convert.md, "Gated units": for ``phi_a(a) * phi_b(b)`` with independent Gaussian halves,
E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2], so the gain is g_a g_b, each half's derived
gain 1 / sqrt(E[phi(z)^2]).

- ``a * exp(b)``: E[a^2] = 1, E[exp(2b)] = e^2 (the Gaussian moment generating function at 2), so
  E[(a exp(b))^2] = e^2 and the gain is exactly 1 / e < 1. initconv's quadrature is good to 1e-12
  relative on E[phi^2] (docs/guarantees.md), 5e-13 on a gain; the test allows 1e-10.
- ``(1e200 tanh(a)) * (1e200 tanh(b))``: each half's gain is 1 / (1e200 sqrt(E[tanh(z)^2])), about
  1.6e-200, and their product about 2.5e-400, below the smallest positive float64 (4.9e-324): no
  float64 gain exists. docs/convert.md, "When the rule cannot decide": such a layer is a fallback,
  in ``report.fallbacks`` with the reason, and convert warns; it gets the scheme's default
  activation (relu for kaiming_normal, gain sqrt(2)); it does not raise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from _support import convert_warned
from torch import Tensor, nn

GAIN_RTOL = 1e-10  # see the module docstring


class Halves(nn.Module):
    """One layer of twice the width, split in two halves a, b and combined by ``unit(a, b)``."""

    def __init__(self, unit: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 8)
        self.unit = unit

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.proj(x).chunk(2, dim=-1)
        out: Tensor = self.out(self.unit(a, b))
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_gated_unit_whose_gain_is_below_one_keeps_it(mode: str) -> None:
    report, warned = convert_warned(Halves(lambda a, b: a * torch.exp(b)), mode)
    row = report["proj"]
    assert row.source == mode, row.detail
    assert row not in report.fallbacks, row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(math.exp(-1.0), rel=GAIN_RTOL), row.detail


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_gated_unit_whose_gain_underflows_float64_is_a_warned_fallback(mode: str) -> None:
    def unit(a: Tensor, b: Tensor) -> Tensor:
        return (1e200 * torch.tanh(a)) * (1e200 * torch.tanh(b))

    report, warned = convert_warned(Halves(unit), mode)
    row = report["proj"]
    assert row.source == "default", row.detail
    assert row in report.fallbacks, row.detail
    assert warned, "a fallback is warned"
    # It gets the scheme's default activation, relu for kaiming_normal: gain sqrt(2).
    assert row.activation == "relu", row.detail
    assert row.gain == pytest.approx(math.sqrt(2.0), rel=1e-12)
