"""An activation of any size that float64 holds gets its gain, up to the largest float64 values.

The promise is ``_integrate``'s in ``initconv/_maths/derived_gain.py``: phi is divided by a power
of two of its size on the probe, "an exact rescaling, so that phi = 1e-200 x (whose square
underflows) or 1e200 x (whose square overflows) has its gain too". For phi = k tanh the theory is
E[(k tanh(z))^2] = k^2 E[tanh(z)^2], so gain(k tanh) = 1 / (|k| sqrt(E[tanh(z)^2])), with
E[tanh(z)^2] computed here by mpmath's quadrature (tests/_reference_theory.py).

The largest k here, 1e308, is below float64's largest value (1.8e308), its size on the probe
above 2^1023 (whose next power of 2 overflows), and the gain, 1.6e-308, is above float64's
smallest normal value: both the activation and its gain are ordinary float64 numbers, so nothing
but the arithmetic on the way may overflow.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from _reference_theory import mpmath_gain
from torch import Tensor

import initconv


@pytest.mark.parametrize("k", [2.0**-700, 1e-200, 1e200, 2.0**1021, 1.5 * 2.0**1022, 1e308])
def test_k_tanh_gets_the_gain_of_tanh_divided_by_k_at_every_size_float64_holds(k: float) -> None:
    def scaled_tanh(x: Tensor) -> Tensor:
        return k * torch.tanh(x)

    expected = mpmath_gain(mpmath.tanh) / k
    # The quadrature is within 1e-12 relative of E[phi^2] (initconv/_maths/quadrature.py), so
    # the gain, E[phi^2]^-1/2, within 0.5e-12; k tanh rounds phi by 1e-16 relative. 1e-12 holds
    # both.
    assert math.isclose(initconv.gain(scaled_tanh), expected, rel_tol=1e-12)
