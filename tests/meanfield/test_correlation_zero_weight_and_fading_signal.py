"""correlation_map's depth scales and slopes at the two degenerate ends of the maps: no weights
(sigma_w = 0), and a signal that fades to q* = 0.

Theory, derived here from the maps of Poole et al. (2016) and Schoenholz et al. (2017),
M(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 and chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]:

- sigma_w = 0: M(q) = sigma_b^2 whatever q, so q* = sigma_b^2, M'(q*) = 0 and chi_1 = 0 (c* = 1,
  chi_c = chi_1). A deviation is multiplied by 0 in one layer: the CorrelationMap docstring puts
  depth_q = 0 "where M'(q*) = 0, as at sigma_w = 0: it is forgotten in one layer", and depth_c = 0
  "where chi_c = 0".
- A signal that fades (phi(0) = 0, M(q) < q for every q > 0, no bias): q* = 0, where half of
  sqrt(q) z lies on each side of 0, so E[phi'(sqrt(q) z)^2] -> (phi'(0-)^2 + phi'(0+)^2) / 2 and,
  phi being its tangent lines near 0, M(q) -> the same times sigma_w^2 q: M'(0) = chi_1 =
  sigma_w^2 (phi'(0-)^2 + phi'(0+)^2) / 2, and depth_q = depth_c = -1 / ln chi_1 (c* = 1). For
  relu that is sigma_w^2 / 2, for leaky_relu (slope 0.01 below 0) sigma_w^2 (1 + 1e-4) / 2, for
  erf (slope 2 / sqrt(pi)) 4 sigma_w^2 / pi, for tanh sigma_w^2. Each vanishes at the sigma_w
  chosen: sup_q M(q) / q is that same chi_1 (relu's and leaky_relu's M(q) / q is constant; erf's
  E[erf^2] = (2 / pi) arcsin(2q / (1 + 2q)) and tanh's E[tanh^2] grow slower than q), below 1.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv import diagnostics
from initconv._activations import ActivationSpec


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_without_weights_every_deviation_is_forgotten_in_one_layer(activation: str) -> None:
    bias_std = 0.3
    result = diagnostics.correlation_map(activation, 0.0, bias_std)
    # q* is the root of log(sigma_b^2 / q), found to Illinois's 1e-13 in log q.
    assert result.q_star == pytest.approx(bias_std**2, rel=1e-12, abs=0.0)
    assert (result.variance_slope, result.chi_1, result.chi_c) == (0.0, 0.0, 0.0)
    assert (result.depth_q, result.depth_c) == (0.0, 0.0)
    assert (result.c_star, result.phase) == (1.0, "ordered")


@pytest.mark.parametrize(
    ("activation", "weight_std", "end_slope_moment"),
    [
        ("relu", 1.0, 0.5),
        ("relu", 0.6, 0.5),
        ("leaky_relu", 1.2, (1 + 0.01**2) / 2),
        (torch.erf, 0.5, 4 / math.pi),
        ("tanh", 0.8, 1.0),
    ],
)
def test_a_fading_signal_has_the_one_sided_slopes_mean_square_as_its_slopes(
    activation: ActivationSpec, weight_std: float, end_slope_moment: float
) -> None:
    result = diagnostics.correlation_map(activation, weight_std, 0.0)
    assert result.q_star == 0.0
    chi_1 = weight_std**2 * end_slope_moment
    # The one-sided slopes are autograd's at -+2^-100, exact for relu and leaky_relu and within
    # rounding (1e-16) of erf's and tanh's slope at 0: a few roundings in all.
    assert result.chi_1 == pytest.approx(chi_1, rel=1e-14, abs=0.0)
    assert result.variance_slope == pytest.approx(chi_1, rel=1e-14, abs=0.0)
    assert result.depth_q == pytest.approx(-1 / math.log(chi_1), rel=1e-13, abs=0.0)
    assert result.depth_c == pytest.approx(-1 / math.log(chi_1), rel=1e-13, abs=0.0)
    assert (result.c_star, result.phase) == (1.0, "ordered")
