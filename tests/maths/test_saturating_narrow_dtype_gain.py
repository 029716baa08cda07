"""An activation computed in a narrow dtype gets its gain to that dtype's precision even where it
saturates: ``hardtanh`` evaluated in float32, float16 or bfloat16 and returned as float64.

The promise is the probe's (``initconv/_maths/derived_gain.py``, docs/guarantees.md): outputs that
a narrow dtype represents exactly, as those of ``F.silu(x.float()).type_as(x)`` are, make that
dtype's eps the quadrature's noise floor, "so such an activation gets a gain accurate to its own
precision instead of a tolerance it can never meet". A saturating activation is the hard case for
telling its precision: on the probe's 420 points in [-8, 8], hardtanh(x, -a, a) takes only the two
values +-a outside [-a, a], so few of its outputs are distinct (about 26 of 420 at a = 1/2); the
precision must still be found, or the quadrature chases the narrow dtype's rounding steps at
1e-12 and runs out of evaluations.

Theory: with phi the Gaussian density, the integral of z^2 phi over [-a, a] is
(2 Phi(a) - 1) - 2 a phi(a) (integrate by parts: the antiderivative of z^2 phi is Phi - z phi),
and hardtanh^2 = a^2 beyond, with mass 2 (1 - Phi(a)); so
E[hardtanh(z)^2] = 2 Phi(a) - 1 - 2 a phi(a) + 2 a^2 (1 - Phi(a)), computed here with mpmath.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import initconv


def _hardtanh_gain(a: float) -> float:
    with mpmath.workdps(30):
        a = mpmath.mpf(a)
        inside = 2 * mpmath.ncdf(a) - 1 - 2 * a * mpmath.npdf(a)
        return float(1 / mpmath.sqrt(inside + 2 * a**2 * (1 - mpmath.ncdf(a))))


@pytest.mark.parametrize("a", [1.0, 0.5])
@pytest.mark.parametrize("narrow", [torch.float32, torch.float16, torch.bfloat16])
def test_hardtanh_computed_in_a_narrow_dtype_gets_its_gain_to_that_dtypes_precision(
    narrow: torch.dtype, a: float
) -> None:
    def rounded_hardtanh(x: Tensor) -> Tensor:
        return F.hardtanh(x.to(narrow), -a, a).type_as(x)

    value = initconv.gain(rounded_hardtanh)
    # Two sources of error, eps = the narrow dtype's eps (2^-23, 2^-10, 2^-7):
    # - rounding x to the dtype changes hardtanh(x) by at most eps / 2 relative, so phi^2 by eps
    #   and the gain E[phi^2]^-1/2 by eps / 2;
    # - the quadrature accepts panels within 4 eps of E|phi^2| at that noise floor
    #   (initconv/_maths/quadrature.py, _NOISE_FACTOR), so the gain is within 2 eps more.
    # 2.5 eps in all; 4 eps bounds it with margin.
    eps = torch.finfo(narrow).eps
    assert math.isclose(value, _hardtanh_gain(a), rel_tol=4 * eps)
