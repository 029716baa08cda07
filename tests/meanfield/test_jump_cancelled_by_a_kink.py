r"""A jump whose miss a kink cancels on one interval is still refused.

The mean-field maps refuse an activation that jumps (phi' has a delta there, chi_1 is infinite).
The check (``initconv._meanfield.slopes.check_slopes``) compares phi's increment over each
interval of a grid on [-8, 8] with the Gauss-Legendre integral of autograd's phi'. A kink of slope
jump Delta at distance e inside an interval misses that integral by up to about Delta e; a jump J
beside it misses by J. On one interval the two can cancel: for ``s relu(x - x0) + J (x > x0 + d)``
with x0 just right of a grid edge, all nodes lie right of the kink, the integral is s times the
width, and the increment is s (width - e) + J, off by only J - s e. Whatever the width, though,
the jump's miss stays J while the kink's changes (and vanishes once they are apart): halving the
interval separates them, and the jump's interval then misses by J with no kink to excuse it.

So every such function, with J at least 1e-5 of the function's range on the probe (ten times the
share the check promises to find, 1e-6), is refused with the message naming the jump's size and
place. The fixed cases are two a random search found accepted before the kink's allowance covered
the interval's ends and the intervals where a kink could hide a jump were followed.
"""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from initconv import diagnostics

_GRID_EDGE = 16 / 1024  # the probe's intervals: [-8, 8] in 1024


def _kinked_jump(slope: float, x0: float, jump: float, gap: float):  # type: ignore[no-untyped-def]
    def phi(x: Tensor) -> Tensor:
        return slope * torch.relu(x - x0) + jump * (x > x0 + gap).to(x.dtype)

    return phi


def _assert_refused_naming_the_jump(slope: float, x0: float, jump: float, gap: float) -> None:
    with pytest.raises(ValueError, match="jumps by") as caught:
        diagnostics.correlation_map(_kinked_jump(slope, x0, jump, gap), 1.0, 0.1)
    size, where = (
        float(v) for v in re.findall(r"jumps by (\S+) near x = (\S+) ", str(caught.value))[0]
    )
    assert size == pytest.approx(jump, rel=1e-5)
    assert abs(where - (x0 + gap)) <= _GRID_EDGE


@pytest.mark.parametrize(
    ("x0", "jump", "gap"),
    [
        (-2.024579130136255, 0.0003973276657751857, 0.0002105152036425546),
        (3.59382359178349, 0.0002220670977711561, 0.0021312134531623864),
    ],
)
def test_a_jump_a_kink_cancelled_on_one_interval_is_refused(
    x0: float, jump: float, gap: float
) -> None:
    _assert_refused_naming_the_jump(3.0, x0, jump, gap)


@settings(max_examples=15, deadline=None)
@given(
    slope=st.floats(0.5, 5.0),
    edge=st.integers(-256, 255),
    offset=st.floats(0.0, 1.0),
    share=st.floats(1e-5, 1e-3),
    gap=st.floats(1e-6, 1e-2),
)
def test_a_jump_beside_a_kink_is_refused(
    slope: float, edge: int, offset: float, share: float, gap: float
) -> None:
    # The kink anywhere in [-4, 4), often just past a grid edge (offset near 0 or 1).
    x0 = edge * _GRID_EDGE + offset * _GRID_EDGE
    jump = share * slope * (8 - x0)  # the range on the probe is slope (8 - x0), plus the jump
    _assert_refused_naming_the_jump(slope, x0, jump, gap)
