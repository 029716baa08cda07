"""The refusal of an activation whose backward is not its derivative states, over the interval it
names, what phi changes by and what autograd's phi' integrates to there
(``initconv._meanfield.slopes.check_slopes``, reached through ``initconv.critical``): both numbers
must be the true ones, so that the user sees by how much, and which way, the two disagree.

Theory, derived here. phi = e^x / 2 forward with backward e^x (``s - s.detach() + s.detach() / 2``
for s = e^x): over any [lo, hi], phi changes by (e^hi - e^lo) / 2 while its autograd slope e^x
integrates to e^hi - e^lo, exactly twice as much. They disagree on every interval of the probe, so
the activation is refused as one whose slope does not integrate to its values; whatever interval
the message names, its stated integral is twice its stated change. Each is printed to six
significant digits (``:.6g``), a relative rounding of at most 5e-6 each, so their ratio is 2 to
within (1 + 5e-6) / (1 - 5e-6) - 1 = 1.00001e-5 relative; the integration error of the check
itself is far below that (an 8-node Gauss-Legendre rule on e^x over a width under 1/64 is exact to
rounding).
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor

import initconv

# The ratio's bound from two 6-digit roundings, 1.00001e-5, rounded up.
_PRINTED = 1.1e-5


def half_its_slopes_integral(x: Tensor) -> Tensor:
    s = torch.exp(x)
    return s - s.detach() + s.detach() / 2


def test_the_stated_integral_of_the_slope_is_twice_the_stated_change() -> None:
    with pytest.raises(ValueError, match="does not integrate to its values") as refused:
        initconv.critical(half_its_slopes_integral)
    text = str(refused.value)
    found = re.search(
        r"on \[(\S+), (\S+)\] it changes by (\S+) while autograd's phi' integrates to (\S+),",
        text,
    )
    assert found is not None, text
    lo, hi, change, integral = (float(found[i]) for i in range(1, 5))
    assert -8.0 <= lo < hi <= 8.0, text  # an interval of the probe on [-8, 8]
    assert change > 0, text
    assert integral / change == pytest.approx(2.0, rel=_PRINTED), text
