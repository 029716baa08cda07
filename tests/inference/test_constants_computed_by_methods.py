"""A constant of an activation written out may be computed from a parameter by tensor methods with
arguments (``self.scale.mul(2)``, ``.pow(2)``, ``.clamp(0, 0.125)``): the trace evaluates it as
the run does, and the layer gets the gain of the function with that constant.

docs/convert.md, "An activation is what it does": the region of elementwise steps from a value,
"with constants and parameters for the other operands, is one function phi. Its gain is phi's
derived gain, 1 / sqrt(E[phi(z)^2])", and the report shows phi as a formula. The trace reads a
parameter's value from the model and computes what the forward computes from it; a run sees the
computed value itself. Both must give the same phi.

Theory: phi(x) = c relu(x) has E[phi(z)^2] = c^2 E[relu(z)^2] = c^2 / 2 for z ~ N(0, 1) (half the
mass, E[z^2 | z > 0] = 1), so its gain is sqrt(2) / c. With the parameter 0.25: 0.25.mul(2) = 0.5,
0.25.pow(2) = 0.0625, 0.25.clamp(0, 0.125) = 0.125, all exact in binary (so the formula prints
them exactly). The derived gain is a quadrature good to 1e-12 relative on E[phi^2]
(docs/guarantees.md), 5e-13 on the gain: the test allows 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

GAIN_RTOL = 1e-10  # see the module docstring
SCALE = 0.25

# The constant as the forward computes it from the parameter, and its value.
CONSTANTS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "mul(2)": (lambda p: p.mul(2), 0.5),
    "pow(2)": (lambda p: p.pow(2), 0.0625),
    "clamp(0, 0.125)": (lambda p: p.clamp(0.0, 0.125), 0.125),
}


class ScaledRelu(nn.Module):
    """``out(relu(fc(x)) * c)``, with ``c`` computed from the parameter ``scale``."""

    def __init__(self, constant: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.tensor(SCALE))
        self.constant = constant

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(F.relu(self.fc(x)) * self.constant(self.scale))
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("spelling", list(CONSTANTS))
def test_a_constant_computed_by_a_method_with_arguments_scales_the_relu_gain(
    spelling: str, mode: str
) -> None:
    constant, value = CONSTANTS[spelling]
    report, warned = convert_warned(ScaledRelu(constant), mode)
    row = report["fc"]
    assert row not in report.fallbacks, row.detail
    assert not warned, warned
    assert (row.activation, row.source) == (f"relu(x) * {value:g}", mode), row.detail
    assert row.gain == pytest.approx(math.sqrt(2.0) / value, rel=GAIN_RTOL)
