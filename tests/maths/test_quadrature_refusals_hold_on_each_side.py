"""``gaussian_expectation`` refuses an integrand that does not decay at either end on its own,
and a budget below its first panels names the least budget it takes.

The promises are ``gaussian_expectation``'s docstring (``initconv/_maths/quadrature.py``): it
raises :class:`QuadratureError` "when the integrand does not decay by ``|z| = 12`` (the
expectation may be infinite)", and "when ``max_evaluations`` points do not suffice (the first
panels alone take 1,536)".

The ends: f(z) = exp(z^2 / 2) on z < -11.9 only (0 elsewhere) has f(z) phi(z) = 1 / sqrt(2 pi)
there, so E f = integral over (-inf, -11.9) of 1 / sqrt(2 pi) dz is infinite, although the
integrand is 0 on all of [-11.9, 12]: no finite answer is right, so it must be refused; likewise
its mirror image on z > 11.9. The part that does not decay lies within 0.1 of the cut at each end,
so the check must look at the outermost piece of each end, not a neighbour.

The budget: the first panels take 1,536 points; a budget below that is refused before f is
evaluated, and the refusal names the least budget, which must then be accepted as a budget (f
evaluated at most that often, and any later refusal only for not converging within it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from initconv._maths.quadrature import QuadratureError, gaussian_expectation

FIRST_PANELS = 1536  # the docstring's count of the first panels' points


def _grows_beyond(cut: float, side: int) -> Callable[[Tensor], Tensor]:
    """exp(z^2 / 2) where side * z > cut, else 0: the integrand is 1 / sqrt(2 pi) there."""

    def f(z: Tensor) -> Tensor:
        return torch.where(side * z > cut, torch.exp(z * z / 2), torch.zeros_like(z))

    return f


@pytest.mark.parametrize("side", [-1, 1])
def test_an_integrand_that_does_not_decay_at_one_end_only_is_refused(side: int) -> None:
    with pytest.raises(QuadratureError, match="does not decay"):
        gaussian_expectation(_grows_beyond(11.9, side))


def test_a_budget_below_the_first_panels_names_the_least_budget_and_that_one_is_taken() -> None:
    calls: list[int] = []

    def counted(z: Tensor) -> Tensor:
        calls.append(z.numel())
        return torch.cos(z)

    with pytest.raises(QuadratureError, match="max_evaluations must be at least") as raised:
        gaussian_expectation(counted, max_evaluations=FIRST_PANELS - 1)
    assert calls == []
    found = re.search(r"at least (\S+) ", str(raised.value))
    assert found is not None
    least = found.group(1)
    assert least == str(FIRST_PANELS)

    # The named budget is a budget it takes: no refusal of the budget itself, f evaluated at most
    # that often, and the refusal for not converging within it.
    with pytest.raises(QuadratureError, match=f"within {FIRST_PANELS} evaluations"):
        gaussian_expectation(counted, max_evaluations=int(least))
    assert 0 < sum(calls) <= FIRST_PANELS
    # And a budget that suffices gives E cos(z) = exp(-1/2).
    assert abs(gaussian_expectation(torch.cos) - math.exp(-0.5)) <= 1e-12
