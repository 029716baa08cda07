"""The line's end is solved wherever the activation's slope at 0 and its curvature put it, not only
near tanh's unit slope: ``line_end.root`` promises the q* < ``below`` where the Taylor series'
D(q) = sigma_b^2 G(q) (its docstring; Poole et al. 2016 for the line), whatever the sizes of
G(0) = phi'(0)^2 and of D's leading coefficient.

Theory, derived here. phi(x) = k x - (k^2 / 2) x |x| has one-sided Taylor coefficients a_1 = k and
a_2 = -+k^2 / 2 (left, right) and no others. With u = sqrt(q) z and M_n = E|z|^n (M_1 =
sqrt(2 / pi), M_2 = 1):

- phi'(u) = k - k^2 |u|, so G(q) = E[phi'^2] = k^2 - 2 M_1 k^3 sqrt(q) + k^4 q exactly;
- D(q) = q G(q) - E[phi^2], with phi^2 = k^2 u^2 - k^3 |u|^3 + k^4 u^4 / 4 and E|u|^3 = 2 M_1
  q^1.5, E u^4 = 3 q^2: D(q) = k^4 q^2 (1 - 3/4) = k^4 q^2 / 4 exactly.

So D = sigma_b^2 G gives q^2 = q_0^2 (1 - 2 M_1 k sqrt(q) + k^2 q) with q_0 = 2 sigma_b / k, a
root at q_0 (1 + O(k sqrt(q_0))), far below 2^-24 for the biases used here. The two slopes
k = 1e3 and k = 1e-3 make G(0) = 1e6 and 1e-6, D's coefficient 2.5e11 and 2.5e-13: the leading
balance must weigh both (q_0 = 2e-23 at k = 1e3, not the 2e-20 of a unit slope).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from initconv._meanfield.line_end import root, series

_BELOW = 2.0**-24  # the quadrature grid's first q, below which critical() uses the series
_BIAS = 1e-20
_M1 = math.sqrt(2 / math.pi)


def _kinked(k: float) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        # x |x| written as a where: abs's double backward would import torch's compiler (~3 s)
        return k * x - (k * k / 2) * torch.where(x > 0, x * x, -x * x)

    return phi


@pytest.mark.parametrize("k", [1e3, 1e-3])
def test_the_series_root_solves_the_line_equation_whatever_the_slope_at_zero(k: float) -> None:
    line = series(_kinked(k))
    assert line is not None
    q_star = root(line, _BIAS, _BELOW)
    assert q_star is not None, "a root exists: D/G rises from 0 through sigma_b^2 below 2^-24"
    q0 = 2 * _BIAS / k
    # The first correction is -M_1 k sqrt(q_0): 3.6e-9 at k = 1e3, 3.6e-12 at 1e-3; 1e-7 is
    # 28 times the larger.
    assert q_star == pytest.approx(q0, rel=1e-7)
    # The exact equation, from the closed forms above: root() solves in log q to x_tol 1e-15
    # with ~1e-16 * |ln q| (ln q ~ -50) rounding in the log-excess, so q* is good to ~1e-14
    # relative and the residual, homogeneous of degree 2 in q, to ~2e-14 of D: 1e-12 is a
    # 50-fold margin.
    d = k**4 * q_star**2 / 4
    g = k**2 - 2 * _M1 * k**3 * math.sqrt(q_star) + k**4 * q_star
    assert abs(d - _BIAS**2 * g) <= 1e-12 * d


def test_the_series_of_the_kinked_activation_is_the_closed_form() -> None:
    # G's and D's coefficients as derived in the docstring, at k = 1e3: the root above rests on
    # them. Each is a sum of at most four float products: 1e-14 relative is ample.
    k = 1e3
    line = series(_kinked(k))
    assert line is not None
    g = dict(line.slope_moment)
    assert g[0.0] == pytest.approx(k**2, rel=1e-14)
    assert g[0.5] == pytest.approx(-2 * _M1 * k**3, rel=1e-14)
    assert g[1.0] == pytest.approx(k**4, rel=1e-14)
    assert dict(line.deficit) == pytest.approx({2.0: k**4 / 4}, rel=1e-14)
