"""The other operands of an activation written out are constants, and a trace tells the known
ones from the unknown.

docs/convert.md, "An activation is what it does": the region's other operands are constants and
parameters. A scale that a model computes from its parameters (``self.log_scale.exp()``,
``torch.exp(self.log_scale)``, ``self.scales[1]``) is one number, so ``relu(y) * exp(log 2)`` is
``relu(x) * 2``. "A number read from a shape is a constant, not a second value: ``relu(y) /
y.shape[-1]`` is a scaled relu, which a trace, knowing no shapes, cannot evaluate (a fallback; a
run reads the number)": a trace must not give such a layer the gain of a different function.

Theory, exact: for z ~ N(0, 1), E[relu(z)^2] = 1/2, so ``c * relu`` has the gain
1 / sqrt(c^2 / 2) = sqrt(2) / c: 1/sqrt(2) for c = 2, and 8 sqrt(2) for c = 1/8 (eight features).
initconv's quadrature is good to 1e-12 relative on E[phi^2] (docs/guarantees.md), 5e-13 on the
gain; the tests allow 1e-10.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

GAIN_RTOL = 1e-10  # see the module docstring
FEATURES = 8


class ScaledRelu(nn.Module):
    """relu of a linear layer, times a scale the model computes from its own parameters."""

    def __init__(self, spelling: str) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(FEATURES, FEATURES), nn.Linear(FEATURES, FEATURES)
        self.log_scale = nn.Parameter(torch.tensor(math.log(2.0)))
        self.scales = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
        self.spelling = spelling

    def scale(self) -> Tensor:
        if self.spelling == "method":
            return self.log_scale.exp()
        if self.spelling == "function":
            return torch.exp(self.log_scale)
        return self.scales[1]

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(torch.relu(self.fc(x)) * self.scale())
        return out


class ReluOverWidth(nn.Module):
    """relu divided by the width, read from the layer's output: ``y.shape[-1]`` or ``y.size(-1)``."""

    def __init__(self, read: str) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(FEATURES, FEATURES), nn.Linear(FEATURES, FEATURES)
        self.read = read

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        width = y.shape[-1] if self.read == "shape" else y.size(-1)
        out: Tensor = self.out(F.relu(y) / width)
        return out


class FlattenThenRelu(nn.Module):
    """A reshape whose sizes are read from the shape, then a built-in activation."""

    def __init__(self, read: str) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(FEATURES, FEATURES), nn.Linear(FEATURES, FEATURES)
        self.read = read

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        batch = y.shape[0] if self.read == "shape" else y.size(0)
        out: Tensor = self.out(F.relu(y.view(batch, -1)))
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("spelling", ["method", "function", "index"])
def test_a_scale_computed_from_parameters_is_its_value(spelling: str, mode: str) -> None:
    report, warned = convert_warned(ScaledRelu(spelling), mode)
    row = report["fc"]
    assert (row.source, row.activation) == (mode, "relu(x) * 2"), row.detail
    assert row.gain == pytest.approx(math.sqrt(2.0) / 2.0, rel=GAIN_RTOL)
    assert warned == []


@pytest.mark.parametrize("read", ["shape", "size"])
def test_a_trace_falls_back_on_a_number_read_from_a_shape_rather_than_drop_it(read: str) -> None:
    """The trace does not know the width, so it cannot give relu(x) / 8 its gain 8 sqrt(2); the
    gain of relu alone (sqrt 2) would be 8 times too small. It must fall back, warned."""
    report, warned = convert_warned(ReluOverWidth(read), "traced")
    row = report["fc"]
    assert row in report.fallbacks, (row.source, row.activation, row.detail)
    assert "read from a shape" in row.detail
    assert any("could not be inferred" in message for message in warned)


@pytest.mark.parametrize("read", ["shape", "size"])
def test_a_run_reads_the_number_from_the_shape(read: str) -> None:
    report, warned = convert_warned(ReluOverWidth(read), "run")
    row = report["fc"]
    assert (row.source, row.activation) == ("run", f"relu(x) / {FEATURES}"), row.detail
    assert row.gain == pytest.approx(math.sqrt(2.0) * FEATURES, rel=GAIN_RTOL)
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("read", ["shape", "size"])
def test_sizes_read_for_a_reshape_are_no_operand_of_the_activation(read: str, mode: str) -> None:
    report, warned = convert_warned(FlattenThenRelu(read), mode)
    row = report["fc"]
    assert (row.source, row.activation) == (mode, "relu"), row.detail
    assert row.gain == pytest.approx(math.sqrt(2.0), rel=GAIN_RTOL)
    assert warned == []
