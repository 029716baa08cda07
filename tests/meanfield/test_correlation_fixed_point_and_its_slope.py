"""correlation_map's c* is a correlation, below 1 in the chaotic phase; and where c* = 1 its slope
chi_c is chi_1, to chi_1's one-dimensional accuracy (the CorrelationMap docstring: "c_star: 1 in
the ordered phase and on the critical line, below 1 in the chaotic one"; "chi_c: ... (chi_1 where
c* = 1)").

Theory, derived here (Poole et al. 2016; Schoenholz et al. 2017; Cho & Saul 2009 for relu):

- relu has no correlation fixed point below 1 at any sigma_w: two inputs of correlation c come
  out with correlation k(c) = (sin(theta) + (pi - theta) c) / pi, theta = arccos(c), and
  k(c) - c = (sin(theta) - theta c) / pi > 0 on [-1, 1) (tan(theta) > theta on (0, pi/2), and
  both terms are >= 0 beyond), so correlations climb to 1 and c* = 1, approached from below (a
  bias adds the same sigma_b^2 to the cross moment and to the second moment, pulling them on). At
  sigma_w^2 > 2 the signal grows without bound (q* = inf; M(q) / q = sigma_w^2 / 2 + sigma_b^2 /
  q > 1) and chi_1 = sigma_w^2 / 2 > 1: chaotic, so the docstring puts c* below 1; it is
  reported within the 1e-6 of 1 that the search resolves c* to ("chi_1 barely above 1").
- hardtanh (clamp to [-1, 1]) in the ordered phase: c* = 1 and chi_c = chi_1 =
  sigma_w^2 P(|u| < 1) = sigma_w^2 erf(t / sqrt 2), t = 1 / sqrt(q*), where q* solves
  q = sigma_w^2 [q (erf(t / sqrt 2) - 2 t n(t)) + erfc(t / sqrt 2)] + sigma_b^2 (E[u^2; |u| < 1]
  = q E[z^2; |z| < t] and P(|u| > 1)), solved here by scipy's brentq. The two-dimensional
  quadrature behind a chaotic chi_c is only ~1e-3 accurate at a kink away from 0 (the
  correlation_map docstring), so this holds only because chi_c is chi_1 there.
"""

from __future__ import annotations

import math

import pytest
from scipy import optimize

from initconv import diagnostics


@pytest.mark.parametrize(("weight_std", "bias_std"), [(2.0, 0.0), (2.0, 0.5)])
def test_relus_chaotic_correlation_fixed_point_is_a_correlation_just_below_one(
    weight_std: float, bias_std: float
) -> None:
    result = diagnostics.correlation_map("relu", weight_std, bias_std)
    assert (result.q_star, result.phase) == (math.inf, "chaotic")
    assert result.chi_1 == pytest.approx(weight_std**2 / 2, rel=1e-12)
    assert 1.0 - 1e-6 <= result.c_star < 1.0


def _hardtanh_q_star(weight_std: float, bias_std: float) -> float:
    def excess(q: float) -> float:
        t = 1 / math.sqrt(q)
        inside = math.erf(t / math.sqrt(2))
        density = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        second = q * (inside - 2 * t * density) + math.erfc(t / math.sqrt(2))
        return weight_std**2 * second + bias_std**2 - q

    # M(q) >= sigma_b^2 and M(q) <= sigma_w^2 + sigma_b^2 (hardtanh^2 <= 1): q* lies between.
    low, high = bias_std**2, weight_std**2 + bias_std**2
    return float(optimize.brentq(excess, low, high, xtol=1e-16, rtol=1e-15))


@pytest.mark.parametrize(("weight_std", "bias_std"), [(1.0, 0.5), (1.0, 2.0), (0.8, 0.1)])
def test_where_c_star_is_one_chi_c_is_chi_1_even_beside_kinks_away_from_zero(
    weight_std: float, bias_std: float
) -> None:
    q_star = _hardtanh_q_star(weight_std, bias_std)
    chi_1 = weight_std**2 * math.erf(1 / math.sqrt(2 * q_star))
    assert chi_1 < 1  # ordered
    result = diagnostics.correlation_map("hardtanh", weight_std, bias_std)
    assert (result.phase, result.c_star) == ("ordered", 1.0)
    # The package's one-dimensional moments are within 1e-12 of their integrands' size (1 for
    # hardtanh' ^2 <= 1, with E ~ chi_1 / sigma_w^2 >= 0.3 here), and q* moves by 1e-12 /
    # (1 - M'(q*)) relative, M'(q*) <= chi_1 < 0.9 (M' = sigma_w^2 E[phi'^2 + phi phi''], and
    # phi phi'' <= 0 for hardtanh): chi_1, whose log-derivative in q is below 1, within 1e-10.
    assert result.chi_1 == pytest.approx(chi_1, rel=1e-10, abs=0.0)
    assert result.chi_c == pytest.approx(chi_1, rel=1e-10, abs=0.0)
    assert result.depth_c == pytest.approx(-1 / math.log(chi_1), rel=1e-9, abs=0.0)


def test_just_past_the_critical_margin_the_chaotic_phase_has_c_star_below_one() -> None:
    # linear at sigma_w^2 just below 1 + 1e-9 rounds chi_1 to fl(1 + 1e-9), whose distance from 1
    # (exact: 1.0000000827e-9) is past the margin: the phase is chaotic, and there c* < 1.
    result = diagnostics.correlation_map("linear", math.nextafter(math.sqrt(1 + 1e-9), 0.0), 0.1)
    assert result.chi_1 == 1 + 1e-9
    assert result.phase == "chaotic"
    assert result.c_star < 1.0
