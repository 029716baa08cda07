"""Three spellings the rule must read as their values, in a trace as in a run.

- torch's deprecated ``torch.add(h, c, h)`` is ``h + c * h`` (and ``torch.sub(h, c, h)``
  ``h - c * h``): inside an activation, ``tanh(torch.add(h, 2, h))`` is tanh(3 h), whose gain is
  1 / sqrt(E[tanh(3 z)^2]);
- ``h + h`` is the scaling ``2 * h``: a region of scalings and shifts alone is linear
  (docs/convert.md), as ``2 * h`` is;
- a filled tensor holds the same number wherever ``h`` is and whatever its shape: ``torch.ones_like(h)``,
  ``torch.full_like(h, c)``, ``h.new_ones(h.shape)``, ``h.new_full(size, c)``, ``torch.ones(h.shape)``,
  ``torch.full(h.shape, c)``, with ``c`` a number or a one-element tensor the model holds; so
  ``gelu(h) + torch.ones_like(h)`` is the activation ``gelu(x) + 1``, as a run records it.

Gains from mpmath at 30 digits (tests/_reference_theory.py); the gelu is the erf one,
x (1 + erf(x / sqrt 2)) / 2.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from _reference_theory import mpmath_gain
from _support import Between, convert_warned
from torch import Tensor

GAIN_RTOL = 1e-9  # the derived gain's quadrature is within 1e-12; convert reports it as computed
MODES = ["traced", "run"]


def _mp_gelu(z: mpmath.mpf) -> mpmath.mpf:
    return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2


def _row(phi: Callable[[Tensor], Tensor], mode: str) -> tuple[str, float]:
    report, _ = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.gain is not None
    return row.activation, row.gain


@pytest.mark.parametrize("mode", MODES)
def test_the_deprecated_three_argument_add_inside_an_activation_is_its_value(mode: str) -> None:
    activation, gain = _row(lambda h: torch.tanh(torch.add(h, 2, h)), mode)
    assert activation == "tanh(x + 2 * x)"
    assert gain == pytest.approx(mpmath_gain(lambda z: mpmath.tanh(3 * z)), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "phi",
    [lambda h: h + h, lambda h: 2 * h, lambda h: torch.sub(h, 2, h)],
    ids=["h+h", "2h", "sub"],
)
def test_a_layer_doubled_or_scaled_in_any_spelling_is_linear(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    assert _row(phi, mode) == ("linear", 1.0)


FILLS: dict[str, Callable[[Tensor], Tensor]] = {
    "ones_like": torch.ones_like,
    "full_like": lambda h: torch.full_like(h, 1.0),
    "full_like(keyword)": lambda h: torch.full_like(h, fill_value=1.0),
    "full_like(tensor)": lambda h: torch.full_like(h, torch.tensor(1.0)),
    "full_like(int tensor)": lambda h: torch.full_like(h, torch.tensor(1)),
    "new_ones": lambda h: h.new_ones(h.shape),
    "new_full": lambda h: h.new_full((), 1.0),
    "new_full(keyword)": lambda h: h.new_full(h.shape, fill_value=1.0),
    "ones(shape)": lambda h: torch.ones(h.shape),
    "full(shape)": lambda h: torch.full(h.shape, 1.0),
    "2 * full(size) - 1": lambda h: 2 * torch.full(h.size(), 1.0) - 1,
    "new_zeros + 1": lambda h: h.new_zeros(h.shape) + 1,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fill", FILLS.values(), ids=FILLS.keys())
def test_a_tensor_filled_with_one_number_is_that_constant(
    fill: Callable[[Tensor], Tensor], mode: str
) -> None:
    activation, gain = _row(lambda h: F.gelu(h) + fill(h), mode)
    assert activation == "gelu(x) + 1"
    assert gain == pytest.approx(mpmath_gain(lambda z: _mp_gelu(z) + 1), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_a_fill_from_a_tensor_the_model_holds_scales_by_its_value(mode: str) -> None:
    two = torch.tensor(2.0)
    activation, gain = _row(lambda h: torch.tanh(h * torch.full_like(h, two)), mode)
    assert activation == "tanh(x * 2)"
    assert gain == pytest.approx(mpmath_gain(lambda z: mpmath.tanh(2 * z)), rel=GAIN_RTOL)
