"""A staircase's values are exactly representable in bfloat16, yet it is computed in float64: its
gain gets float64's tolerance, and its elementwise check float64's few ulps.

docs/guarantees.md: the probe finds the precision phi computes in, from whether its outputs are
exactly representable in a narrow dtype; the gain is then accurate to that precision, and the
elementwise check allows "differences of a few ulps between positions". A step (a sign, a
staircase) is the exception the probe names (initconv/_maths/derived_gain.py, ``precision_of``;
docs/development.md on ``hardtanh(x.float(), -0.5, 0.5)``): it takes few distinct values, which
are representable in any dtype without having been rounded to one, so representability says
nothing of its precision. ``floor(3 z)`` is such a step: an integer every 1/3 in z, 47 distinct
values at the 410 probe points that are neither its lowest nor its highest value. (A function
really computed in bfloat16 or float16 takes far more: at least half as many distinct values as
points for tanh, sigmoid, silu, gelu, elu, softplus, selu, mish, hardswish, softsign, erf and
x^2, the last because it is even and the probe is symmetric.)

Two consequences, derived here:

- its gain is 1 / sqrt(E[floor(3 z)^2]) with E[floor(3 z)^2] = sum_k k^2 (Phi((k + 1) / 3) -
  Phi(k / 3)), exactly (mpmath, 30 digits). The quadrature promises a relative 1e-12 of E[f] plus
  about 1e-12 times each jump of f; f = (phi / 16)^2 (phi scaled by the power of 2 at or below
  its size on the probe, 24) jumps by (2 k + 1) / 256 at z = (k + 1) / 3, whose sizes over
  [-12, 12] add up to 2 x 36^2 / 256 = 10.1: at most 1e-11 against E[f] = 9.33 / 256 = 0.0365,
  a relative 3e-10 in E[f] and 1.5e-10 in the gain. The bound 1e-9 holds that with room; a bfloat16
  noise floor (4 eps = 3e-2 relative per panel) would not;
- the same staircase shifted by half a step at every other position (an ordered dither: its
  output depends on where an input sits) differs from itself, laid out otherwise, by a whole
  level, over 1e14 float64 ulps: it is not elementwise and must be refused.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

import initconv


def staircase(x: Tensor) -> Tensor:
    return torch.floor(3.0 * x)


def dithered_staircase(x: Tensor) -> Tensor:
    offset = (torch.arange(x.numel(), dtype=x.dtype, device=x.device) % 2).reshape(x.shape)
    return torch.floor(3.0 * x + 0.5 * offset)


def _exact_gain() -> float:
    with mpmath.workdps(30):
        second = mpmath.fsum(
            k * k * (mpmath.ncdf(mpmath.mpf(k + 1) / 3) - mpmath.ncdf(mpmath.mpf(k) / 3))
            for k in range(-60, 60)  # |3 z| < 60: the rest is below 1e-80
        )
        return float(1 / mpmath.sqrt(second))


def test_a_float64_staircase_gets_its_gain_to_float64s_tolerance() -> None:
    exact = _exact_gain()
    assert abs(initconv.gain(staircase) - exact) <= 1e-9 * exact  # bound: module docstring


def test_a_staircase_that_depends_on_its_inputs_positions_is_refused() -> None:
    with pytest.raises(ValueError, match="activation dithered_staircase is not elementwise"):
        initconv.gain(dithered_staircase)
