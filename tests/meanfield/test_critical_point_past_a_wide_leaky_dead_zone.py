r"""The critical point of an activation with a wide, faintly leaking dead zone is found where its
slopes are, and matches the line's closed form.

The promise (``critical``'s docstring): :math:`q^*` solves
:math:`q = \mathbb{E}[\phi^2]/\mathbb{E}[\phi'^2] + \sigma_b^2` with
:math:`\sigma_w^2 = 1/\mathbb{E}[\phi'^2]`, and of the solutions where the variance map is stable
(:math:`M'(q^*) \le 1`) the one nearest to 1 is returned.

The activation is a soft threshold at :math:`\lambda = 150` that saturates :math:`c = 30` later,
plus a leak :math:`\epsilon x`, :math:`\epsilon = 10^{-6}`:
:math:`\phi(x) = \epsilon x + \operatorname{sign}(x) \min(\max(|x| - \lambda, 0), c)`. Its slope
is :math:`\epsilon` except on :math:`\lambda < |x| < \lambda + c`, where it is :math:`1 + \epsilon`.
So :math:`\mathbb{E}[\phi'^2]` is :math:`\epsilon^2 = 10^{-12}` for small :math:`q` and grows by
ten orders of magnitude once :math:`\sqrt q` nears :math:`\lambda`; a point on the line lies
there.

Theory, derived here, for :math:`u \sim \mathcal N(0, q)` with density :math:`n_q` and
:math:`I_k = \int_\lambda^{\lambda + c} x^k n_q(x)\,dx`: :math:`I_0 = \Phi((\lambda+c)/\sqrt q) -
\Phi(\lambda/\sqrt q)`, :math:`I_1 = q (n_q(\lambda) - n_q(\lambda + c))` (as :math:`x n_q = -q
n_q'`), :math:`I_2 = q(\lambda n_q(\lambda) - (\lambda + c) n_q(\lambda + c)) + q I_0` (by parts).
With :math:`g = \phi - \epsilon x` (odd, so each moment is twice its half-line integral):

.. math::
    \mathbb{E}[\phi'^2] = \epsilon^2 + (1 + 2\epsilon)\, 2 I_0, \qquad
    \mathbb{E}[\phi^2] = \epsilon^2 q + 2\epsilon\, \mathbb{E}[u g] + \mathbb{E}[g^2],

:math:`\mathbb{E}[u g] = 2(I_2 - \lambda I_1 + c q\, n_q(\lambda + c))`, :math:`\mathbb{E}[g^2] =
2(I_2 - 2\lambda I_1 + \lambda^2 I_0 + c^2 (1 - \Phi((\lambda + c)/\sqrt q)))`, evaluated in
mpmath at 40 digits and solved by its root finder.

At :math:`\sigma_b = 40` the line meets the variance map once in :math:`[2^{-24}, 2^{12}]`, at
:math:`q^* = 1781.9149\ldots`, :math:`\sigma_w = 52.691937\ldots`, stable with :math:`M'(q^*) =
\sigma_w^2\, d\mathbb{E}[\phi^2]/dq = 0.8227`: below it :math:`\sigma_b^2/q` exceeds the line's
relative deficit. At :math:`\sigma_b = 30` it meets it once, at :math:`q^* = 968.03\ldots`
(:math:`M'(q^*) = 0.9708`, stable), a point at which :math:`\mathbb{E}[\phi'^2] = 1.4 \cdot
10^{-6}` is resolved; :func:`critical` refuses it today, saying no point exists, because the
grid point below it, :math:`q = 2^8`, where :math:`\mathbb{E}[\phi'^2]` is still the leak's
:math:`10^{-12}`, is judged unknown and the crossing is not bracketed.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch.nn.functional as F
from _reference_theory import leaky_dead_zone_moments
from torch import Tensor

import initconv

_THRESHOLD, _SATURATION, _LEAK = 150.0, 30.0, 1e-6


def leaky_dead_zone(x: Tensor) -> Tensor:
    return F.softshrink(x, _THRESHOLD).clamp(-_SATURATION, _SATURATION) + _LEAK * x


def _moments(q: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(E[phi^2], E[phi'^2]) at second moment q, in closed form."""
    return leaky_dead_zone_moments(q, _THRESHOLD, _SATURATION, _LEAK)


def _line_point(bias_std: float, low: float, high: float) -> tuple[float, float, float]:
    """(q*, sigma_w, M'(q*)) where the line meets the variance map between low and high."""
    with mpmath.workdps(40):

        def excess(q: mpmath.mpf) -> mpmath.mpf:
            moment, slope_moment = _moments(q)
            return q - moment / slope_moment - mpmath.mpf(bias_std) ** 2

        q_star = mpmath.findroot(excess, (low, high), solver="anderson")
        slope_moment = _moments(q_star)[1]
        variance_slope = mpmath.diff(lambda q: _moments(q)[0], q_star) / slope_moment
        return float(q_star), float(1 / mpmath.sqrt(slope_moment)), float(variance_slope)


def test_the_point_past_a_wide_leaky_dead_zone_is_the_lines_closed_form() -> None:
    q_star, weight_std, variance_slope = _line_point(40.0, 2.0**10, 2.0**12)
    assert variance_slope < 1  # the premise: a stable point, so critical() returns it
    point = initconv.critical(leaky_dead_zone, 40.0)
    assert point.q_star == pytest.approx(q_star, rel=1e-9)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-9)
    assert point.variance_slope == pytest.approx(variance_slope, rel=1e-9)


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="the crossing lies between an unresolved grid point (2^8) and a resolved one (2^10), "
    "so it is never bracketed and critical() says no point exists",
)
def test_a_point_just_below_the_first_resolved_grid_point_is_found() -> None:
    q_star, weight_std, variance_slope = _line_point(30.0, 2.0**8, 2.0**10)
    assert variance_slope < 1
    point = initconv.critical(leaky_dead_zone, 30.0)
    assert point.q_star == pytest.approx(q_star, rel=1e-9)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-9)
