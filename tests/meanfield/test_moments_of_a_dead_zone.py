r"""The one-dimensional Gaussian moments of an activation with a dead zone around 0 (softshrink),
from where the zone holds all of N(0, q) to where it holds almost none of it.

The maps evaluate E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2] on q from 2^-32 up, to 1e-12 of the
integrand's size; at small q a dead zone holds every point the moments are computed at, and the
answer is then 0, not an error. Softshrink at threshold t is u - t sign(u) for |u| > t and 0
inside, so with a = t / sqrt(q), n and Q the normal density and upper tail (the second moment of a
normal above a threshold):

    E[phi'(u)^2] = 2 Q(a),   E[phi(u)^2] = 2 [(q + t^2) Q(a) - t sqrt(q) n(a)],

both below 1e-300 at q = 2^-32 (a = 2^15 t, Q(a) ~ exp(-a^2 / 2)), which is 0 in float64.
"""

from __future__ import annotations

import math

import mpmath as mp  # type: ignore[import-untyped]
import pytest
import torch.nn.functional as F
from torch import Tensor

from initconv._meanfield.gaussian import second_moment, slope_moment

_THRESHOLD = 0.5


def _softshrink(x: Tensor) -> Tensor:
    return F.softshrink(x, _THRESHOLD)


def _closed_forms(q: float) -> tuple[float, float]:
    """(E[phi^2], E[phi'^2]) at q."""
    with mp.workdps(30):
        qq, t = mp.mpf(q), mp.mpf(_THRESHOLD)
        a = t / mp.sqrt(qq)
        tail = mp.ncdf(-a)
        values = 2 * ((qq + t * t) * tail - t * mp.sqrt(qq) * mp.npdf(a))
        return float(values), float(2 * tail)


@pytest.mark.parametrize("q", [2.0**-32, 2.0**-8])
def test_moments_are_zero_where_the_dead_zone_holds_all_of_the_normal(q: float) -> None:
    # At q = 2^-8 the zone |u| < 0.5 is 8 standard deviations wide on each side: the moments
    # are Q(8) ~ 6e-16 of their size at q = 1 and below the quadrature's tolerance; at 2^-32 they
    # are 0 in float64. Every point the quadrature samples (|z| <= 12) is inside the zone at
    # 2^-32, so the answer there is exactly 0.
    value_moment, slope_moment_exact = _closed_forms(q)
    assert second_moment(_softshrink, q) == pytest.approx(value_moment, rel=0.0, abs=1e-12)
    assert slope_moment(_softshrink, q) == pytest.approx(slope_moment_exact, rel=0.0, abs=1e-12)
    if q == 2.0**-32:
        assert (second_moment(_softshrink, q), slope_moment(_softshrink, q)) == (0.0, 0.0)


@pytest.mark.parametrize("q", [2.0**-4, 1.0, 2.0**10])
def test_moments_outside_the_dead_zone_are_their_closed_forms(q: float) -> None:
    value_moment, slope_moment_exact = _closed_forms(q)
    # 1e-12 of the integrand's size, its largest value on the probe |z| <= 8 (phi^2 and phi'^2
    # grow with |z| here): (8 sqrt(q) - t)^2 and 1.
    value_size = (8 * math.sqrt(q) - _THRESHOLD) ** 2
    assert second_moment(_softshrink, q) == pytest.approx(
        value_moment, rel=0.0, abs=1e-12 * value_size
    )
    assert slope_moment(_softshrink, q) == pytest.approx(slope_moment_exact, rel=0.0, abs=1e-12)
