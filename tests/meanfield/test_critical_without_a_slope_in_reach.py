"""An activation flat over every Gaussian critical() searches has no critical point, and critical()
says so with a ValueError, as its docstring promises for any activation without one.

Theory, derived here. critical() searches q* in [2^-24, 2^12] (its error messages name the range),
so the widest pre-activation it considers is u ~ N(0, 4096), sigma = 64. On the line
chi_1 = sigma_w^2 E[phi'(u)^2] = 1 and q* = sigma_w^2 E[phi(u)^2] + sigma_b^2, so
q* >= E[phi^2] / E[phi'^2].

- phi(x) = max(x, 1000): phi' = 0 below 1000, so E[phi'^2] = P(u > 1000) <= Phi-bar(1000 / 64),
  below 1e-54, while E[phi^2] >= 1000^2: q* >= 1e60, far above the range.
- phi(x) = 0 x + 1, a constant through autograd: E[phi'^2] = 0, so chi_1 = 0 at every sigma_w.

Neither has a point for q* in the range, at any bias, and the answer must be a ValueError naming
the activation, not an arithmetic error from dividing by a slope moment of 0.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import initconv


def far_relu(x: Tensor) -> Tensor:
    return torch.clamp(x, min=1000.0)


def constant(x: Tensor) -> Tensor:
    return 0 * x + 1


@pytest.mark.parametrize("activation", [far_relu, constant])
@pytest.mark.parametrize("bias_std", [0.0, 0.5])
def test_an_activation_without_slope_on_the_searched_range_has_no_critical_point(
    activation: Callable[[Tensor], Tensor], bias_std: float
) -> None:
    name = activation.__name__
    with pytest.raises(ValueError, match=rf"'{name}' has no critical point at bias_std={bias_std}"):
        initconv.critical(activation, bias_std)
