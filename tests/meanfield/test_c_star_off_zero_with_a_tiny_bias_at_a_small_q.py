r"""In the chaotic phase an odd activation with a bias has its correlation fixed point :math:`c^*`
off 0, by at least :math:`C(0)/(1 - C'(0))`, also where the bias and :math:`q^*` are tiny.

The promise (CorrelationMap.c_star): the stable fixed point of the correlation map below 1 in the
chaotic phase; :math:`c^* = 0` is reserved for an odd activation without bias (correlation_map's
docstring), where :math:`C(0) = \sigma_w^2 \mathbb{E}[\phi]^2/q^* = 0`.

Theory (Poole et al. 2016; Mehler's expansion): with :math:`a_n` the Hermite coefficients of
:math:`\phi(\sqrt{q} z)`, :math:`C(c) = \sigma_b^2/q + (\sigma_w^2/q) \sum_n a_n^2 c^n`, a power
series with nonnegative coefficients, so on [0, 1] C is increasing and convex and
:math:`C(c) \ge C(0) + C'(0)\, c`. At the fixed point :math:`c^* = C(c^*)`, hence for
:math:`C'(0) < 1`

.. math::
    c^* \ge \frac{C(0)}{1 - C'(0)}, \qquad C(0) = \frac{\sigma_b^2}{q^*}\ \ (\tanh \text{ odd}),
    \qquad C'(0) = \frac{\sigma_w^2 a_1^2}{q^*} = \sigma_w^2\, \mathbb{E}[\phi'(\sqrt{q^*} z)]^2
    \ \ \text{(Stein)}.

For tanh at :math:`\sigma_w = 1.0001`, :math:`\sigma_b = 5 \times 10^{-9}`: :math:`q^* \approx
10^{-4}`, :math:`\chi_1 - 1 \approx 1.3 \times 10^{-8}` (chaotic), :math:`C(0) \approx 2.5 \times
10^{-13}` and :math:`1 - C'(0) \approx 7 \times 10^{-9}`, so :math:`c^* \ge 3.7 \times 10^{-5}`:
tiny inputs, but a fixed point far from 0. The expectations here come from scipy's adaptive
quadrature (independent of the library's), and the :math:`q^*` used is checked to be a fixed
point of :math:`M` with them.
"""

from __future__ import annotations

import math

import pytest
from scipy import integrate

from initconv import diagnostics


def _tanh_moment(power: int, q: float) -> float:
    """E[tanh(sqrt(q) z)^power], by scipy's adaptive quadrature to 1e-13 relative."""

    def integrand(z: float) -> float:
        return math.tanh(math.sqrt(q) * z) ** power * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    value, _ = integrate.quad(integrand, -12, 12, epsabs=0.0, epsrel=1e-13, limit=200)
    return float(value)


def test_a_tiny_bias_at_a_tiny_fixed_point_moves_c_star_off_zero() -> None:
    weight_std, bias_std = 1.0001, 5e-9
    result = diagnostics.correlation_map("tanh", weight_std, bias_std)
    q = result.q_star
    w2 = weight_std**2
    # The slopes' moments through tanh's, small and known to 1e-13 relative: sech^2 = 1 - tanh^2,
    # so E[sech^2] = 1 - E[tanh^2] and E[sech^4] = 1 - 2 E[tanh^2] + E[tanh^4].
    square, fourth = _tanh_moment(2, q), _tanh_moment(4, q)
    # q* is the variance map's fixed point: M(q*) = q* (to the fixed point's 1e-13 in log q).
    assert w2 * square + bias_std**2 == pytest.approx(q, rel=1e-11)
    chi_1 = w2 * (1 - 2 * square + fourth)
    assert chi_1 - 1 > 1e-8  # chaotic, ten times outside the critical band of 1e-9
    assert result.phase == "chaotic"
    # 1 - C'(0) ~ 7e-9, from numbers known to 1e-13 relative and ~1e-16 absolute: to 1e-7.
    deficit = 1 - w2 * (1 - square) ** 2
    bound = (bias_std**2 / q) / deficit
    assert bound > 1e-5
    # The grid's two-dimensional moments (~1e-14) put c* within ~1e-14 / (1 - C'(c*)) ~ 1.5e-6 of
    # its value: a margin of half the bound (1.8e-5) holds it.
    assert result.c_star >= bound / 2
    assert result.c_star < 1
