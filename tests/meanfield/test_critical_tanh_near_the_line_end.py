r"""tanh's critical line near its end, on both sides of the quadrature's first q, 2^-24.

Two promises of ``initconv.critical`` (its docstring; docs/deep.md, "The critical line"):

- Below the grid (a tiny bias: q* < 2^-24) the point is solved from the Taylor series at 0, and
  what it reports is that point's: the gain, q* and the variance map's slope M'(q*) there, which
  is below 1 (the point counts only where it is stable) by O(q*), an amount that float64 still
  resolves next to 1 for q* ~ 1e-9.
- The series is used only below the grid. A point on the grid (2^-24 <= q* < 2^-22 here) is
  solved by quadrature alone, so an activation whose Taylor series autograd cannot take (a
  custom function whose backward autograd cannot differentiate again, a fused kernel's, say)
  still has its point there; the refusals for a series that cannot be taken or does not match
  belong to a point below the grid only (the decision is where the variance map crosses q:
  below the grid's first point only if M(q) < q there).

Theory, derived here, sharing nothing with the package. tanh x = sum_n T_n x^(2n-1) with
T_n = 2^(2n) (2^(2n) - 1) B_2n / (2n)! (Bernoulli numbers); tanh^2 = sum c_m x^2m and
sech^4 = (1 - tanh^2)^2 = sum s_m x^2m follow by multiplying series. With u ~ N(0, q),
E[u^2m] = (2m - 1)!! q^m, so

    F(q) = E[tanh(u)^2] = sum c_m (2m - 1)!! q^m,   G(q) = E[tanh'(u)^2] = sum s_m (2m - 1)!! q^m,

and the line (Poole et al. 2016; Schoenholz et al. 2017) sigma_w^2 = 1 / G(q*),
q* = sigma_w^2 F(q*) + sigma_b^2 is D(q*) = sigma_b^2 G(q*) with D = q G - F = 4/3 q^3 + ...
(its terms in q and q^2 cancel exactly). The variance map at that sigma_w is
M(q) = sigma_w^2 F(q) + sigma_b^2, so M'(q*) = F'(q*) / G(q*) = 1 - 2 q* + O(q*^2). The series
are summed to m = 10 (the next term is below 1e-60 relative at q = 1e-7) and solved at 50 digits.
"""

from __future__ import annotations

from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

import initconv

_TERMS = 10


def _tanh_moments() -> tuple[list[mpmath.mpf], list[mpmath.mpf]]:
    """The coefficients of q^m in F(q) = E[tanh^2] and G(q) = E[sech^4], m = 0.._TERMS."""
    size = 2 * _TERMS + 1  # powers of x up to x^(2 _TERMS)
    tanh = [mpmath.mpf(0)] * size
    for n in range(1, _TERMS + 1):
        tanh[2 * n - 1] = (
            mpmath.mpf(2) ** (2 * n)
            * (mpmath.mpf(2) ** (2 * n) - 1)
            * mpmath.bernoulli(2 * n)
            / mpmath.factorial(2 * n)
        )

    def times(a: list[mpmath.mpf], b: list[mpmath.mpf]) -> list[mpmath.mpf]:
        return [mpmath.fsum(a[i] * b[k - i] for i in range(k + 1)) for k in range(size)]

    tanh2 = times(tanh, tanh)
    sech2 = [(1 if k == 0 else 0) - tanh2[k] for k in range(size)]
    sech4 = times(sech2, sech2)
    # E[u^2m] = (2m - 1)!! q^m; odd powers have mean 0 (and are 0 here).
    moments = [mpmath.fac2(2 * m - 1) for m in range(_TERMS + 1)]
    return (
        [tanh2[2 * m] * moments[m] for m in range(_TERMS + 1)],
        [sech4[2 * m] * moments[m] for m in range(_TERMS + 1)],
    )


def _tanh_point(bias_std: float) -> tuple[float, float, float]:
    """(sigma_w, q*, M'(q*) - 1) on tanh's line at a small bias, from the series at 50 digits."""
    with mpmath.workdps(50):
        f, g = _tanh_moments()
        deficit = [(g[m - 1] if m >= 1 else 0) - f[m] for m in range(_TERMS + 1)]
        assert [mpmath.nint(3 * d) for d in deficit[:4]] == [0, 0, 0, 4]  # D = 4/3 q^3 + ...
        assert abs(deficit[3] - mpmath.mpf(4) / 3) < mpmath.mpf(10) ** -45

        def poly(coefficients: list[mpmath.mpf], q: mpmath.mpf) -> mpmath.mpf:
            return mpmath.fsum(c * q**m for m, c in enumerate(coefficients))

        def slope(coefficients: list[mpmath.mpf], q: mpmath.mpf) -> mpmath.mpf:
            return mpmath.fsum(m * c * q ** (m - 1) for m, c in enumerate(coefficients) if m)

        bias2 = mpmath.mpf(bias_std) ** 2

        def gap(log_q: mpmath.mpf) -> mpmath.mpf:
            q = mpmath.exp(log_q)
            return mpmath.log(poly(deficit, q)) - mpmath.log(bias2 * poly(g, q))

        guess = mpmath.log((3 * bias2 / 4) ** (mpmath.mpf(1) / 3))
        q = mpmath.exp(mpmath.findroot(gap, (guess - 1, guess + 1), solver="anderson"))
        excess = (slope(f, q) - poly(g, q)) / poly(g, q)  # M'(q*) - 1 = (F' - G) / G
        return float(1 / mpmath.sqrt(poly(g, q))), float(q), float(excess)


class _OnceDifferentiableTanh(torch.autograd.Function):
    """tanh with a backward that autograd cannot differentiate again."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        y: Tensor = ctx.saved_tensors[0]
        return grad * (1 - y * y)


def once_differentiable_tanh(x: Tensor) -> Tensor:
    y: Tensor = _OnceDifferentiableTanh.apply(x)  # type: ignore[no-untyped-call]
    return y


def test_below_the_grid_the_point_reports_its_own_variance_slope_below_one() -> None:
    bias_std = 1e-13
    weight_std, q_star, excess = _tanh_point(bias_std)
    assert 1e-10 < q_star < 2.0**-24  # below the grid, where M'(q*) - 1 = -2 q* = -4e-9
    point = initconv.critical("tanh", bias_std)
    # The package solves the series' equation in ln q to ~1e-14 (its 1e-15 tolerance on terms of
    # size 3 |ln q*| = 60); the series' truncation is O(q*^2) relative, 4e-18. 1e-12: a 100-fold
    # margin.
    assert point.q_star == pytest.approx(q_star, rel=1e-12, abs=0)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-12, abs=0)
    # variance_slope is 1 + (M'(q*) - 1) rounded once to float64: within half a unit in the last
    # place below 1, 2^-54, plus the excess's own error (O(q*) relative of 4e-9: 1e-17). One unit
    # in the last place, 2^-53 = 1.1e-16, is a 2-fold margin; the excess is 7e7 of those.
    assert point.variance_slope < 1
    assert point.variance_slope - 1 == pytest.approx(excess, rel=0, abs=2.0**-53)


def test_a_point_on_the_grid_needs_no_taylor_series() -> None:
    bias_std = 4e-11
    weight_std, q_star, excess = _tanh_point(bias_std)
    # q* = (3/4 sigma_b^2)^(1/3) = 1.06e-7: on the grid's first step, [2^-24, 2^-22], where the
    # variance map crosses q between the grid's first two points.
    assert 2.0**-24 * 1.5 < q_star < 2.0**-22 / 1.5
    # Autograd has no second derivative of it (its slope is cut off from x), so no Taylor series
    # at 0 beyond the linear term: a series solve would give a line's point, not tanh's.
    with torch.enable_grad():
        x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        (slope,) = torch.autograd.grad(once_differentiable_tanh(x).sum(), x, create_graph=True)
        with pytest.raises(RuntimeError, match="does not require grad"):
            torch.autograd.grad(slope.sum(), x)
    point = initconv.critical(once_differentiable_tanh, bias_std)
    # On the grid q* comes from the quadrature's D(q) = q E[phi'^2] - E[phi^2], computed to
    # 16 eps sqrt(E[f] size) of each of its two terms (gaussian.line_deficit): at q = 1e-7, 1.4e-8
    # of D relative, and q* ~ D^(1/3) takes a third of it. 2e-8 is a 4-fold margin over 5e-9.
    assert point.q_star == pytest.approx(q_star, rel=2e-8, abs=0)
    # sigma_w = 1 / sqrt(G): the quadrature's G is good to ~1e-12 relative, halved by the root;
    # q*'s error moves it by q* (d ln G / d ln q = -2 q*) times 2e-8: nothing. 2e-12 is a
    # 4-fold margin.
    assert point.weight_std == pytest.approx(weight_std, rel=2e-12, abs=0)
    # M'(q*) = F'/G from two quadratures good to ~1e-12 relative each: 2e-12 absolute; 1e-11 is a
    # 5-fold margin, and the excess, -2 q* = -2e-7, is 2e4 of it.
    assert point.variance_slope - 1 == pytest.approx(excess, rel=0, abs=1e-11)
