r"""A jump where the activation bends most is refused, not taken for the bend.

The mean-field maps refuse an activation that jumps: phi' then has a delta and chi_1 =
sigma_w^2 E[phi'^2] is infinite (initconv._meanfield.slopes.check_slopes). The check compares
phi's increment over each of 1024 intervals of [-8, 8] (half-width h = 1/128) with the
8-node Gauss-Legendre integral of autograd's phi'. A jump J misses that integral by J however
narrow the interval; a bend of a smooth phi misses it by rounding only (the rule is exact for
polynomials of degree 15); a kink misses it by at most the largest weight times h times the
slope's jump (0.363 h Delta, by the Chebyshev-Markov-Stieltjes inequalities for Gauss
quadrature). The check cannot tell a kink from a jump on one interval by the slopes at its nodes,
so it allows each interval twice h times the spread of those slopes (plus 1e-6 of the range):
more than any kink can miss.

Where tanh bends most, at x0 = atanh(1/sqrt 3) = 0.6585 (|tanh'''| = 0 there, |tanh''| =
4 / (3 sqrt 3) = 0.7698 its largest), the slopes at the nodes of the interval around x0 spread
by |tanh''| times their span 2 * 0.96029 h: 0.01155, so the allowance there is 2 h * 0.01155 +
1e-6 = 1.815e-4. A jump of 2.25e-4 exceeds it (1.24 times); one of 1e-4 lies within it, and is
refused because an interval that misses its integral by more than 1e-6 of the range is halved
until the miss shrinks (a bend's or a kink's halves each time) or stays (a jump's). The same
holds beside a kink, where the slopes' spread is the kink's own slope jump: 3 relu(x - 0.05),
jumping by 0.04 at 0.055, misses by 0.04 on an interval whose allowance is 2 h 3 = 0.047. The
two jumps are 100 and 1,700 times the range share the check promises to look for (1e-6).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from initconv import diagnostics

_BEND = math.atanh(1 / math.sqrt(3))
_SIZE = 2.25e-4


def _tanh_with_a_jump(where: float, size: float) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        return torch.tanh(x) + size * (x > where).to(x.dtype)

    return phi


@pytest.mark.parametrize("where", [_BEND, -_BEND], ids=["right", "left"])
@pytest.mark.parametrize("size", [_SIZE, -_SIZE, 1e-4], ids=["up", "down", "within"])
def test_a_jump_at_tanhs_sharpest_bend_is_refused_with_its_size(where: float, size: float) -> None:
    with pytest.raises(ValueError, match="jumps by") as refused:
        diagnostics.variance_map(_tanh_with_a_jump(where, size), 1.0)
    found = re.search(r"jumps by (\S+) near x = (\S+) ", str(refused.value))
    assert found is not None, str(refused.value)
    # Six significant digits, from an interval halved 40 times from 1/64 wide: tanh's slope over
    # it adds under 1e-14 to the size.
    assert float(found.group(1)) == pytest.approx(abs(size), rel=1e-5)
    assert float(found.group(2)) == pytest.approx(where, rel=1e-5)


def test_a_jump_beside_a_kink_is_refused_with_its_size() -> None:
    def phi(x: Tensor) -> Tensor:
        return 3 * torch.relu(x - 0.05) + 0.04 * (x > 0.055).to(x.dtype)

    with pytest.raises(ValueError, match="jumps by") as refused:
        diagnostics.variance_map(phi, 1.0)
    found = re.search(r"jumps by (\S+) near x = (\S+) ", str(refused.value))
    assert found is not None, str(refused.value)
    assert float(found.group(1)) == pytest.approx(0.04, rel=1e-5)
    assert float(found.group(2)) == pytest.approx(0.055, rel=1e-5)
