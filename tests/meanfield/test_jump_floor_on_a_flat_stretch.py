r"""On a flat stretch the jump check's floor is a sharp threshold: a step of 1e-6 of the activation's
size passes, the next float above it is refused.

The mean-field maps refuse an activation that jumps (phi' has a delta there, chi_1 is infinite),
but look for jumps only down to a floor of 1e-6 times the largest |phi| on the probe [-8, 8]
(``initconv._meanfield.gaussian.check_slopes``): below it a float32 activation's rounding would
look like jumps. The floor is an allowance: an interval whose increment the integral of phi'
misses by no more than it is excused, and one missed by more is followed until it is resolved.

The activation here is 0.25 relu(-4 - x) plus a step of height J at x = 0.3. On the probe its
largest |value| is exactly 1 (at x = -8; the step adds J only at x > 0.3, where the ramp is 0), so
the floor is the float 1e-6 itself, and on every interval around the step phi is flat (autograd's
slope is exactly 0 there, the Gauss-Legendre integral of it exactly 0), so the miss is exactly J:
the two sides of the threshold are exact facts of float64 arithmetic, not of any tolerance.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import Tensor

from initconv._meanfield.gaussian import check_slopes

_FLOOR_SHARE = 1e-6  # the share of max |phi| on the probe below which jumps are not looked for
_STEP_AT = 0.3


def _ramp_and_step(height: float):  # type: ignore[no-untyped-def]
    def phi(x: Tensor) -> Tensor:
        return 0.25 * torch.relu(-4.0 - x) + height * (x > _STEP_AT).to(x.dtype)

    return phi


def _largest_on_probe(height: float) -> float:
    probe = torch.linspace(-8.0, 8.0, 1025, dtype=torch.float64)
    return float(_ramp_and_step(height)(probe).abs().max())


def test_a_step_of_exactly_the_floor_share_is_not_refused() -> None:
    height = _FLOOR_SHARE
    # The premise: the floor (1e-6 times the largest |phi| on the probe, exactly 1) is the step.
    assert _FLOOR_SHARE * _largest_on_probe(height) == height
    check_slopes("ramp and a step of the floor", _ramp_and_step(height))


def test_a_step_one_float_above_the_floor_share_is_refused_and_named() -> None:
    height = math.nextafter(_FLOOR_SHARE, math.inf)
    assert _FLOOR_SHARE * _largest_on_probe(height) < height
    with pytest.raises(ValueError, match="jumps by") as refused:
        check_slopes("ramp and a step above the floor", _ramp_and_step(height))
    found = re.search(r"jumps by (\S+) near x = (\S+) ", str(refused.value))
    assert found is not None, str(refused.value)
    # Printed to six significant digits: relative 5e-6 at most.
    assert float(found.group(1)) == pytest.approx(height, rel=5e-6)
    # Located to the halved interval's left end, within 2^-46 of the step (six digits printed).
    assert float(found.group(2)) == pytest.approx(_STEP_AT, rel=5e-6)
