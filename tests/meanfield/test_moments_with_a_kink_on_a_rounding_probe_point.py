r"""Gaussian moments stay exact when an activation's kink sits on a point the rounding probe uses.

``initconv._meanfield.gaussian.relative_expectation`` measures an integrand's own rounding by
comparing f(z) with f(z (1 + 4 eps)) at z = k/16 on [-8, 8], and asks the quadrature for no more
than that precision. The module promises its one-dimensional moments exact to ~1e-12 relative,
kinks included. Here phi has one kink, at u = sqrt(q) k/16 for q a power of 4 (so sqrt(q) and the
kink's place are exact and the kink lands on the probe point z = k/16 itself), with k not a
multiple of 4 (a probe point inside one of the quadrature's first panels, which are 1/4 wide,
not on their edges). Autograd's slope at a kink is one side's; in the cases held here it is the
side the probe's nudge moves to (away from 0), so the nudge sees no change at the kink, as at
every other point.

Closed forms (z ~ N(0, 1), a = k/16, Phi the normal cdf, n its density):
- E[phi'(sqrt(q) z)^2] for -relu(c - x) (slope 1 left of c, 0 right) is P(z < a) = Phi(a); for
  relu(x - c) it is P(z > a) = Phi(-a).
- For phi(x) = x + relu(x - c) (slope 1 left of c, 2 right), E[phi(u)^2] has q-derivative
  E[phi(u) phi'(u) z] / sqrt(q) = E[z^2; z < a] + 4 E[z^2; z > a] - 2 a E[z; z > a]
  = 1 + 3 Phi(-a) + a n(a), with E[z^2; z > a] = a n(a) + Phi(-a) and E[z; z > a] = n(a).

The mirror cases, where autograd's value at the kink is the inner side's (relu(x - c) with
c > 0), and kinks where it is neither side's, are held in
test_slope_moment_past_inner_sided_and_two_sided_kinks.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from initconv._meanfield.gaussian import second_moment_slope, slope_moment

# q = 4^j: sqrt(q) = 2^j exactly, so sqrt(q) * k / 16 is the kink's place to the bit.
_ROOTS = [0.5, 1.0, 2.0]


def _upper_tail(a: float) -> float:
    return 0.5 * math.erfc(a / math.sqrt(2))


def _density(a: float) -> float:
    return math.exp(-a * a / 2) / math.sqrt(2 * math.pi)


def _shifted_ramp(k: int, root: float) -> tuple[Callable[[Tensor], Tensor], float]:
    """The ramp with its kink at root * k / 16 whose autograd slope there is the outer side's,
    and E[phi'^2] at q = root^2."""
    kink = root * k / 16
    if k > 0:
        # -relu(c - x): autograd's slope at c is relu'(0) = 0, the right (outer) side's.
        return (lambda x: -torch.relu(kink - x)), 1 - _upper_tail(k / 16)
    # relu(x - c), c < 0: autograd's slope at c is 0, the left (outer) side's.
    return (lambda x: torch.relu(x - kink)), _upper_tail(k / 16)


@pytest.mark.parametrize("root", _ROOTS)
@pytest.mark.parametrize("k", [5, 17, -7, -17])
def test_the_slope_moment_of_a_ramp_kinked_on_a_probe_point_is_exact(k: int, root: float) -> None:
    phi, expected = _shifted_ramp(k, root)
    # phi'^2 is 0 or 1, so E|f| = E f: the quadrature's relative tolerance 1e-12 of it, doubled
    # as its error estimate (two halves' disagreement) is not a bound; erfc adds ~1e-16.
    assert slope_moment(phi, root * root) == pytest.approx(expected, rel=2e-12, abs=0)


@pytest.mark.parametrize("q", [1.5625, 2.0])
def test_the_variance_slope_just_above_unit_q_with_a_kink_on_a_probe_point_is_exact(
    q: float,
) -> None:
    # The kink at sqrt(q) 17/16, computed as the quadrature computes sqrt(q) z at z = 17/16.
    root = math.sqrt(q)
    a = 17 / 16
    kink = root * a

    def phi(x: Tensor) -> Tensor:
        return x + torch.relu(x - kink)

    expected = 1 + 3 * _upper_tail(a) + a * _density(a)
    # Either form of the derivative has an integrand bounded by (z^2 + 1) phi^2 / (2q) or
    # |phi phi' z| / sqrt(q), with phi^2 <= 4 q z^2: E|f| is at most 8 (2q E[z^4 + z^2] / q) and
    # the quadrature's 1e-12 of it, doubled as for the slope moment, is 1.6e-11 absolute.
    assert second_moment_slope(phi, q) == pytest.approx(expected, abs=1.6e-11, rel=0)
