r"""The slope moment stays exact when kinks of phi sit on the rounding probe's points: any number
whose autograd slope is one side's (the inner side's as well as the outer), and up to seven whose
autograd slope is neither side's.

``initconv._meanfield.gaussian.relative_expectation`` measures its integrand's rounding on the
probe z = k/16, k = -128..128, by moving every point by a few ulps outward and inward and keeping
the smaller change, and it takes the eighth largest of those changes. Its docstring: a kink on a
probe point "moves f one way only, by its size (each point's change is the smaller of the two
ways), or both ways where autograd's slope at the kink is neither side's (|x - k| at k) ...
the eighth largest change is taken, past up to seven such kinks". A kink whose autograd slope
is the inner side's (towards 0) moves f = phi'^2 only when the point moves outward, so it is no
rounding, as one whose slope is the outer side's is. The module promises its one-dimensional
moments exact to ~1e-12 relative, kinks included.

At q = 1 (sqrt(1) = 1, so the kinks land on the probe's points to the bit; odd sixteenths are
inside the quadrature's first panels, 1/4 wide, and their halves, not on their edges):
- ten kinks at +-1/16, +-3/16, ..., +-19/16 of ramps whose autograd slope at the kink is the inner
  side's: relu(x - c) for c > 0 (relu'(0) = 0, the left side's) and -relu(-c - x) for a kink at
  -c < 0 (slope 0 there, the right side's);
- seven kinks of |x - c| (autograd's slope sign(0) = 0 at c, between the sides' -1 and 1).
In each case phi' is a step function with value n_i between the i-th and (i + 1)-th kink, and with
z ~ N(0, 1)

    E[phi'(z)^2] = sum_i n_i^2 P(z between the i-th and (i + 1)-th kink),

computed with mpmath's normal cdf at 30 digits, independent of the package.
"""

from __future__ import annotations

import itertools

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv._meanfield.gaussian import slope_moment

# Ten odd sixteenths: probe points inside the first panels (1/4 wide) and their halves (1/8).
_OFFSETS = [(2 * j + 1) / 16 for j in range(10)]
# Seven odd sixteenths around 0, for the two-sided kinks: as many as the probe looks past.
_TWO_SIDED = [(2 * j + 1) / 16 for j in range(-3, 4)]


def _inner_sided_above(x: Tensor) -> Tensor:
    return sum((torch.relu(x - c) for c in _OFFSETS), torch.zeros_like(x))


def _inner_sided_below(x: Tensor) -> Tensor:
    return sum((-torch.relu(-c - x) for c in _OFFSETS), torch.zeros_like(x))


def _two_sided(x: Tensor) -> Tensor:
    return sum((torch.abs(x - c) for c in _TWO_SIDED), torch.zeros_like(x))


def _step_moment(kinks: list[float], steps: list[int]) -> tuple[float, float]:
    """E[s(z)^2] for the step function s equal to steps[i] between the i-th and (i + 1)-th of
    the sorted kinks (steps[0] left of all), and the sum of the sizes of the jumps of s^2."""
    with mpmath.workdps(30):
        edges = [-mpmath.inf, *(mpmath.mpf(k) for k in sorted(kinks)), mpmath.inf]
        total = mpmath.mpf(0)
        for i, n in enumerate(steps):
            total += n * n * (mpmath.ncdf(edges[i + 1]) - mpmath.ncdf(edges[i]))
    jumps = sum(abs(b * b - a * a) for a, b in itertools.pairwise(steps))
    return float(total), float(jumps)


_CASES = {
    # phi' counts the ramps whose slope 1 covers x.
    "inner-sided-kinks-above-zero": (_inner_sided_above, _OFFSETS, list(range(11))),
    "inner-sided-kinks-below-zero": (
        _inner_sided_below,
        [-c for c in _OFFSETS],
        list(range(10, -1, -1)),
    ),
    # phi' = (kinks left of x) - (kinks right of x).
    "seven-two-sided-kinks": (_two_sided, _TWO_SIDED, [2 * i - 7 for i in range(8)]),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_the_slope_moment_with_kinks_on_probe_points_is_exact(case: str) -> None:
    phi, kinks, steps = _CASES[case]
    expected, jumps = _step_moment(kinks, steps)
    # The quadrature's error: 1e-12 of E|f| = E f, plus about 1e-12 of each jump of f = phi'^2;
    # each doubled, as a halves' disagreement is an estimate of the error, not a bound.
    tolerance = 2e-12 * expected + 2e-12 * jumps
    assert slope_moment(phi, 1.0) == pytest.approx(expected, abs=tolerance, rel=0)


def test_the_cases_are_step_functions_with_the_stated_slopes() -> None:
    # The closed forms' premise, checked on points between the kinks: phi' is steps[i] there.
    for phi, kinks, steps in _CASES.values():
        edges = [-4.0, *sorted(kinks), 4.0]
        middles = torch.tensor(
            [(a + b) / 2 for a, b in itertools.pairwise(edges)], dtype=torch.float64
        ).requires_grad_(True)
        (slope,) = torch.autograd.grad(phi(middles).sum(), middles)
        assert slope.tolist() == [float(n) for n in steps]
