"""correlation_map's q_star is the fixed point a signal of second moment q0 settles at (the
CorrelationMap docstring), however near q0 it starts and however near each other two fixed points
lie, as long as they are more than two octaves apart.

Theory, derived here. The variance map M(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 (Poole et
al. 2016; Schoenholz et al. 2017) carries q0 monotonically to the next fixed point in the
direction it moves: up where M(q0) > q0, down where M(q0) < q0. Fixed points are looked for every
two octaves (q = 4^k, the grid initconv.critical also searches: "every 2 octaves"), so two fixed
points more than a factor 4 apart always have a grid point between them and are told apart.

- relu with a bias: M(q) = sigma_w^2 q / 2 + sigma_b^2, one stable fixed point
  q* = sigma_b^2 / (1 - sigma_w^2 / 2). A signal started a hair (1e-10 relative) above or below
  it is at it already, and settles there.
- phi(x) = 3x - 10 tanh(x / 5), slope 3 - 2 sech^2(x / 5): 1 near 0, 3 far out. With
  sigma_w^2 = sigma_b^2 = 1/2, M(q) / q = E[phi^2] / (2q) + 1 / (2q) is above 1 for small q (the
  bias), below it in between (slope 1: 1/2 + 1/(2q)) and above it again for large q (slope 3:
  9/2): a stable fixed point r1 and an unstable one r2 above it. Computed below by scipy's
  quadrature and root finder: r1 = 2^0.31, r2 = 2^2.60, a factor 4.9 apart, inside one 3-octave
  cell (2^0, 2^3). A signal below r2 settles at r1, from below (q0 = 1) as from above (q0 = 4).
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, optimize
from torch import Tensor

from initconv import diagnostics


@pytest.mark.parametrize("offset", [1e-10, 5e-10, -1e-10, -5e-10, 1e-3, -1e-3])
def test_a_signal_started_beside_a_stable_fixed_point_settles_at_it(offset: float) -> None:
    weight_std, bias_std = 1.2, 0.1
    q_star = bias_std**2 / (1 - weight_std**2 / 2)
    result = diagnostics.correlation_map("relu", weight_std, bias_std, q0=q_star * (1 + offset))
    # E[relu(sqrt(q) z)^2] = q / 2 to the quadrature's 1e-12 relative; the root of log(M(q) / q),
    # whose slope in log q is M'(q*) - 1 = -0.28 there, moves by 1e-12 / 0.28 = 4e-12 relative.
    assert result.q_star == pytest.approx(q_star, rel=1e-10, abs=0.0)
    assert result.phase == "ordered"


_WEIGHT_VAR = _BIAS_VAR = 0.5


def _phi(x: Tensor) -> Tensor:
    return 3 * x - 10 * torch.tanh(x / 5)


def _log_excess(q: float) -> float:
    """log(M(q) / q) for _phi at sigma_w^2 = sigma_b^2 = 1/2, E[phi(sqrt(q) z)^2] by scipy's
    adaptive quadrature over z >= 0 (the integrand is even), split where tanh(sqrt(q) z / 5)
    turns (z = 5 / sqrt(q)) and cut at z = 40 (the density is e^-800 there)."""
    root = math.sqrt(q)

    def integrand(z: float) -> float:
        phi = 3 * root * z - 10 * math.tanh(root * z / 5)
        return phi * phi * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    turn = min(5 / root, 20.0)
    moment = sum(
        integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0]
        for lo, hi in [(0.0, turn), (turn, 40.0)]
    )
    return math.log((_WEIGHT_VAR * 2 * moment + _BIAS_VAR) / q)


@pytest.mark.parametrize("q0", [1.0, 4.0])
def test_a_signal_settles_at_the_stable_one_of_two_fixed_points_two_octaves_apart(
    q0: float,
) -> None:
    # The two fixed points, bracketed by hand (signs checked by brentq) and solved to 1e-15.
    stable = optimize.brentq(_log_excess, 1.05, 1.5, xtol=1e-15, rtol=1e-15)
    unstable = optimize.brentq(_log_excess, 5.0, 7.5, xtol=1e-15, rtol=1e-15)
    # More than two octaves apart, with the grid point 4 between them, yet within one 3-octave
    # cell (1, 8): a search every three octaves would see M(q) > q at both ends and miss both.
    assert unstable > 4 * stable
    assert 1.0 < stable < 4.0 < unstable < 8.0
    # q0 = 1 lies below r1 (the signal grows to it), q0 = 4 between r1 and r2 (it shrinks to it).
    assert (_log_excess(q0) > 0) == (q0 < stable)
    result = diagnostics.correlation_map(_phi, math.sqrt(_WEIGHT_VAR), math.sqrt(_BIAS_VAR), q0=q0)
    # The package's E[phi^2] is within 1e-12 relative of its integrand's size (phi^2 is about q
    # here), and log(M(q) / q) has slope M'(r1) - 1 = -0.31 in log q at r1 (xi_q = 2.7): the root
    # moves by about 3e-12 relative, scipy's by less.
    assert result.q_star == pytest.approx(stable, rel=1e-10, abs=0.0)
    assert result.phase == "ordered"
