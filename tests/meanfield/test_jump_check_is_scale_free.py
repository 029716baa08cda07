"""Whether an activation jumps does not depend on its units: k phi jumps exactly where phi does.

A jump of size J at c gives phi' a delta J at c, and k phi a delta k J there: chi_1 is infinite for
every k > 0. The maps promise to refuse such an activation and name the jump (check_slopes: a jump
is looked for down to a share of the activation's own range, not down to an absolute size), and
they solve k phi as phi with sigma_w / k, so an activation of size 1e-12 or 1e12 is no different
from one of size 1. The activations here are tanh plus a step of half its range at x = 0.3, scaled
by powers of 2 (exact in float64): the refusal must name a jump of k / 2 at 0.3 for each, and
k tanh (no jump) must pass the check. Both facts are exact; the report's six significant digits
set the comparison.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor

from initconv import diagnostics
from initconv._meanfield.slopes import check_slopes

_REPORT = re.compile(r"jumps by (\S+) near x = (\S+) ")
_SCALES = [2.0**-60, 2.0**-30, 1.0, 2.0**30]


@pytest.mark.parametrize("scale", _SCALES)
def test_a_jump_is_refused_at_every_scale_of_the_activation(scale: float) -> None:
    def phi(x: Tensor) -> Tensor:
        return scale * (torch.tanh(x) + 0.5 * (x > 0.3).to(x.dtype))

    with pytest.raises(ValueError, match="jumps by") as refused:
        diagnostics.variance_map(phi)
    found = _REPORT.search(str(refused.value))
    assert found is not None, str(refused.value)
    # Printed to six significant digits (relative 5e-6 at most), of a size and place resolved to
    # intervals 2^-46 wide, where tanh's slope adds < 1e-13 to the increment.
    assert float(found.group(1)) == pytest.approx(0.5 * scale, rel=1e-5, abs=0)
    assert float(found.group(2)) == pytest.approx(0.3, rel=1e-5)


@pytest.mark.parametrize("scale", _SCALES)
def test_a_continuous_activation_passes_the_jump_check_at_every_scale(scale: float) -> None:
    check_slopes("scaled tanh", lambda x: scale * torch.tanh(x))
