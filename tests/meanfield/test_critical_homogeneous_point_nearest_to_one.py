r"""A positively homogeneous activation's critical point is reported at :math:`q^* = 1`.

The promise (``critical``'s docstring): "Of several solutions, those where the variance map is
stable (:math:`M'(q^*) \le 1`) count, and the one nearest to :math:`q^* = 1` is returned", and a
positively homogeneous activation "is critical at every q there".

Theory, derived here: for :math:`\phi(x) = a_+ x` (x > 0), :math:`a_- x` (x < 0) and
:math:`u \sim \mathcal{N}(0, q)`, :math:`\mathbb{E}[\phi'(u)^2] = (a_-^2 + a_+^2)/2 = s` at every
q and :math:`\mathbb{E}[\phi(u)^2] = q s`. On the line :math:`\sigma_w^2 = 1/s`, so without bias
the variance map is :math:`M(q) = q`: every q > 0 is a fixed point, each with
:math:`M'(q) = 1 \le 1`. Of all of them the one nearest to 1 is 1 itself, exactly.
"""

from __future__ import annotations

import pytest

import initconv


@pytest.mark.parametrize("name", ["relu", "linear", "leaky_relu"])
def test_of_all_its_fixed_points_the_one_nearest_to_one_is_reported(name: str) -> None:
    point = initconv.critical(name, 0.0)
    assert point.q_star == 1.0
