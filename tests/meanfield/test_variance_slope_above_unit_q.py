r"""The variance map's slope M'(q*) and depth scale xi_q at a fixed point above q = 1, against scipy.

correlation_map reports M'(q*) = sigma_w^2 d/dq E[phi(sqrt(q) z)^2] and xi_q = -1 / ln |M'(q*)|
(Schoenholz et al. 2017). The derivative has two forms: differentiating under the expectation,
E[phi(u) phi'(u) z] / sqrt(q), and differentiating the density of u = sqrt(q) z in q,
E[(z^2 - 1) phi(u)^2] / (2q); the package uses the second above q = 1
(initconv._meanfield.gaussian.second_moment_slope). The reference here takes the first, with
phi' written out by hand, and q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2 by scipy's
brentq, every expectation by scipy's adaptive quad to 1e-14: an odd activation (tanh) and one
that is not (sigmoid, phi(0) = 1/2), each with a bias that puts q* above 1 (2.2 and 6.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from scipy import integrate, optimize

from initconv import diagnostics

_Real = Callable[[float], float]


def _tanh_slope(x: float) -> float:
    return 1 / math.cosh(x) ** 2


def _sigmoid(x: float) -> float:
    return 0.5 * (1 + math.tanh(x / 2))


def _sigmoid_slope(x: float) -> float:
    return _sigmoid(x) * _sigmoid(-x)


def _gaussian(f: _Real) -> float:
    def weighted(z: float) -> float:
        return f(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    value, _ = integrate.quad(
        weighted, -40, 40, points=[0.0], epsabs=1e-14, epsrel=1e-14, limit=200
    )
    return float(value)


def _reference(phi: _Real, slope: _Real, sigma_w: float, sigma_b: float) -> tuple[float, float]:
    """(q*, M'(q*)), M' by the first form."""
    w2, b2 = sigma_w**2, sigma_b**2

    def gap(q: float) -> float:
        root = math.sqrt(q)
        return w2 * _gaussian(lambda z: phi(root * z) ** 2) + b2 - q

    # M(q) lies in [b2, w2 + b2] (phi^2 <= 1), so q* does too.
    q = float(optimize.brentq(gap, b2, w2 + b2, xtol=1e-15, rtol=1e-15))
    root = math.sqrt(q)
    return q, w2 * _gaussian(lambda z: phi(root * z) * slope(root * z) * z) / root


@pytest.mark.parametrize(
    ("activation", "phi", "slope", "sigma_w", "sigma_b"),
    [
        ("tanh", math.tanh, _tanh_slope, 1.5, 1.0),
        ("sigmoid", _sigmoid, _sigmoid_slope, 4.0, 0.5),
    ],
    ids=["tanh", "sigmoid"],
)
def test_the_variance_slope_above_q_1_is_the_derivative_of_the_second_moment(
    activation: str, phi: _Real, slope: _Real, sigma_w: float, sigma_b: float
) -> None:
    q_star, variance_slope = _reference(phi, slope, sigma_w, sigma_b)
    assert q_star > 1
    result = diagnostics.correlation_map(activation, sigma_w, sigma_b)
    # phi^2 <= 1: the one-dimensional moments are exact to 1e-12 of that, so M is off by at most
    # 1e-12 sigma_w^2 (1.6e-11) and q* by that over 1 - M'(q*) (> 0.8): 2e-11 absolute; the
    # reference's quad adds 1e-14.
    assert result.q_star == pytest.approx(q_star, rel=1e-10)
    # (z^2 - 1) phi^2 is at most 63 on |z| <= 8: 1e-12 of it times sigma_w^2 / (2 q*) is under
    # 1e-10 (3.2e-11 for tanh, 8.2e-11 for sigmoid); q*'s 2e-11 moves M' by 2e-11 times
    # M''(q*), a further 2e-12 at most (|M''| < 0.1 here: -0.093 and -0.020).
    assert result.variance_slope == pytest.approx(variance_slope, abs=1e-10)
    # d(-1 / ln s) / ds = 1 / (s ln(s)^2): 1e-10 of M' is 4e-10 of xi_q relative at s = 0.118.
    assert result.depth_q == pytest.approx(-1 / math.log(abs(variance_slope)), rel=1e-9)
