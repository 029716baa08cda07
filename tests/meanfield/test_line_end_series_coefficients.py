r"""The series that solves the critical line near its end holds the activation's Gaussian moments,
coefficient for coefficient, at any scale of the activation, and nothing else.

Promise (initconv/_meanfield/line_end.py, module docstring): from the one-sided Taylor
coefficients of phi at 0, ``series`` gives G(q) = E[phi'(u)^2], D(q) = q G(q) - E[phi(u)^2] and
F'(q) = dE[phi(u)^2]/dq, u ~ N(0, q), as sums of powers of q, G and F' complete to
q^((ORDER - 1) / 2) and D to q^((ORDER + 2) / 2); a coefficient that is only rounding noise of the
others is dropped. critical() solves D(q*) = sigma_b^2 G(q*) with these sums below q = 2^-24
(docs/deep.md: "A tiny bias puts q* near that end ... `critical` solves it from the activation's
Taylor series at 0").

Theory, sharing nothing with the package: the Taylor coefficients a_k of phi at 0 by mpmath's
``taylor`` at 40 digits; phi'(u)^2 and phi(u)^2 multiplied out as polynomials in u; E[u^(2m)] =
(2m - 1)!! q^m and the odd moments vanish, so a smooth activation's G, F and D are sums of whole
powers of q only (the half-integer powers of the package's formula, which a kink at 0 feeds,
are exactly zero here: what the package computes for them is rounding noise, and must be dropped).
D is formed as q G - F from the full products, not from the package's cancelled form.

Scale: G, F and D are quadratic in phi, so c phi(x) has c^2 times phi's coefficients, and
phi(s x) has s^(2 + 2m) times G's and F''s q^m coefficient and s^(2m) times D's (G_s(q) =
s^2 G(s^2 q), D_s(q) = D(s^2 q)). critical() hands ``series`` the activation divided by a power
of 2 that brings its outputs to unit size, but its Taylor coefficients can still be far from 1 (a
sharp activation such as tanh(32 x): G's coefficients run from 2^10 to 7 * 2^30, D's to about
2^43), and
which terms are kept must not depend on that scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv._meanfield.line_end import ORDER, Series, series

Terms = dict[float, float]

# The Taylor order of the theory: D's q^((ORDER + 2) / 2) coefficient is G's q^(ORDER / 2) minus
# F's q^((ORDER + 2) / 2), which need phi's coefficients to ORDER + 1 (a_1 a_(ORDER + 1)).
_THEORY_ORDER = ORDER + 2


def _square(c: list[Any]) -> list[Any]:
    return [mpmath.fsum(c[i] * c[n - i] for i in range(n + 1)) for n in range(len(c))]


def _moment(polynomial: list[Any]) -> list[Any]:
    """Coefficients of q^m in E[p(u)], u ~ N(0, q): u^(2m) has (2m - 1)!!, odd powers 0."""
    return [
        polynomial[2 * m] * math.prod(range(2 * m - 1, 0, -2))
        for m in range((len(polynomial) + 1) // 2)
    ]


def _theory(a: list[Any]) -> tuple[Terms, Terms, Terms, Terms]:
    """(G, D, F', F' - G without its constant) to the orders the module says are complete, each
    as {power: coefficient} without its zero terms, computed at 40 digits."""
    with mpmath.workdps(40):
        return _moments(a)


def _moments(a: list[Any]) -> tuple[Terms, Terms, Terms, Terms]:
    slope = [k * a[k] for k in range(1, len(a))]
    g = _moment(_square(slope))
    f = _moment(_square(a))
    f_slope = [m * f[m] for m in range(1, len(f))]  # q^(m - 1)
    # q G - F: its q^1 coefficient, a_1^2 - a_1^2, and the a_1 a_k parts of the others cancel
    # exactly (M_(n+1) = n M_(n-1)), leaving 40-digit rounding, below 1e-30 of the two parts.
    d = [
        mpmath.chop(
            (g[m - 1] if m >= 1 else 0) - f[m],
            tol=mpmath.mpf(10) ** -30 * max(abs(g[m - 1]) if m >= 1 else 0, abs(f[m])),
        )
        for m in range(len(f))
    ]

    def cut(c: list[Any], top: float, skip_constant: bool = False) -> Terms:
        return {
            float(m): float(v)
            for m, v in enumerate(c)
            if m <= top and v != 0 and not (skip_constant and m == 0)
        }

    excess = [f_slope[m] - g[m] for m in range(min(len(f_slope), len(g)))]
    return (
        cut(g, (ORDER - 1) / 2),
        cut(d, (ORDER + 2) / 2),
        cut(f_slope, (ORDER - 1) / 2),
        cut(excess, (ORDER - 1) / 2, skip_constant=True),
    )


def _taylor(f: Callable[[Any], Any], amplitude: float, argument: float) -> list[Any]:
    """a_k of amplitude * f(argument * x) at 0: amplitude * argument^k times f's."""
    with mpmath.workdps(40):
        unit = mpmath.taylor(f, 0, _THEORY_ORDER)
        # mpmath's derivatives are good to ~1e-35 at 40 digits; these unit-size functions'
        # zero coefficients (odd functions' even ones, silu's odd ones past x/2, silu being
        # x/2 + (x/2) tanh(x/2)) come out as 0 or below 1e-30, and are zeros of the series.
        unit = [mpmath.chop(c, tol=mpmath.mpf(10) ** -30) for c in unit]
        return [amplitude * argument**k * c for k, c in enumerate(unit)]


def _silu(x: Any) -> Any:
    return x / (1 + mpmath.exp(-x))


def _package(line: Series) -> tuple[Terms, Terms, Terms, Terms]:
    return tuple(  # type: ignore[return-value]
        dict(terms)
        for terms in (line.slope_moment, line.deficit, line.moment_slope, line.slope_excess)
    )


def _check(line: Series | None, expected: tuple[Terms, Terms, Terms, Terms]) -> None:
    assert line is not None
    for name, ours, theirs in zip(
        ("G", "D", "F'", "F' - G"), _package(line), expected, strict=True
    ):
        # The same powers: no rounding-noise term kept (a half-integer power of a smooth
        # activation), no real term dropped.
        assert sorted(ours) == sorted(theirs), name
        for power, coefficient in theirs.items():
            # Each coefficient is a sum of at most ORDER products of two autograd derivatives
            # (each a few float64 roundings from phi^(k)(+-2^-100) / k!, which differs from
            # a_k by 2^-100 relative) and a moment; no sum here loses more than a factor 5 to
            # cancellation (silu's F' - G at q: 3/8 - 1/4, from 5/8 in all): ~1e-15 relative,
            # a few ulps, and 1e-13 is a 100-fold margin.
            assert ours[power] == pytest.approx(coefficient, rel=1e-13, abs=0), (name, power)


@pytest.mark.parametrize(
    ("phi", "f"),
    [
        (torch.tanh, mpmath.tanh),
        (torch.erf, mpmath.erf),
        (torch.nn.functional.silu, _silu),
    ],
    ids=["tanh", "erf", "silu"],
)
def test_a_smooth_activation_has_the_coefficients_of_its_gaussian_moments(
    phi: Callable[[Tensor], Tensor], f: Callable[[Any], Any]
) -> None:
    _check(series(phi), _theory(_taylor(f, 1, 1)))


@pytest.mark.parametrize(
    ("amplitude", "argument"),
    [(2**30, 1), (2**-30, 1), (1, 32)],
    ids=["2^30 tanh(x)", "2^-30 tanh(x)", "tanh(32 x)"],
)
def test_a_scaled_activation_keeps_the_same_terms_and_drops_only_rounding_noise(
    amplitude: float, argument: float
) -> None:
    def phi(x: Tensor) -> Tensor:
        # Powers of 2: the scaled activation is exactly amplitude * tanh(argument * x).
        return amplitude * torch.tanh(argument * x)

    expected = _theory(_taylor(mpmath.tanh, amplitude, argument))
    _check(series(phi), expected)
