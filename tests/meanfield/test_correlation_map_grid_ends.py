"""correlation_map at the ends of its q grid: fixed points far below it, and the signals that
vanish or explode, whose maps are read at the grid's ends (q = 2^-24 and 2^12).

With a bias, M(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 >= sigma_b^2, so every fixed point is
at least sigma_b^2, however far below the fixed grid [2^-24, 2^12] that is. Where phi is the
line x near 0, M(q) = sigma_w^2 q + sigma_b^2 there, with the one fixed point
q* = sigma_b^2 / (1 - sigma_w^2) and M'(q*) = chi_1 = sigma_w^2 (relu: sigma_w^2 / 2 in place of
sigma_w^2). The CorrelationMap docstring promises that a signal that vanishes (q* = 0) or
grows without bound (q* = inf) has its maps evaluated at q = 2^-24 or 2^12: chi_1 =
sigma_w^2 E[phi'(sqrt(q) z)^2] there, computed here with mpmath.

Tolerances: one-dimensional moments are computed to 1e-12 of their integrand's largest value on
|z| <= 8 (gaussian.relative_expectation), each bound stated where it is used.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from torch import Tensor

from initconv import diagnostics


@pytest.mark.parametrize(
    ("activation", "weight_std", "bias_std", "line_slope"),
    [("relu", 1.0, 1e-6, 0.5), ("linear", 0.5, 1e-20, 0.25)],
)
def test_a_tiny_bias_settles_the_signal_at_its_tiny_fixed_point(
    activation: str, weight_std: float, bias_std: float, line_slope: float
) -> None:
    # M(q) = s q + sigma_b^2 (s = sigma_w^2 E[phi(z)^2]): q* = sigma_b^2 / (1 - s), 2e-12 and
    # 1.3e-40, far below the grid's 2^-24 = 6e-8.
    result = diagnostics.correlation_map(activation, weight_std, bias_std)
    # E[phi(sqrt(q) z)^2] = q E[phi(z)^2] to 1e-12 of its integrand's top 64 q: 1.3e-10
    # relative for relu, 6.4e-11 for linear; q* moves by s / (1 - s) times that.
    assert result.q_star == pytest.approx(bias_std**2 / (1 - line_slope), rel=2e-10, abs=0.0)
    assert result.variance_slope == pytest.approx(line_slope, rel=2e-10, abs=0.0)
    assert result.chi_1 == pytest.approx(line_slope, rel=2e-10, abs=0.0)
    assert result.phase == "ordered"
    assert result.depth_q == pytest.approx(-1 / math.log(line_slope), rel=1e-9, abs=0.0)


def test_a_signal_between_two_fixed_points_below_the_grid_falls_to_the_lower() -> None:
    # phi has slope 1 on |x| < d and 3 beyond: with u = sqrt(q) z and t = d / sqrt(q),
    # M(q) / q = sigma_w^2 f(t) + sigma_b^2 / q, f(t) = E[(phi(sqrt(q) z) / sqrt(q))^2] rising
    # from 1 (t -> inf) to 9 (t -> 0). At sigma_w^2 = 1/2 the map crosses q upward where
    # f(t) = 2: d is chosen to put that unstable fixed point at q = 2^-23, inside the grid's
    # lowest cell (2^-24, 2^-22). Below q = 2^-30, t > 15 and f = 1 to 1e-48, so
    # M(q) = q / 2 + sigma_b^2 there, with the stable fixed point 2 sigma_b^2 = 2^-35. A signal
    # started at 2^-30, between the two, shrinks (M(q) / q = 1/2 + 1/64 < 1) to 2^-35.
    slope_out = 3

    def f(t: mpmath.mpf) -> mpmath.mpf:
        # E[z^2; |z| < t] + E[(b z + (1 - b) t)^2; |z| > t], with the normal's tail integrals
        # int_t^inf n = Q, int_t^inf z n = n(t), int_t^inf z^2 n = t n(t) + Q.
        tail, density = mpmath.erfc(t / mpmath.sqrt(2)) / 2, mpmath.npdf(t)
        b, shift = slope_out, (1 - slope_out) * t
        outer = b * b * (t * density + tail) + 2 * b * shift * density + shift * shift * tail
        return 1 - 2 * tail - 2 * t * density + 2 * outer

    with mpmath.workdps(30):
        crossing = float(mpmath.findroot(lambda t: f(t) - 2, 1.0))
    kink = crossing * 2.0**-11.5

    def phi(x: Tensor) -> Tensor:
        return x + (slope_out - 1) * (torch.relu(x - kink) - torch.relu(-x - kink))

    bias_std = 2.0**-18
    result = diagnostics.correlation_map(phi, math.sqrt(0.5), bias_std, q0=2.0**-30)
    # M = q / 2 + sigma_b^2 to 1e-12 of 64 q: q* within 1.3e-10 / (1 - 1/2) relative.
    assert result.q_star == pytest.approx(2 * bias_std**2, rel=3e-10, abs=0.0)
    assert result.variance_slope == pytest.approx(0.5, rel=3e-10, abs=0.0)
    assert result.chi_1 == pytest.approx(0.5, rel=3e-10, abs=0.0)
    assert result.phase == "ordered"


def test_a_small_signal_without_bias_settles_below_the_grid_at_its_own_fixed_point() -> None:
    # sigmoid at sigma_w = 1e-4, no bias: M(q) = sigma_w^2 E[sigmoid(sqrt(q) z)^2] is about
    # sigma_w^2 / 4 = 2.5e-9 at every small q, below 2^-24, so the fixed point lies below the
    # grid, at q* = M(q*) (once reported as a vanishing signal, q* = 0, though sigmoid(0) = 1/2
    # keeps it from vanishing); chi_1 is read there: sigma_w^2 E[sigmoid'(sqrt(q*) z)^2].
    weight_std = 1e-4
    result = diagnostics.correlation_map("sigmoid", weight_std, 0.0)
    with mpmath.workdps(30):

        def moment(f: object, q: mpmath.mpf) -> mpmath.mpf:
            root = mpmath.sqrt(q)
            return mpmath.quad(
                lambda z: f(root * z) ** 2 * mpmath.npdf(z),  # type: ignore[operator]
                [-mpmath.inf, 0, mpmath.inf],
            )

        def sigmoid(x: mpmath.mpf) -> mpmath.mpf:
            return 1 / (1 + mpmath.exp(-x))

        def slope(x: mpmath.mpf) -> mpmath.mpf:
            return sigmoid(x) * (1 - sigmoid(x))

        q_star = mpmath.findroot(lambda q: weight_std**2 * moment(sigmoid, q) - q, 2.5e-9)
        chi_1 = float(weight_std**2 * moment(slope, q_star))
    # q* is the root of log(M(q) / q), whose moments are exact to 1e-12: q* to ~1e-12 relative.
    assert result.q_star == pytest.approx(float(q_star), rel=1e-10, abs=0.0)
    assert result.chi_1 == pytest.approx(chi_1, rel=1e-10, abs=0.0)
    assert result.phase == "ordered"


def test_an_exploding_signal_has_its_maps_read_at_2_to_the_12() -> None:
    # elu at sigma_w = 2: elu(x) = x for x > 0 and e^x - 1 > -1 below, so M(q) / q -> sigma_w^2 / 2
    # = 2 as q grows, above 1 from the grid's top on: q* = inf, and chi_1 is read at q = 2^12:
    # sigma_w^2 (1/2 + E[e^(2 sqrt(q) z); z < 0]) = sigma_w^2 (1 + erfcx(sqrt(2 q))) / 2, by
    # E[e^(a z); z < 0] = e^(a^2 / 2) Phi(-a).
    weight_std, q = 2.0, 2.0**12
    result = diagnostics.correlation_map("elu", weight_std, 0.0)
    assert result.q_star == math.inf
    chi_1 = weight_std**2 * (1 + float(mpmath.erfc(mpmath.sqrt(2 * q)) * mpmath.exp(2 * q))) / 2
    # elu'^2 <= 1 with E ~ 1/2: the quadrature's 1e-12 of it is 2e-12 relative.
    assert result.chi_1 == pytest.approx(chi_1, rel=1e-10, abs=0.0)
    assert result.phase == "chaotic"
