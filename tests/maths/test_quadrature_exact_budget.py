"""``gaussian_expectation`` raises for its budget only when the points it needs exceed it: a budget
of exactly the evaluations an integral takes suffices, and one fewer does not.

The promise is ``gaussian_expectation``'s docstring (``initconv/_maths/quadrature.py``): it raises
:class:`QuadratureError` "when ``max_evaluations`` points do not suffice", and f is evaluated at
most ``max_evaluations`` times. The algorithm is deterministic, so the count N of evaluations it
makes with an ample budget is what it needs: with ``max_evaluations = N`` the points suffice and
it must return the same answer; with N - 1 they cannot, and it must raise for the budget.

The integrand |z - 1/3|^(1/2) has a cusp at a point no panel edge reaches (1/3 is no dyadic
rational), so it takes several rounds of halving. Its expectation is the absolute moment of a
shifted normal, E|z - c|^p = 2^(p/2) Gamma((p + 1) / 2) / sqrt(pi) 1F1(-p/2; 1/2; -c^2/2)
(Winkelbauer, A. (2012), "Moments and absolute moments of the normal distribution"), with mpmath.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
from torch import Tensor

from initconv._maths.quadrature import QuadratureError, gaussian_expectation

C, P = 1 / 3, 0.5


def _exact() -> float:
    with mpmath.workdps(30):
        value = (
            mpmath.mpf(2) ** (P / 2)
            * mpmath.gamma((P + 1) / 2)
            / mpmath.sqrt(mpmath.pi)
            * mpmath.hyp1f1(-P / 2, 0.5, -C * C / 2)
        )
    return float(value)


class _Counted:
    def __init__(self) -> None:
        self.points = 0

    def __call__(self, z: Tensor) -> Tensor:
        self.points += z.numel()
        return (z - C).abs() ** P


@pytest.mark.parametrize("rtol", [1e-6, 1e-8])
def test_a_budget_of_exactly_the_points_needed_suffices_and_one_fewer_does_not(
    rtol: float,
) -> None:
    ample = _Counted()
    answer = gaussian_expectation(ample, rtol=rtol)
    needed = ample.points
    # The integrand is nonnegative, so E|f| = E f: the promised error is rtol times the exact
    # value, which mpmath gives to 1e-30.
    exact = _exact()
    assert abs(answer - exact) <= rtol * exact

    just = _Counted()
    assert gaussian_expectation(just, rtol=rtol, max_evaluations=needed) == answer
    assert just.points == needed

    short = _Counted()
    with pytest.raises(QuadratureError, match=f"within {needed - 1} evaluations"):
        gaussian_expectation(short, rtol=rtol, max_evaluations=needed - 1)
    assert short.points <= needed - 1
