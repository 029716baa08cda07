"""The refusal of an activation that jumps states what phi' integrates to over the interval it
names, and over no other: where the slope changes at the jump, the number is the one on the jump's
own side of the cut (``initconv._meanfield.slopes.check_slopes``, reached through
``initconv.critical``).

Theory, derived here. The probe cuts [-8, 8] into 1024 intervals of width 2^-6 and halves the ones
that disagree, so its cut points are dyadic rationals and 0 is always one of them. For
phi(x) = s x + (3 - s) relu(x) + [x >= 0], phi' is s left of 0 and 3 right of it, and phi jumps by
1 at 0, where phi(0) = 1 already belongs to the right-hand branch. The interval that holds the
jump is therefore [-w, 0] for the finest width w the probe cuts, the message names it as
"near x = -w ... over w", and phi' = s on all of it: it integrates to exactly s w. (The
Gauss-Legendre rule the probe uses is exact on a constant; its weights sum to 2 to rounding.)
An integral read over a wider stretch would take in the slope 3 beyond the cut.

Width and integral are printed to three significant digits (``:.3g``), a relative rounding of at
most 5e-3 each, so their ratio is s to within (1 + 5e-3) / (1 - 5e-3) - 1 = 1.005e-2 relative
(and exactly 0 for s = 0); the place is printed to six digits (``:.6g``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import initconv

# The ratio's bound from two 3-digit roundings, 1.005e-2, rounded up.
_PRINTED_3 = 1.1e-2
# -where against width: one 6-digit and one 3-digit rounding.
_PRINTED_3_AND_6 = 5.1e-3


def _step_onto_a_steeper_line(left_slope: float) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        return left_slope * x + (3.0 - left_slope) * torch.relu(x) + (x >= 0).to(x.dtype)

    return phi


@pytest.mark.parametrize("left_slope", [0.0, 1.0])
def test_the_stated_integral_is_the_slope_on_the_jumps_side_times_the_width(
    left_slope: float,
) -> None:
    with pytest.raises(ValueError, match="jumps by") as refused:
        initconv.critical(_step_onto_a_steeper_line(left_slope), bias_std=0.1)
    text = str(refused.value)
    found = re.search(
        r"jumps by (\S+) near x = (\S+) \(it changes by that much over (\S+) there, the finest "
        r"the probe cuts, where its slope phi' integrates to (\S+):",
        text,
    )
    assert found is not None, text
    size, where, width, integral = (float(found[i]) for i in range(1, 5))
    assert size == pytest.approx(1.0, rel=1e-5), text
    # The named interval is [-w, 0], left of the cut at 0.
    assert width > 0, text
    assert -where == pytest.approx(width, rel=_PRINTED_3_AND_6), text
    assert integral == pytest.approx(left_slope * width, rel=_PRINTED_3, abs=0.0), text
