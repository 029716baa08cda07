"""convert() reads a model whose guard is thousands of steps deep: it neither raises nor gives the
layer an activation it did not find.

docs/convert.md: "Uses that only steer control flow (``if y.abs().sum() > 0:``) ... are not
consumers"; "The walk over a graph is iterative: a model a thousand residual blocks deep has no
depth limit"; and "When the rule cannot decide": the layer is a fallback, and "No layer gets an
activation the rule did not find without that warning".

The guard here takes a statistic of the layer's values and passes it through 2,000 steering steps
(``abs``) before ``bool()`` decides whether to raise: no value of y flows on from it, so the
layer's activation is what its values reach, leaky_relu(y, 0.2), whose gain for z ~ N(0, 1) is
sqrt(2 / (1 + a^2)) (E[leaky_relu(z, a)^2] = (1 + a^2) / 2: half the mass on each side, the
negative side scaled by a; He et al. 2015), compared to a few ulps (1e-12 relative). Either the
layer gets that gain, or it falls back with the warning; convert itself must return. 2,000 steps is
twice Python's default recursion limit: a walk that recursed once per step could not finish.
torch.fx cannot trace control flow on values, so the model is read by a run.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

SLOPE = 0.2
GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))  # see the module docstring
DEPTH = 2000  # see the module docstring


class DeeplyGuarded(nn.Module):
    """``y = fc(x)``; ``abs`` of ``y.sum()`` ``DEPTH`` times decides whether to raise;
    ``out(leaky_relu(y))``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        statistic = y.sum()
        for _ in range(DEPTH):
            statistic = statistic.abs()
        if not bool(statistic >= 0.0):
            raise RuntimeError("the guard is False on the layer's values")
        out: Tensor = self.out(F.leaky_relu(y, SLOPE))
        return out


def test_a_guard_thousands_of_steps_deep_leaves_the_activation_or_a_warned_fallback() -> None:
    report, warned = convert_warned(DeeplyGuarded(), "run")
    row = report["fc"]
    if row.source == "default":
        assert row in report.fallbacks, row.detail
        assert any("could not be inferred (fc)" in message for message in warned), warned
    else:
        assert row.source == "run", row.detail
        assert "leaky_relu" in str(row.activation), row.detail
        assert row.gain is not None
        assert math.isclose(row.gain, GAIN, rel_tol=1e-12), row.detail
    assert report["out"].source == "run", report["out"].detail
