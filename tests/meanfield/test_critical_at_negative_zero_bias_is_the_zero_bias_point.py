r"""A bias std of ``-0.0`` is no bias: ``critical`` returns the point at ``bias_std`` 0, printed
as 0, whether it is asked with ``-0.0`` first or second.

The promise (``critical``'s docstring: :math:`\sigma_b \ge 0`; a bias std is a standard deviation,
whose sign means nothing): ``-0.0`` passes the check ``bias_std >= 0`` and names the same
distribution as ``0.0``, so the point is the one at zero bias, and what the user reads of it
(``bias_std``, its printout) is that point's, not a "-0". The cache holds one point per bias std,
and ``-0.0 == 0.0`` as a key: whichever is asked first fixes what both return, so the first
answer must already be the zero-bias one.

The activation is a user function made fresh in the test (elu written out), so no earlier solve
of the same activation can answer from the cache. Its zero-bias point is the line's end
(:math:`q^* = 0`, :math:`\sigma_w = \sqrt{2 / (\phi'(0^-)^2 + \phi'(0^+)^2)} = 1`).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

import initconv


def test_a_point_asked_at_negative_zero_bias_is_the_zero_bias_point() -> None:
    def elu(x: Tensor) -> Tensor:
        return F.elu(x)

    first = initconv.critical(elu, -0.0)
    second = initconv.critical(elu, 0.0)
    for point in (first, second):
        assert math.copysign(1.0, point.bias_std) == 1.0
        assert " at bias_std 0: " in str(point)
        assert point.q_star == 0.0
        assert math.isclose(point.weight_std, 1.0, rel_tol=1e-12)
