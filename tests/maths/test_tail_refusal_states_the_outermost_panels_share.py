"""When an integrand does not decay by |z| = 12, the refusal states the share of E[|f|] that the
outermost panels hold, and that share is the true one.

The promise is gaussian_expectation's (initconv/_maths/quadrature.py): it integrates over
[-12, 12] in 96 first panels 0.25 wide (its docstring: "those in the outermost panels,
|z| > 11.75, ... measure the tail"), and refuses an integrand that does not decay there with
"the outermost panels hold X% of E[|f|]". A user reads that share to judge how far from decaying
f is, so it must be the share of the integral of |f(z)| phi(z) over [-12, 12] that lies in
[-12, -11.75] and [11.75, 12], to the three digits it prints.

Cases solved by hand, phi the standard normal density:

- f(z) = exp(z^2 / 2): f phi = 1 / sqrt(2 pi) is constant, so the share is 2 x 0.25 / 24 = 1/48.
- f(z) = |z| exp(z^2 / 2): f phi is proportional to |z|, so the share is
  (12^2 - 11.75^2) / 12^2 = 5.9375 / 144.
- Through the public path, the derived gain of phi(z) = exp(z^2 / 4) integrates phi^2 =
  exp(z^2 / 2): the first case again, and the gain's refusal carries the quadrature's reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import initconv
from initconv._maths.quadrature import QuadratureError, gaussian_expectation


def _flat(z: Tensor) -> Tensor:
    return torch.exp(z * z / 2)


def _growing(z: Tensor) -> Tensor:
    return z.abs() * torch.exp(z * z / 2)


def _stated_share(message: str) -> float:
    found = re.search(r"the outermost panels hold (\S+)% of E\[\|f\|\]", message)
    assert found is not None, message
    return float(found.group(1)) / 100


def _agrees_to_three_digits(stated: float, expected: float) -> bool:
    # The refusal prints three significant digits of the percentage: half a unit of the third.
    return abs(stated - expected) <= 0.5 * 10.0 ** (math.floor(math.log10(expected)) - 2)


@pytest.mark.parametrize(
    ("f", "share"),
    [(_flat, 1 / 48), (_growing, (12.0**2 - 11.75**2) / 12.0**2)],
    ids=["constant_integrand", "integrand_growing_like_abs_z"],
)
def test_the_tail_refusal_states_the_share_the_outermost_panels_hold(
    f: Callable[[Tensor], Tensor], share: float
) -> None:
    with pytest.raises(QuadratureError, match="does not decay") as refused:
        gaussian_expectation(f)
    stated = _stated_share(str(refused.value))
    assert _agrees_to_three_digits(stated, share), (stated, share, str(refused.value))


def test_a_gain_refused_for_a_growing_activation_states_the_same_share() -> None:
    def grows(x: Tensor) -> Tensor:
        return torch.exp(x * x / 4)

    with pytest.raises(ValueError, match="has no gain") as refused:
        initconv.gain(grows)
    stated = _stated_share(str(refused.value))
    assert _agrees_to_three_digits(stated, 1 / 48), (stated, str(refused.value))
