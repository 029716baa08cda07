r"""The critical point of an activation with :math:`\phi(0) \ne 0` (sigmoid) lies on the line.

The promise (``critical``'s docstring): the returned :math:`(\sigma_w, q^*)` solve

.. math::
    \sigma_w^2 = \frac{1}{\mathbb{E}[\phi'(\sqrt{q^*} z)^2]}, \qquad
    q^* = \sigma_w^2\, \mathbb{E}[\phi(\sqrt{q^*} z)^2] + \sigma_b^2,

chi_1 = 1 at a fixed point of the variance map (Poole et al. 2016; Schoenholz et al. 2017).
For sigmoid, :math:`\phi(0) = 1/2`, so the line's deficit is not the cancellation-free
:math:`D(q)` of a :math:`\phi(0) = 0` activation but :math:`1 - \mathbb{E}[\phi^2]/(q G)`.

Theory, here: both expectations are one-dimensional Gaussian integrals, computed by scipy's
adaptive quadrature (QUADPACK) on :math:`z \in (-\infty, \infty)`, independently of the package.
Their accuracy (requested 1e-13 relative) and the package's (one-dimensional moments exact to
~1e-12, q* found to ~1e-13 in log q) leave both equations satisfied to ~1e-11 relative; 1e-9 is
that with a hundredfold margin, and a point off the line by any visible amount fails it.
"""

from __future__ import annotations

import math

import pytest
from _reference_theory import gaussian_mean

import initconv


def _sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(x / 2.0))  # = 1 / (1 + e^-x), without overflow


@pytest.mark.parametrize("bias_std", [0.0, 1.0])
def test_sigmoids_critical_point_has_unit_chi_1_at_a_fixed_point(bias_std: float) -> None:
    point = initconv.critical("sigmoid", bias_std)
    q, sigma_w2 = point.q_star, point.weight_std**2
    assert 0.0 < q < math.inf
    slope_moment = gaussian_mean(lambda x: (_sigmoid(x) * (1.0 - _sigmoid(x))) ** 2, q)
    second_moment = gaussian_mean(lambda x: _sigmoid(x) ** 2, q)
    # chi_1 = sigma_w^2 E[phi'^2] = 1 and M(q*) = q*.
    assert sigma_w2 * slope_moment == pytest.approx(1.0, rel=1e-9)
    assert sigma_w2 * second_moment + bias_std**2 == pytest.approx(q, rel=1e-9)
