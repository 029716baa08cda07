"""A use of a layer's output that reads only its shape, dtype or device is no consumer of it: the
activation is the one its values reach.

docs/convert.md, the rule: "Uses that only steer control flow ..., or read only the shape, dtype
or device (``x.shape``, ``y.is_quantized``, ``g.expand_as(x)``), are not consumers." torch's
``zeros_like(y)`` (``empty_like``, ``ones_like``, ``full_like``, ``rand_like``, ``randn_like``)
makes a new tensor from y's shape, dtype and device, none of y's values; ``torch.numel(y)`` is the
product of y's shape. So a layer whose output y feeds ``leaky_relu(y, 0.2)`` and, besides, an
accumulator ``torch.zeros_like(y)`` or a count ``torch.numel(y)`` has the activation leaky_relu.

Its gain, from first principles: for z ~ N(0, 1), E[leaky_relu(z, a)^2] = (1 + a^2) / 2 (half the
mass on each side, each with E[z^2 | side] = 1, the negative side scaled by a), so the gain is
sqrt(2 / (1 + a^2)) (He et al. 2015; torch's calculate_gain("leaky_relu", a)). It differs from the
default relu's sqrt(2), so a fallback could not pass for the answer; an exact formula, so the
float64 value is compared to a few ulps (1e-12 relative).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

SLOPE = 0.2
GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))  # see the module docstring


class ZerosLikeAccumulator(nn.Module):
    """``acc = torch.zeros_like(y); acc = acc + leaky_relu(y)``: an accumulator shaped like y."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        acc = torch.zeros_like(y)
        acc = acc + F.leaky_relu(y, SLOPE)
        out: Tensor = self.out(acc)
        return out


class DividedByTheCount(nn.Module):
    """The next layer's output divided by ``torch.numel(y)``, a number read from y's shape."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        out: Tensor = self.out(F.leaky_relu(y, SLOPE)) / torch.numel(y)
        return out


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(
    "model", [ZerosLikeAccumulator, DividedByTheCount], ids=["zeros_like", "numel"]
)
def test_a_use_that_reads_only_the_shape_leaves_the_activation_of_the_values(
    model: type[nn.Module], mode: str
) -> None:
    report, warned = convert_warned(model(), mode)
    row = report["fc"]
    # The name, or in a run, where the zeros are a constant, the formula "0 + leaky_relu(x, ...)".
    assert row.source == mode, row.detail
    assert "leaky_relu" in str(row.activation), row.detail
    assert row not in report.fallbacks, row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(GAIN, rel=1e-12)
