r"""The slope moment stays exact however many kinks of phi sit on the rounding probe's points, as
long as autograd's slope at each is one side's.

``initconv._meanfield.gaussian.relative_expectation`` measures its integrand's rounding on the
probe z = k/16, k = -128..128, by moving every point by a few ulps both ways and keeping the
smaller change: a kink whose autograd slope is one side's moves f = phi'^2 only one way, so it
counts as no rounding at all (the docstring: "it moves f one way only ... each point's change is
the smaller of the two ways"). Only two-sided kinks use up the seven the probe looks past. The
module promises its one-dimensional moments exact to ~1e-12 relative, kinks included.

Here phi is a staircase of ten ramps whose kinks are the probe points +-1/16, +-3/16, ..., +-19/16
at q = 1 (sqrt(1) = 1, so the kinks land on the probe's points to the bit; odd sixteenths are
inside the quadrature's first panels and their halves, not on their edges):
- kinks below 0: relu(x - c), autograd's slope at c is relu'(0) = 0, the left (outer) side's;
- kinks above 0: -relu(c - x), autograd's slope at c is the right (outer) side's.
So phi' is the count of ramps whose slope 1 covers x, a step function, and with z ~ N(0, 1)

    E[phi'(z)^2] = sum_n n^2 P(z between the n-th and (n + 1)-th kink),

computed here with mpmath's normal cdf at 30 digits, independent of the package.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv._meanfield.gaussian import slope_moment

# Ten odd sixteenths: probe points inside the first panels (1/4 wide) and their halves (1/8).
_OFFSETS = [(2 * j + 1) / 16 for j in range(10)]


def _staircase_below(x: Tensor) -> Tensor:
    return sum((torch.relu(x + c) for c in _OFFSETS), torch.zeros_like(x))


def _staircase_above(x: Tensor) -> Tensor:
    return sum((-torch.relu(c - x) for c in _OFFSETS), torch.zeros_like(x))


def _step_moment(kinks: list[float], count_left_of: bool) -> float:
    """E[n(z)^2] for n(z) the number of kinks left of z (or right of it)."""
    with mpmath.workdps(30):
        edges = [-mpmath.inf, *(mpmath.mpf(k) for k in sorted(kinks)), mpmath.inf]
        total = mpmath.mpf(0)
        for i in range(len(edges) - 1):
            n = i if count_left_of else len(kinks) - i
            total += n * n * (mpmath.ncdf(edges[i + 1]) - mpmath.ncdf(edges[i]))
        return float(total)


@pytest.mark.parametrize(
    ("phi", "expected"),
    [
        (_staircase_below, _step_moment([-c for c in _OFFSETS], count_left_of=True)),
        (_staircase_above, _step_moment(_OFFSETS, count_left_of=False)),
    ],
    ids=["kinks-below-zero", "kinks-above-zero"],
)
def test_the_slope_moment_of_a_staircase_kinked_on_ten_probe_points_is_exact(
    phi: Callable[[Tensor], Tensor], expected: float
) -> None:
    # The quadrature's error: 1e-12 of E|f| = E f (65.5), plus about 1e-12 of each jump of f,
    # whose sizes sum to f's range, 10^2 = 100; each doubled, as a halves' disagreement is an
    # estimate, not a bound: 2e-12 * 65.5 + 2e-12 * 100 = 3.3e-10, 5e-12 of the value.
    assert slope_moment(phi, 1.0) == pytest.approx(expected, rel=5e-12, abs=0)
