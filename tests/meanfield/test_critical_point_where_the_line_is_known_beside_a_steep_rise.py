r"""A critical point where the line is known by the stated rule is returned, though the slopes
grow by nine orders of magnitude just beyond the stretch the rule looks at.

The promise (``critical``'s docstring, and ``_Line.resolved``'s): the line is known at q where
:math:`G(q) = \mathbb{E}[\phi'(\sqrt q z)^2]` is above 1e-9 of its largest value on the grid
within a factor 16 of q, the quadrature being good to ~1e-12 of that size; there :math:`q^*`
solves :math:`q = \mathbb{E}[\phi^2]/G + \sigma_b^2` with :math:`\sigma_w^2 = 1/G`, and the stable
point nearest to 1 is returned.

The activation is a soft threshold at :math:`\lambda = 104` saturating :math:`c = 20` later, plus
a leak :math:`\epsilon x`, :math:`\epsilon = 1.5 \cdot 10^{-6}`. Its moments, in closed form
(derived in ``test_critical_point_past_a_wide_leaky_dead_zone.py``), in mpmath at 40 digits:
at :math:`\sigma_b = 15.1` the line meets the variance map once in :math:`[2^{-24}, 2^{12}]`, at
:math:`q^* = 249.545\ldots` (below it the activation is the line :math:`\epsilon x`, whose deficit
is 0; above, :math:`D/G - \sigma_b^2` grows), stable with :math:`M'(q^*) = 0.99919`. The grid
within a factor 16 of :math:`q^*` is :math:`2^4 \ldots 2^{10}` (:math:`2^{12} > 16 q^*`), where
:math:`G` is largest at :math:`2^{10}`: :math:`G(q^*)/G(2^{10}) = 4.6 \cdot 10^{-8}`, so the line is
known there, to :math:`10^{-12} / 4.6 \cdot 10^{-8} \approx 2 \cdot 10^{-5}` relative in
:math:`G` (the bound is computed below); the bracketing grid points :math:`2^6` and :math:`2^8` are
known by the same rule. :math:`G(2^{12})`, a factor 16.4 above :math:`q^*`, is :math:`10^9` times
:math:`G(q^*)`.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch.nn.functional as F
from _reference_theory import leaky_dead_zone_moments
from torch import Tensor

import initconv

_THRESHOLD, _SATURATION, _LEAK, _BIAS_STD = 104.0, 20.0, 1.5e-6, 15.1
# The quadrature's error, as a share of the largest slope moment nearby (_Line.resolved).
_QUADRATURE = 1e-12


def leaky_dead_zone(x: Tensor) -> Tensor:
    return F.softshrink(x, _THRESHOLD).clamp(-_SATURATION, _SATURATION) + _LEAK * x


def _moments(q: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(E[phi^2], E[phi'^2]) at second moment q, in closed form."""
    return leaky_dead_zone_moments(q, _THRESHOLD, _SATURATION, _LEAK)


def test_a_point_known_by_the_rule_is_returned_beside_a_steep_rise() -> None:
    with mpmath.workdps(40):

        def excess(q: mpmath.mpf) -> mpmath.mpf:
            moment, slope_moment = _moments(q)
            return q - moment / slope_moment - mpmath.mpf(_BIAS_STD) ** 2

        q_star = mpmath.findroot(excess, (2**7, 2**8), solver="anderson")
        moment, slope_moment = _moments(q_star)
        variance_slope = mpmath.diff(lambda q: _moments(q)[0], q_star) / slope_moment
        # The premises: stable, and known by the rule (G(2^10) largest within a factor 16).
        assert variance_slope < 1
        assert 16 * q_star < 2**12
        share = slope_moment / max(_moments(mpmath.mpf(2) ** k)[1] for k in (4, 6, 8, 10))
        assert share > 1e-9
        # G is known to _QUADRATURE / share relative; q* moves by (E[phi^2]/G) dG/G / excess'.
        g_error = _QUADRATURE / share
        q_error = moment / slope_moment * g_error / mpmath.diff(excess, q_star)
        expected_q, expected_w2 = float(q_star), float(1 / slope_moment)
        g_tolerance, q_tolerance = float(g_error), float(q_error)
    point = initconv.critical(leaky_dead_zone, _BIAS_STD)
    assert point.weight_std**2 == pytest.approx(expected_w2, rel=g_tolerance)
    assert point.q_star == pytest.approx(expected_q, abs=q_tolerance)
