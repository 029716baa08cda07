"""A shift written with torch's ``alpha=`` is the shift by ``alpha`` times the operand.

torch documents ``torch.add(input, other, alpha=a)`` as ``input + a * other`` and ``torch.sub``
as ``input - a * other`` (the method spellings ``y.add(other, alpha=a)`` the same). So
``tanh(torch.sub(y, 1.0, alpha=2.0))`` and ``tanh(y.add(1.0, alpha=-2.0))`` are both
phi(x) = tanh(x - 2), and docs/convert.md ("An activation is what it does") gives the layer
before it phi's derived gain 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1).

The expected gain comes from mpmath at 30 digits; initconv's quadrature is good to 1e-12 relative
on E[phi^2] (docs/guarantees.md), 5e-13 on its gain; the test allows 1e-10. A shift by 1 or 0.5
instead of 2 gives 1.33 or 1.51 instead of 1.11: far outside it.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from _reference_theory import mpmath_gain
from _support import Between, convert_warned
from torch import Tensor

GAIN_RTOL = 1e-10  # see the module docstring
# tanh(z - 2): the shift 1.0 scaled by alpha = 2 (or -1.0 by alpha = -2 on an add).
GAIN = mpmath_gain(lambda z: mpmath.tanh(z - 2))

SPELLINGS = [
    pytest.param(lambda y: torch.tanh(torch.sub(y, 1.0, alpha=2.0)), id="torch.sub-alpha"),
    pytest.param(lambda y: torch.tanh(y.add(1.0, alpha=-2.0)), id="method-add-alpha"),
    pytest.param(
        lambda y: torch.tanh(torch.add(y, torch.tensor(-1.0), alpha=2.0)), id="tensor-alpha"
    ),
]


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("phi", SPELLINGS)
def test_a_shift_by_alpha_times_the_operand_gets_that_shifts_gain(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    report, warned = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(GAIN, rel=GAIN_RTOL), row.detail
