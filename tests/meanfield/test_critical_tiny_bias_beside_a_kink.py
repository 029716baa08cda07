"""A tiny bias puts q* below the quadrature's grid, where critical() solves from the Taylor series
at 0 after checking it against the quadrature at the grid's first q, 2^-24 (its docstring and
docs/deep.md). A kink the Gaussian of that first q does not reach does not stop it; one it reaches
is refused, not solved wrongly.

Theory, derived here. phi(x) = tanh(x) - relu(x - b) / 2: tanh, whose slope halves beyond a kink at
b > 0. At q = 2^-24 (sigma = 2^-12) the kink enters E[phi'^2] only through P(u > b):

- b = 10 sigma: P = Phi-bar(10) = 8e-24 relative, far below the 1e-7 to which the series must
  agree, so the series is used. At the point itself, q* ~ 1e-20, P(u > b) = Phi-bar(2.4e-3 / 1e-10)
  is 0 in any arithmetic: q* is tanh's. tanh's series at 0 (tanh^2 and sech^4 expanded with
  E[u^2n] = (2n - 1)!! q^n) gives D(q) = q E[phi'^2] - E[phi^2] = 4/3 q^3 + O(q^4) and
  G(q) = E[phi'^2] = 1 - 2 q + O(q^2); the line's point solves D = sigma_b^2 G (Poole et al. 2016),
  so q*^3 = 3/4 sigma_b^2 (1 + O(q*)) and sigma_w = 1 / sqrt(G(q*)) = 1 + O(q*), with O(q*) = 1e-20
  below float64's resolution.
- b = 2 sigma: P = Phi-bar(2) = 0.023, and G differs from the series' by 3/4 of it: refused.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import initconv

_SIGMA = 2.0**-12  # the standard deviation at the grid's first q, 2^-24
_BIAS = 1e-30


def beyond_reach(x: Tensor) -> Tensor:
    return torch.tanh(x) - torch.relu(x - 10 * _SIGMA) / 2


def within_reach(x: Tensor) -> Tensor:
    return torch.tanh(x) - torch.relu(x - 2 * _SIGMA) / 2


def test_a_kink_ten_deviations_beyond_the_first_grid_point_leaves_tanhs_point() -> None:
    point = initconv.critical(beyond_reach, _BIAS)
    # The package solves in log q, where the terms (3 ln q* = -138) carry ~3e-14 of rounding, so
    # q* is good to ~1e-14 relative; the theory's own O(q*) is 1e-20. 1e-12 is a 100-fold margin.
    assert point.q_star == pytest.approx((0.75 * _BIAS**2) ** (1 / 3), rel=1e-12, abs=0)
    assert point.weight_std == pytest.approx(1.0, rel=1e-12, abs=0)
    assert point.variance_slope <= 1


@pytest.mark.slow
def test_a_kink_within_two_deviations_of_zero_is_refused_naming_the_reason() -> None:
    with pytest.raises(ValueError, match=r"'within_reach' .* does not match the activation there"):
        initconv.critical(within_reach, _BIAS)
