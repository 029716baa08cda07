r"""Just below the quadrature's grid (q* < 2^-24, a tiny bias), critical()'s point, its gain and its
variance-map slope are those of the exact Gaussian moments, to the precision of float64.

There critical() solves the line from the activation's one-sided Taylor series at 0 (docs/deep.md,
"A tiny bias puts q* near that end ... `critical` solves it from the activation's Taylor series at
0"). The theory here is computed from the activation by a route that shares nothing with the
package: the moments of polynomials in u and |u| in closed form, E|u|^n = q^(n/2) M_n with
M_n = 2^(n/2) Gamma((n+1)/2) / sqrt(pi), u ~ N(0, q), at 50 digits by mpmath. With
G = E[phi'(u)^2], F = E[phi(u)^2] and D = q G - F, the line's point solves D(q*) = sigma_b^2 G(q*)
with sigma_w = 1 / sqrt(G(q*)) (Poole et al. 2016; Schoenholz et al. 2017), and the variance map's
slope there is M'(q*) = sigma_w^2 F'(q*) = F'(q*) / G(q*).

- tanh: its Taylor coefficients from tanh' = 1 - tanh^2 in exact fractions, to x^21; tanh^2 and
  sech^4 = (1 - tanh^2)^2 as polynomials, their moments by E[u^2n] = (2n - 1)!! q^n. Cut at
  q^10, the series is off by about q^11 (21)!! (2/pi)^22, below 1e-70 relative at q* = 4e-8.
  At bias_std 1e-11, q* = 4.2e-8 lies just below 2^-24 = 6e-8, where the series' terms of
  relative order q (D = 4/3 q^3 - 32/3 q^4 + ..., G = 1 - 2 q + ...) move q* by 2 q* = 8e-8 and
  M'(q*) - 1 = -2 q* + ... is -8e-8: both are resolved.
- phi(x) = x - x|x| / 10, a kink in the second derivative: G = 1 - 4c sqrt(2q/pi) + 4c^2 q and
  D = c^2 q^2 exactly (c = 1/10), F' = 1 - 6c sqrt(2q/pi) + 6c^2 q. Its deficit is a single term.
- phi(x) = x + 0.3 x^2 - 0.04 x^3: by the heat equation F' - G = E[phi phi''] =
  -0.06 q + 0.0288 q^2 < 0 near 0, so its end is stable (though G - G(0) = 0.12 q + ... grows),
  and critical() must return the point, not refuse it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

import initconv

# A term c |x|^p sign(x)^s of an activation, s in {0, 1}.
Term = tuple[Fraction, int, int]


def _abs_moment(n: int) -> Any:
    """E|z|^n, z ~ N(0, 1)."""
    return (
        mpmath.mpf(2) ** (mpmath.mpf(n) / 2)
        * mpmath.gamma(mpmath.mpf(n + 1) / 2)
        / mpmath.sqrt(mpmath.pi)
    )


def _slope(terms: list[Term]) -> list[Term]:
    # d/dx |x|^p sign^s = p |x|^(p-1) sign^(s+1)
    return [(c * p, p - 1, (s + 1) % 2) for c, p, s in terms if p > 0]


def _mean_square(terms: list[Term], q: Any, derivative: bool = False) -> Any:
    """E[(sum of terms)(u)^2], u ~ N(0, q), or its derivative in q: odd products vanish, even ones
    are |u| moments, c q^(n/2) M_n."""
    total = []
    for c1, p1, s1 in terms:
        for c2, p2, s2 in terms:
            if (s1 + s2) % 2:
                continue
            half = mpmath.mpf(p1 + p2) / 2
            scale = _mpf(c1) * _mpf(c2) * _abs_moment(p1 + p2)
            total.append(scale * half * q ** (half - 1) if derivative else scale * q**half)
    return mpmath.fsum(total)


def _point(
    moments: Callable[[Any], tuple[Any, Any, Any]], bias_std: float, guess: float
) -> tuple[float, float, float]:
    """(q*, sigma_w, M'(q*)) from (F, F', G) as functions of q: D = q G - F = sigma_b^2 G."""
    with mpmath.workdps(50):
        bias2 = mpmath.mpf(bias_std) ** 2

        def gap(log_q: Any) -> Any:
            q = mpmath.exp(log_q)
            f, _, g = moments(q)
            return mpmath.log(q * g - f) - mpmath.log(bias2 * g)

        q = mpmath.exp(mpmath.findroot(gap, mpmath.log(guess)))
        _, f_slope, g = moments(q)
        return float(q), float(1 / mpmath.sqrt(g)), float(f_slope / g)


def _polynomial_moments(terms: list[Term]) -> Callable[[Any], tuple[Any, Any, Any]]:
    def moments(q: Any) -> tuple[Any, Any, Any]:
        f_slope = _mean_square(terms, q, derivative=True)
        return _mean_square(terms, q), f_slope, _mean_square(_slope(terms), q)

    return moments


def _tanh_moments() -> Callable[[Any], tuple[Any, Any, Any]]:
    order = 21
    tanh = [Fraction(0)] * (order + 1)
    tanh[1] = Fraction(1)
    for k in range(1, order):  # (k + 1) t_(k+1) = [k = 0] - sum_(i+j=k) t_i t_j
        tanh[k + 1] = -sum((tanh[i] * tanh[k - i] for i in range(k + 1)), Fraction(0)) / (k + 1)

    def product(a: list[Fraction], b: list[Fraction]) -> list[Fraction]:
        return [sum((a[i] * b[k - i] for i in range(k + 1)), Fraction(0)) for k in range(order + 1)]

    squared = product(tanh, tanh)
    sech2 = [Fraction(k == 0) - c for k, c in enumerate(squared)]
    sech4 = product(sech2, sech2)
    # E[u^2n] = (2n - 1)!! q^n: the coefficients of q^n in F and G.
    double_factorial = [math.prod(range(2 * n - 1, 0, -2)) for n in range(order // 2 + 1)]
    f = [squared[2 * n] * double_factorial[n] for n in range(order // 2 + 1)]
    g = [sech4[2 * n] * double_factorial[n] for n in range(order // 2 + 1)]

    def value(c: list[Fraction], q: Any, derivative: bool = False) -> Any:
        if derivative:
            return mpmath.fsum(n * _mpf(c[n]) * q ** (n - 1) for n in range(1, len(c)))
        return mpmath.fsum(_mpf(c[n]) * q**n for n in range(len(c)))

    def moments(q: Any) -> tuple[Any, Any, Any]:
        return value(f, q), value(f, q, derivative=True), value(g, q)

    return moments


def _mpf(c: Fraction) -> Any:
    return mpmath.mpf(c.numerator) / c.denominator


def _check(point: initconv.CriticalPoint, expected: tuple[float, float, float]) -> None:
    q_star, weight_std, variance_slope = expected
    # The package's series coefficients come from autograd (~1e-16 relative each) and its root is
    # solved in log q to ~1e-15, where the terms (lead x ln q, ~50) round at ~1e-14: q* and sigma_w
    # are good to ~1e-14, M'(q*) = 1 + (its exact excess) to float64's 1.1e-16 at 1. The margins
    # below are 100-fold.
    assert point.q_star == pytest.approx(q_star, rel=1e-12, abs=0)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-12, abs=0)
    assert point.variance_slope == pytest.approx(variance_slope, rel=0, abs=1e-14)


def test_tanh_just_below_the_grid_has_the_point_of_its_exact_series() -> None:
    bias_std = 1e-11
    expected = _point(_tanh_moments(), bias_std, (0.75 * bias_std**2) ** (1 / 3))
    assert expected[0] < 2.0**-24
    _check(initconv.critical("tanh", bias_std), expected)


_C = Fraction(1, 10)


def quadratic_kink(x: Tensor) -> Tensor:
    return x - float(_C) * x * x.abs()


def test_a_kink_in_the_second_derivative_has_the_point_of_its_exact_moments() -> None:
    bias_std = 3e-9
    terms: list[Term] = [(Fraction(1), 1, 1), (-_C, 2, 1)]  # x - c x|x| = x - c |x|^2 sign(x)
    expected = _point(_polynomial_moments(terms), bias_std, bias_std / float(_C))
    assert expected[0] < 2.0**-24
    _check(initconv.critical(quadratic_kink, bias_std), expected)


def cubic(x: Tensor) -> Tensor:
    return x + 0.3 * x**2 - 0.04 * x**3


@pytest.mark.slow
def test_an_end_whose_slope_moment_grows_but_whose_map_contracts_is_stable() -> None:
    bias_std = 1e-9
    terms: list[Term] = [(Fraction(1), 1, 1), (Fraction(3, 10), 2, 0), (Fraction(-1, 25), 3, 1)]
    expected = _point(_polynomial_moments(terms), bias_std, bias_std / 0.3)
    assert expected[0] < 2.0**-24
    assert expected[2] < 1
    _check(initconv.critical(cubic, bias_std), expected)


def test_the_exact_moments_here_are_those_of_the_activations() -> None:
    # The closed forms describe the torch functions: E[phi^2] at q = 1/4 by mpmath's quadrature.
    for phi, terms in (
        (quadratic_kink, [(Fraction(1), 1, 1), (-_C, 2, 1)]),
        (cubic, [(Fraction(1), 1, 1), (Fraction(3, 10), 2, 0), (Fraction(-1, 25), 3, 1)]),
    ):

        def f(u: Any, phi: Callable[[Tensor], Tensor] = phi) -> Any:
            x = torch.tensor([float(u)], dtype=torch.float64)
            return float(phi(x)[0]) ** 2 * mpmath.npdf(u, 0, 0.5)

        quadrature = mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])
        # float64 evaluation of phi: ~1e-16 relative per point.
        assert float(quadrature) == pytest.approx(
            float(_mean_square(terms, mpmath.mpf(1) / 4)), rel=1e-12, abs=0
        )
