"""The variance map's verdicts where its answer is a closed form: a map linear in q, and a map
without a positive fixed point.

For a positively homogeneous activation (relu, leaky relu, linear) phi(sqrt(q) z) = sqrt(q)
phi(z), so M(q) = g^2 E[phi(z)^2] q = s q with s = g^2 (1 + a^2) / 2 (a the negative slope; linear
is a = 1): a line through 0. At s = 1 every q is a fixed point with M' = 1 ("marginal", q* reported
as 1); at s != 1 there is none and the second moment is multiplied by s every layer on its way to
0 (s < 1) or inf (s > 1). The verdict's band is |M' - 1| <= 1e-6 (variance_map's docstring: a
slope that close moves a deviation by under 1e-3 over 1000 layers), so s within 1e-6 of 1,
above or below, is still marginal. tanh at gain 1 has no positive fixed point either, but
tanh(x)^2 = x^2 - 2 x^4 / 3 + O(x^6) gives M(q) / q = 1 - 2 q + O(q^2): the signal fades only
like 1 / depth, a per-layer factor within 1e-6 of 1, so its verdict is "marginal" too (Xiao et
al. 2018's critical point without bias).

Tolerances: every moment is a Gaussian expectation computed to 1e-12 of its integrand's largest
value on |z| <= 8 (gaussian.relative_expectation; quadrature.gaussian_expectation's bound), each
bound stated where it is used.
"""

from __future__ import annotations

import math

import pytest
import torch.nn as nn

from initconv import diagnostics


@pytest.mark.parametrize("excess_slope", [-5e-7, -5e-10, 5e-10, 5e-7])
def test_relu_at_a_gain_whose_line_has_slope_within_1e_6_of_1_is_marginal(
    excess_slope: float,
) -> None:
    # g^2 / 2 = 1 + d: M(q) = (1 + d) q, so M' = 1 + d everywhere, inside the marginal band.
    # Above 1 the signal grows at every q searched (up to 2^68) by a factor settled at 1 + d:
    # no fixed point can lie beyond, so this is no error.
    result = diagnostics.variance_map("relu", math.sqrt(2 * (1 + excess_slope)))
    assert result.verdict == "marginal"
    assert result.fixed_point == 1.0
    # M'(1) = g^2 E[relu(z) z] (the form used at q <= 1), the integrand at most 64 on |z| <= 8:
    # an error of at most 6.4e-11 times g^2 ~ 2.
    assert abs(result.slope - (1 + excess_slope)) <= 2e-10


@pytest.mark.parametrize(
    ("activation", "gain"),
    [("linear", 1.0), (nn.LeakyReLU(0.2), math.sqrt(2 / (1 + 0.2**2)))],
    ids=["linear", "leaky_relu"],
)
def test_a_homogeneous_activation_at_its_unit_line_is_marginal(
    activation: str | nn.Module, gain: float
) -> None:
    result = diagnostics.variance_map(activation, gain)
    assert (result.fixed_point, result.verdict) == (1.0, "marginal")
    # s = 1 up to the gain's rounding (1e-16); the slope's quadrature error as above, 1.3e-10.
    assert abs(result.slope - 1) <= 2e-10


@pytest.mark.parametrize(
    ("gain", "fixed_point"), [(2.0, math.inf), (1.0, 0.0)], ids=["explodes", "vanishes"]
)
def test_relu_off_its_line_has_no_fixed_point_and_the_per_layer_factor_g2_over_2(
    gain: float, fixed_point: float
) -> None:
    result = diagnostics.variance_map("relu", gain)
    assert (result.fixed_point, result.verdict) == (fixed_point, "unstable")
    # E[relu(sqrt(q) z)^2] = q / 2, computed to 1e-12 of its integrand's top 64 q: relative
    # 1.3e-10 at any q, so the factor M(q) / q = g^2 / 2 is within 2e-10 of it.
    assert result.slope == pytest.approx(gain**2 / 2, rel=2e-10, abs=0.0)


def test_tanh_at_gain_one_fades_to_zero_only_polynomially_so_it_is_marginal() -> None:
    result = diagnostics.variance_map("tanh", 1.0)
    # M(q) < q for every q > 0 (tanh(x)^2 < x^2): no positive fixed point, the signal vanishes.
    assert result.fixed_point == 0.0
    assert result.verdict == "marginal"
    # The factor is M(q) / q = 1 - 2 q + O(q^2) at the search's lowest q = 2^-32, i.e. within
    # 2^-31 = 4.7e-10 of 1, plus the quadrature's 1e-12 of tanh(8 sqrt(q))^2 / q ~ 64: 5.3e-10.
    assert result.slope < 1
    assert abs(result.slope - 1) <= 1e-9
