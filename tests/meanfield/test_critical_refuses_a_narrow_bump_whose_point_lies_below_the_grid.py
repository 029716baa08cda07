r"""critical refuses, naming why, an activation whose only line point lies below q = 2^-24.

The promise (``critical``'s Raises): an activation with no point on the critical line at the
given ``bias_std`` within :math:`q^* \in [2^{-24}, 2^{12}]`, the range the quadrature resolves,
is refused with a ValueError that says it "has no critical point at bias_std=...", not with an
error of the arithmetic inside. Here the line's variance map sinks to rounding of 0 at the top of
the grid (:math:`M(q)/q \approx 2^{-54}`), where its log-excess is :math:`\log 0 = -\infty`.

Theory, derived here, for the Gaussian bump :math:`\phi_k(x) = e^{-k^2 x^2}` without bias. With
:math:`t = k^2 q`, completing the square in the Gaussian integrals gives

.. math::
    \mathbb{E}[\phi_k(\sqrt q z)^2] = (1 + 4t)^{-1/2}, \qquad
    q\, G(q) = q\, \mathbb{E}[\phi_k'(\sqrt q z)^2] = 4 t^2 (1 + 4t)^{-3/2},

so on the line (:math:`\sigma_w^2 = 1/G`) the fixed point :math:`q = \sigma_w^2 \mathbb{E}[\phi^2]`
is :math:`1 + 4t = 4t^2`, :math:`t = (1 + \sqrt 2)/2`: one point, :math:`q^* = (1 + \sqrt 2) /
(2 k^2)`. At :math:`k = 2^{21}` that is :math:`2.7 \cdot 10^{-13}`, below :math:`2^{-24}`, and
:math:`\phi(0) = 1 \ne 0`, so there is no end of the line at :math:`q \to 0` either: no critical
point in range. At the grid's top, :math:`t = 2^{54}` and :math:`M(q)/q = \mathbb{E}[\phi^2]/(q G)
= (1 + 4t)/(4t^2) \approx 2^{-54}`, whose complement rounds to 1.
"""

from __future__ import annotations

import math

import pytest
import torch
from _reference_theory import gaussian_mean
from torch import Tensor

import initconv

_K = 2.0**21


def _bump(x: Tensor) -> Tensor:
    return torch.exp(-((_K * x) ** 2))


def _moments(t: float) -> tuple[float, float]:
    """(E[phi^2], q G) of the bump at t = k^2 q, in closed form."""
    return (1 + 4 * t) ** -0.5, 4 * t * t * (1 + 4 * t) ** -1.5


def test_the_closed_form_moments_match_an_independent_quadrature() -> None:
    # At k = 1 (t = q) the closed forms against scipy's adaptive quadrature, good to 1e-13.
    for t in (0.25, (1 + math.sqrt(2)) / 2, 3.0):
        moment, slope_q = _moments(t)
        assert gaussian_mean(lambda x: math.exp(-2 * x * x), t) == pytest.approx(moment, rel=1e-11)
        slope = gaussian_mean(lambda x: (2 * x * math.exp(-x * x)) ** 2, t)
        assert t * slope == pytest.approx(slope_q, rel=1e-11)


def test_the_bumps_only_line_point_lies_below_the_grid() -> None:
    t = (1 + math.sqrt(2)) / 2
    moment, slope_q = _moments(t)
    assert moment == pytest.approx(slope_q, rel=1e-15)  # the fixed point on the line
    assert t / _K**2 < 2.0**-24
    moment, slope_q = _moments(_K**2 * 2.0**12)
    assert moment / slope_q < 2.0**-53  # M(q) / q at the grid's top: 0 to rounding of 1


def test_critical_refuses_it_saying_there_is_no_critical_point() -> None:
    with pytest.raises(ValueError, match=r"'_bump' has no critical point at bias_std=0\.0"):
        initconv.critical(_bump, 0.0)
