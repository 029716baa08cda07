"""``torch.zeros_like(h)`` is the constant 0 wherever it enters an activation written out.

docs/convert.md, "An activation is what it does": the operands of a region other than its one
varying value are constants. ``torch.zeros_like(h)`` holds 0.0 in every element whatever ``h``
holds (torch's documentation), so it is the constant 0, not a second value and not any other
number: ``gelu(h) + torch.zeros_like(h)`` is gelu itself (the built-in's name), and
``torch.clamp(h, min=torch.zeros_like(h))`` is max(h, 0), relu. The companion fills
(``ones_like``, ``full_like``) are held by tests/inference/test_spellings_of_scalings_and_fills.py.

Gains: relu's is sqrt(2) exactly (E[max(z, 0)^2] = 1/2), gelu's from mpmath at 30 digits
(tests/_reference_theory.py), x (1 + erf(x / sqrt 2)) / 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from _reference_theory import mpmath_gain
from _support import Between, convert_warned
from torch import Tensor

# The derived gain's quadrature is within 1e-12 and a built-in's table gain is exact: 1e-9 is
# far above both, far below any change a different constant would make.
GAIN_RTOL = 1e-9
MODES = ["traced", "run"]


def _row(phi: Callable[[Tensor], Tensor], mode: str) -> tuple[str, float]:
    report, _ = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    assert row.activation is not None
    assert row.gain is not None
    return row.activation, row.gain


def _mp_gelu(z: mpmath.mpf) -> mpmath.mpf:
    return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2


@pytest.mark.parametrize("mode", MODES)
def test_adding_a_zero_filled_tensor_leaves_the_activation_unchanged(mode: str) -> None:
    activation, gain = _row(lambda h: F.gelu(h) + torch.zeros_like(h), mode)
    assert activation == "gelu"
    assert gain == pytest.approx(mpmath_gain(_mp_gelu), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_clamping_below_at_a_zero_filled_tensor_is_relu(mode: str) -> None:
    activation, gain = _row(lambda h: torch.clamp(h, min=torch.zeros_like(h)), mode)
    assert activation == "relu"
    assert gain == pytest.approx(math.sqrt(2.0), rel=GAIN_RTOL)
