r"""An activation that grows fast far from 0 still has the stable end of its line at zero bias.

The promise (``critical``'s docstring): at :math:`\sigma_b = 0` the line ends at :math:`q^* \to 0`
with :math:`\sigma_w = \sqrt{2/(\phi'(0^-)^2 + \phi'(0^+)^2)}`, and a stable point is returned.
What the activation does at :math:`|x| \gg 1` cannot change its behaviour as :math:`q \to 0`.

Theory, derived here, for :math:`\phi(x) = x - x^5` and :math:`u = \sqrt q z`
(:math:`\mathbb{E}u^2 = q`, :math:`\mathbb{E}u^4 = 3q^2`, :math:`\mathbb{E}u^6 = 15 q^3`,
:math:`\mathbb{E}u^8 = 105 q^4`, :math:`\mathbb{E}u^{10} = 945 q^5`):

.. math::
    F = \mathbb{E}[\phi^2] = q - 30 q^3 + 945 q^5, \qquad
    G = \mathbb{E}[\phi'^2] = 1 - 30 q^2 + 2625 q^4,

so :math:`D = qG - F = 1680 q^5 > 0` (no point :math:`q^* > 0` at zero bias: the end is the only
one) and :math:`F' - G = -60 q^2 + 2100 q^4`, negative below :math:`q = 1/35`: on the line
:math:`M'(q) = F'/G < 1` as :math:`q \to 0`, so the end is stable, at
:math:`\sigma_w = 1/|\phi'(0)| = 1`.
"""

from __future__ import annotations

import math

from torch import Tensor

import initconv


def quintic(x: Tensor) -> Tensor:
    return x - x**5


# Judged against the slopes' size over the whole grid, the line below q ~ 23 would be unknown
# (G(2^12) is 7e17 times G(0)) and the end refused as unstable with M'(q*) = nan.
def test_a_quintic_line_ends_stably_at_zero_bias() -> None:
    point = initconv.critical(quintic, 0.0)
    assert point.q_star == 0.0
    assert math.isclose(point.weight_std, 1.0, rel_tol=1e-12)
