"""What :func:`gaussian_expectation` promises, checked against expectations known in closed form.

Its docstring: E[f(z)], z ~ N(0, 1), within ``max(tol, rtol * E|f(z)|)``; a
:class:`QuadratureError` when f is not finite at a node (naming the point), when the integrand does
not decay by ``|z| = 12``, or when ``max_evaluations`` points do not suffice; and the module's
promises that f is evaluated at most ``max_evaluations`` times, that "the size of f does not
matter", and that a jump is told from a singularity.

The references come from the theory, not from the code: the absolute moments of a shifted normal,
E|z - c|^p = 2^(p/2) Gamma((p + 1) / 2) / sqrt(pi) 1F1(-p/2; 1/2; -c^2/2) (Winkelbauer, A.
(2012), "Moments and absolute moments of the normal distribution", with mu = -c, sigma = 1);
P(a < z < b) = Phi(b) - Phi(a); E exp(z^2 / 4) = 1 / sqrt(1 - 1/2) = sqrt(2), while
E exp(z^2 / 2) = integral of 1 / sqrt(2 pi) over the line is infinite; E 1/|z| is infinite (the
density is positive at 0 and 1/|z| is not integrable there).

Scaling f by a power of two scales every value, sum and tolerance the algorithm forms by that
power of two exactly (no rounding changes, far from overflow and underflow), and every decision it
takes compares two such quantities, so the answer for 2^k f is 2^k times the answer for f, bit for
bit, and any error is raised for both or for neither.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv._maths.quadrature import QuadratureError, gaussian_expectation

Integrand = Callable[[Tensor], Tensor]


def _absolute_moment(c: float, p: float) -> float:
    """E|z - c|^p for z ~ N(0, 1), in closed form (Winkelbauer 2012)."""
    with mpmath.workdps(30):
        value = (
            mpmath.mpf(2) ** (p / 2)
            * mpmath.gamma((p + 1) / 2)
            / mpmath.sqrt(mpmath.pi)
            * mpmath.hyp1f1(-p / 2, 0.5, -c * c / 2)
        )
    return float(value)


# |z - c|^p with 0 < p < 1 is continuous with an unbounded slope at c, the roughest kink there is;
# p = 1 is an ordinary kink. c = 0 sits on a panel edge, 1/3 and -1.1 do not (no dyadic rational
# equals either). The tolerances span the range where the first panels' halves already nearly
# agree on the cusp, so a panel is accepted as soon as its local share of the tolerance allows.
@pytest.mark.parametrize("rtol", [1e-4, 10**-4.5, 1e-5, 10**-5.5])
@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("c", [0.0, 1 / 3, -1.1])
def test_a_cusp_is_integrated_within_the_promised_relative_tolerance(
    c: float, p: float, rtol: float
) -> None:
    exact = _absolute_moment(c, p)
    got = gaussian_expectation(lambda z: (z - c).abs() ** p, rtol=rtol)
    # The promise itself: |error| <= rtol * E|f|, and f >= 0 so E|f| = E f. The reference is exact
    # to float64 rounding (1e-16 relative), far below every rtol here.
    assert abs(got - exact) <= rtol * exact


def test_a_polynomial_and_an_exponential_are_integrated_within_the_default_tolerance() -> None:
    # E z^4 = 3, E (z^3 - z) = 0 with E|z^3 - z| <= E|z|^3 + E|z| < 3, E exp(z / 2) = exp(1/8).
    assert abs(gaussian_expectation(lambda z: z**4) - 3.0) <= 1e-12 * 3.0
    assert abs(gaussian_expectation(lambda z: z**3 - z)) <= 1e-12 * 3.0
    expected = math.exp(1 / 8)
    assert abs(gaussian_expectation(lambda z: torch.exp(z / 2)) - expected) <= 1e-12 * expected


def test_a_decaying_growth_is_integrated_and_a_non_decaying_one_is_refused() -> None:
    # exp(z^2 / 4) phi(z) = exp(-z^2 / 4) / sqrt(2 pi) is below 1e-16 beyond |z| = 12: computable.
    got = gaussian_expectation(lambda z: torch.exp(z * z / 4))
    assert abs(got - math.sqrt(2)) <= 1e-12 * math.sqrt(2)
    # exp(z^2 / 2) phi(z) = 1 / sqrt(2 pi) everywhere: the expectation is infinite.
    with pytest.raises(QuadratureError, match="does not decay"):
        gaussian_expectation(lambda z: torch.exp(z * z / 2))


def _counted(f: Integrand) -> tuple[Integrand, list[int]]:
    calls = [0]

    def counted(z: Tensor) -> Tensor:
        calls[0] += z.numel()
        return f(z)

    return counted, calls


_ROUGH: dict[str, tuple[Integrand, float]] = {
    # A jump at a non-dyadic point is halved down to the narrowest panel, 32 points a round.
    "step at 1/3": (lambda z: (z > 1 / 3).to(z.dtype), 1e-12),
    # A cusp with a tolerance tight enough to need many rounds.
    "cusp at 1/3": (lambda z: (z - 1 / 3).abs() ** 0.1, 1e-12),
}


# Below and from 96 * 16 (what the first panels take) up; the budget suffices or raises.
@pytest.mark.parametrize("budget", [100, 96 * 16, 3 * 96 * 16, 3 * 96 * 16 + 100, 2**13])
@pytest.mark.parametrize("name", sorted(_ROUGH))
def test_f_is_evaluated_at_most_max_evaluations_times(name: str, budget: int) -> None:
    f, rtol = _ROUGH[name]
    counted, calls = _counted(f)
    message = ""
    try:
        gaussian_expectation(counted, rtol=rtol, max_evaluations=budget)
    except QuadratureError as error:
        message = str(error)
    assert calls[0] <= budget
    # When it raises, it is for the budget, not anything else.
    assert message == "" or "evaluations" in message


def _infinite_in_slivers(left: bool, right: bool) -> Integrand:
    # -inf on z < -11.999 and +inf on z > 11.999: each sliver is 1e-3 wide, narrower than the
    # gap between a panel's end and its next node, so it holds a single node (or none).
    def f(z: Tensor) -> Tensor:
        out = torch.ones_like(z)
        if left:
            out = torch.where(z < -11.999, -math.inf, out)
        if right:
            out = torch.where(z > 11.999, math.inf, out)
        return out

    return f


@pytest.mark.parametrize(("left", "right"), [(True, False), (False, True), (True, True)])
def test_a_value_that_is_not_finite_is_refused_and_located(left: bool, right: bool) -> None:
    f = _infinite_in_slivers(left, right)
    with pytest.raises(QuadratureError, match=r"f is \S+ at z = ") as raised:
        gaussian_expectation(f)
    # The message names a value and a point: f must take that value at that point.
    found = re.search(r"f is (\S+) at z = (\S+)", str(raised.value))
    assert found is not None, str(raised.value)
    value, where = float(found.group(1)), float(found.group(2))
    assert not math.isfinite(value)
    at = float(f(torch.tensor([where], dtype=torch.float64))[0])
    assert at == value


_SCALES = [-40, 0, 40]


@pytest.mark.parametrize("k", _SCALES)
def test_scaling_f_by_a_power_of_two_scales_the_answer_exactly_and_never_makes_a_jump_singular(
    k: int,
) -> None:
    # An interval indicator: two jumps, bounded, piecewise constant, so it must be integrated.
    # rtol = 1e-15 (a legitimate request at float64 precision) sends both jumps to the narrowest
    # panels, where what they leave unresolved is many tolerances: the singularity check must
    # then see that f stays within its size on the first panels, whatever that size is.
    a, b, rtol = 1 / 3, 0.45, 1e-15

    def f(z: Tensor) -> Tensor:
        return ((z > a) & (z < b)).to(z.dtype)

    base = gaussian_expectation(f, rtol=rtol)
    scaled = gaussian_expectation(lambda z: f(z) * 2.0**k, rtol=rtol)
    assert scaled == base * 2.0**k
    # Accuracy: the tolerance, or what the module allows a jump to leave behind in a panel
    # narrower than 1e-12 (at most its width times the jump times the density there), per jump.
    exact = float(mpmath.ncdf(b) - mpmath.ncdf(a))
    jumps = 1e-12 * (math.exp(-(a**2) / 2) + math.exp(-(b**2) / 2)) / math.sqrt(2 * math.pi)
    assert abs(base - exact) <= max(rtol * exact, jumps)


@pytest.mark.parametrize("k", _SCALES)
def test_a_non_integrable_singularity_is_refused_at_every_scale(k: int) -> None:
    # E 1/|z| is infinite: 1/|z| phi(z) ~ phi(0) / |z| near 0.
    with pytest.raises(QuadratureError, match="singular"):
        gaussian_expectation(lambda z: 2.0**k / z.abs())
