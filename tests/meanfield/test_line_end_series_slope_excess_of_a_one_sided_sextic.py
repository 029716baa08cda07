r"""The line-end series gives :math:`M'(q) - 1` of an activation that bends on one side of 0 only
at its sixth Taylor coefficient: the highest order the series is complete to decides it.

The promise (``line_end``'s docstring and ``Series.variance_slope_excess``): with one-sided Taylor
coefficients up to ``ORDER = 6``, :math:`G(q) = \mathbb{E}[\phi'(\sqrt q z)^2]` is complete to
:math:`q^{(\text{ORDER}-1)/2} = q^{5/2}`, and :math:`M'(q) - 1 = (F'(q) - G(q))/G(q)` on the line
is given to full relative precision. Where an activation's first departure from a straight line
is its sixth coefficient on one side, :math:`q^{5/2}` is where :math:`M'(q) - 1` starts, and the
sign of that term is what says whether the line's end is stable.

Theory, derived here, for :math:`\phi_\pm(x) = x + c\,\mathrm{relu}(\pm x)^6` and
:math:`u = \sqrt q z`, with :math:`\mathbb{E}[u^n; \pm u > 0] = (\pm 1)^n q^{n/2} M_n / 2`,
:math:`M_n = \mathbb{E}|z|^n` (:math:`M_5 = 8\sqrt{2/\pi}`, :math:`M_7 = 6 M_5`,
:math:`M_{10} = 9!! = 945`, :math:`M_{12} = 11 M_{10}`):

.. math::
    F(q) = q \pm c M_7 q^{7/2} + \tfrac12 c^2 M_{12} q^6, \qquad
    G(q) = 1 \pm 6 c M_5 q^{5/2} + 18 c^2 M_{10} q^5,

    F'(q) - G(q) = \pm 15 c M_5 q^{5/2} + 15 c^2 M_{10} q^5.

The series holds every term up to :math:`q^{5/2}` (and none beyond), so at :math:`q = 2^{-16}`,
:math:`c = 1`, its :math:`M'(q) - 1 = \pm 15 M_5 q^{5/2} / (1 \pm 6 M_5 q^{5/2})` differs from
the exact ratio above by the :math:`q^5` terms, :math:`(M_{10}/M_5)\, q^{5/2} \approx 1.4 \cdot
10^{-10}` relative (the rounding of coefficients autograd takes at :math:`\pm 2^{-100}` is far
below that): 1e-9 bounds the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch.nn.functional as F
from torch import Tensor

from initconv._meanfield.line_end import series

_Q = 2.0**-16
_M5 = 8.0 * math.sqrt(2.0 / math.pi)
_M10 = 945.0


def _right_sextic(x: Tensor) -> Tensor:
    return x + F.relu(x) ** 6


def _left_sextic(x: Tensor) -> Tensor:
    return x + F.relu(-x) ** 6


@pytest.mark.parametrize(
    ("phi", "side"), [(_right_sextic, 1.0), (_left_sextic, -1.0)], ids=["right", "left"]
)
def test_the_series_slope_excess_starts_at_the_sixth_one_sided_coefficient(
    phi: Callable[[Tensor], Tensor], side: float
) -> None:
    expansion = series(phi)
    assert expansion is not None
    root = _Q**2.5
    excess = side * 15.0 * _M5 * root + 15.0 * _M10 * root * root
    slope_moment = 1.0 + side * 6.0 * _M5 * root + 18.0 * _M10 * root * root
    assert expansion.variance_slope_excess(_Q) == pytest.approx(excess / slope_moment, rel=1e-9)
