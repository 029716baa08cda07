r"""Without a bias, a positively homogeneous activation's critical point is reported at the bias it
was asked for, 0, and a first layer at its input gain starts at its q*.

The promise: ``critical`` returns a :class:`CriticalPoint`, a ``FixedPoint`` whose ``bias_std`` is
the sigma_b of the point (docstrings of ``critical`` and ``FixedPoint``), and whose
``input_gain(m)`` is the gain of a first layer whose inputs have second moment m "so that its
pre-activations start at q*" (``CriticalPoint.input_gain``). A positively homogeneous activation
"is critical at every q there, and nowhere with a bias" (``critical``'s docstring).

Theory, derived here. For phi(x) = a+ x (x > 0), a- x (x < 0) and u ~ N(0, q), E[phi'(u)^2] =
(a-^2 + a+^2) / 2 =: s at every q > 0, and E[phi(u)^2] = q s. On the line (Poole et al. 2016;
Schoenholz et al. 2017) sigma_w^2 = 1 / s, so at sigma_b = 0 the variance map is M(q) = q: every
q > 0 is a fixed point, with M'(q) = 1. A first layer sees the data, not an activation: with
inputs of second moment m, gain g and no bias its pre-activations have second moment g^2 m, which
is q* at g = sqrt(q* / m).
"""

from __future__ import annotations

import math

import pytest

import initconv

# name, (a-, a+): leaky_relu's default negative slope is torch's 0.01.
_HOMOGENEOUS = {"relu": (0.0, 1.0), "linear": (1.0, 1.0), "leaky_relu": (0.01, 1.0)}


@pytest.mark.parametrize("name", sorted(_HOMOGENEOUS))
def test_a_homogeneous_activations_point_is_at_bias_zero_and_its_first_layer_reaches_it(
    name: str,
) -> None:
    left, right = _HOMOGENEOUS[name]
    point = initconv.critical(name, 0.0)
    assert point.bias_std == 0.0
    # sigma_w^2 = 2 / (a-^2 + a+^2): the package's quadrature of a constant slope is exact to
    # rounding, ~1e-15.
    assert point.weight_std**2 == pytest.approx(2 / (left**2 + right**2), rel=1e-12)
    # Every q > 0 is a fixed point there; the one reported must be one.
    assert 0 < point.q_star < math.inf
    assert point.variance_slope == pytest.approx(1.0, rel=0, abs=1e-12)
    for moment in (0.25, 1.0, 4.0):
        gain = point.input_gain(moment)
        # g^2 m + sigma_b^2 = q*, sigma_b = 0: two roundings of q*.
        assert gain**2 * moment == pytest.approx(point.q_star, rel=1e-15, abs=0)
