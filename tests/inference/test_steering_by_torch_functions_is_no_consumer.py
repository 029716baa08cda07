"""A use that only steers control flow is no consumer, spelt with torch's functions as with
tensor methods.

docs/convert.md, the rule: "Uses that only steer control flow (``if y.abs().sum() > 0:``) ... are
not consumers." A run records the guard ``if bool(torch.isfinite(y).all()):`` as the function
``torch.isfinite`` then the method ``.all()``, and ``if bool(torch.any(torch.isnan(y))):`` as two
functions; ``torch.gt(y.abs().sum(), 0)`` as a method then a function. Either way no value of y
flows on from the guard, so the layer's activation is what its values reach: leaky_relu(y, 0.2).

Its gain, from first principles: for z ~ N(0, 1), E[leaky_relu(z, a)^2] = (1 + a^2) / 2 (half the
mass on each side, each with E[z^2 | side] = 1, the negative side scaled by a), so the gain is
sqrt(2 / (1 + a^2)) (He et al. 2015). It differs from the default relu's sqrt(2), so a fallback
could not pass for the answer; an exact formula, compared to a few ulps (1e-12 relative).
torch.fx cannot trace control flow on values, so these models are read by a run only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

SLOPE = 0.2
GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))  # see the module docstring


class Guarded(nn.Module):
    """``y = fc(x)``; a guard on y that only decides whether to raise; ``out(leaky_relu(y))``."""

    def __init__(self, guard: Callable[[Tensor], bool]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.guard = guard

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        if not self.guard(y):
            raise RuntimeError("the guard is True on the layer's values")
        out: Tensor = self.out(F.leaky_relu(y, SLOPE))
        return out


GUARDS = [
    pytest.param(lambda y: bool(torch.isfinite(y).all()), id="torch.isfinite(y).all()"),
    pytest.param(lambda y: not bool(torch.any(torch.isnan(y))), id="torch.any(torch.isnan(y))"),
    pytest.param(lambda y: bool(torch.ge(y.abs().sum(), 0.0)), id="torch.ge(y.abs().sum(), 0)"),
]


@pytest.mark.parametrize("guard", GUARDS)
def test_a_guard_written_with_torch_functions_leaves_the_activation_of_the_values(
    guard: Callable[[Tensor], bool],
) -> None:
    report, warned = convert_warned(Guarded(guard), "run")
    row = report["fc"]
    assert row.source == "run", row.detail
    assert "leaky_relu" in str(row.activation), row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(GAIN, rel=1e-12)
