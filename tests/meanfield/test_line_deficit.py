r"""The critical line's deficit D(q) = q E[phi'(u)^2] - E[phi(u)^2], u = sqrt(q) z, is computed to
the precision its cancellation leaves, also where the two moments agree to many digits.

``line_deficit`` promises D through D = q E[r'^2] - E[r^2] with r = phi - a(u) u, a the slope on
u's side of 0, and each expectation E[f], f = (g - h)^2, to within the noise of f: the larger of
16 eps sqrt(E[f] size), (4 eps)^2 size, 1e-20 size and 1e-12 E[f] (the quadrature's own relative
tolerance), where ``size`` is q E[phi'^2] for the second term and E[phi'^2] for the first. The
checks hold D to exactly that, with E[f] and D from closed forms evaluated by mpmath:

* hardtanh clipped at +-k (slopes 1 and 1 at 0, kinks at +-k): with a = k / sqrt(q) and n, Q the
  normal density and upper tail, E[phi'^2] = 1 - 2 Q(a), E[r'^2] = 2 Q(a),
  E[r^2] = 2 [(q + k^2) Q(a) - k sqrt(q) n(a)] (the second moment of a normal above a threshold),
  so D = 2 k sqrt(q) n(a) - 2 k^2 Q(a). Its kinks fall inside quadrature panels, so the quadrature
  has to refine there to the tolerance; at q = 0.025 k^2, D is 2.4e-10 of q E[phi'^2] and E[r^2]
  1.1e-11 of it, where a tolerance not scaled by the noise shows.
* selu (slopes lambda alpha and lambda at 0): r vanishes for u > 0; for u < 0, r = lambda alpha
  (e^u - 1 - u) and r' = lambda alpha (e^u - 1), and with E[e^(b u); u < 0] = e^(b^2 q / 2)
  Phi(-b sqrt(q)), D = (lambda alpha)^2 [q e^(2q) Phi(-2 sqrt q) - (e^(2q) Phi(-2 sqrt q)
  - 2 e^(q/2) Phi(-sqrt q) + 1/2)].
* tanh near q = 0 (slopes 1 and 1), where D = 4/3 q^3 (1 + O(q)) is 1e-14 of q E[phi'^2] at
  q = 2^-24, from the Taylor series of tanh^2 and sech^4 and the normal's moments.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath as mp  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from initconv._meanfield.gaussian import line_deficit

# Every mpmath evaluation below runs at 40 digits (mp.workdps, so other tests keep theirs).
_DIGITS = 40
_EPS = mp.mpf(2) ** -52
# selu's constants as torch has them: the float64 nearest the values of Klambauer et al. (2017),
# which is what the literals below round to before mpmath takes them exactly.
_LAMBDA = mp.mpf(1.0507009873554804934193349852946)
_ALPHA = mp.mpf(1.6732632423543772848170429916717)


def _term_tolerance(moment: mp.mpf, size: mp.mpf) -> mp.mpf:
    """What one cancelled expectation E[f] (f = (g - h)^2, g and h of second moment ``size``) is
    promised to: its first pass gets E[f] to 1e-6 relative or 16 eps size, so the noise it
    measures is at most 16 eps sqrt((E[f] (1 + 1e-6) + 16 eps size) size)."""
    rough = moment * (1 + mp.mpf(1e-6)) + 16 * _EPS * size
    noise = 16 * _EPS * mp.sqrt(rough * size)
    return max(noise, (4 * _EPS) ** 2 * size, mp.mpf(1e-20) * size, mp.mpf(1e-12) * moment)


def _tolerance(q: mp.mpf, slope: mp.mpf, slope_term: mp.mpf, value_term: mp.mpf) -> float:
    """D's promise from its two terms, q E[r'^2] and E[r^2], plus the rounding of their
    difference (eps of the larger)."""
    rounding = _EPS * max(q * slope_term, value_term)
    return float(
        q * _term_tolerance(slope_term, slope) + _term_tolerance(value_term, q * slope) + rounding
    )


def _hardtanh_case(k: float, q: float) -> tuple[float, float]:
    with mp.workdps(_DIGITS):
        kk, qq = mp.mpf(k), mp.mpf(q)
        a = kk / mp.sqrt(qq)
        tail, density = mp.ncdf(-a), mp.npdf(a)
        slope = 1 - 2 * tail
        slope_term = 2 * tail
        value_term = 2 * ((qq + kk**2) * tail - kk * mp.sqrt(qq) * density)
        deficit = 2 * kk * mp.sqrt(qq) * density - 2 * kk**2 * tail
        return float(deficit), _tolerance(qq, slope, slope_term, value_term)


@pytest.mark.parametrize(
    ("k", "scaled_q"),
    [(1.0, 0.3), (2.0**-7, 0.025)],
)
def test_hardtanhs_deficit_is_its_closed_form_to_the_noise_of_its_terms(
    k: float, scaled_q: float
) -> None:
    # q is given relative to k^2: D(q; k) = k^2 D(q / k^2; 1), the same shape at any clip.
    q = scaled_q * k * k
    expected, tolerance = _hardtanh_case(k, q)

    def phi(x: Tensor) -> Tensor:
        return F.hardtanh(x, -k, k)

    assert line_deficit(phi, q, (1.0, 1.0)) == pytest.approx(expected, rel=0.0, abs=tolerance)


@pytest.mark.parametrize("q", [1.0])
def test_selus_deficit_is_its_closed_form_with_its_two_slopes_at_zero(q: float) -> None:
    with mp.workdps(_DIGITS):
        qq = mp.mpf(q)
        s = mp.sqrt(qq)
        scale = (_LAMBDA * _ALPHA) ** 2
        low = mp.exp(2 * qq) * mp.ncdf(-2 * s)  # E[e^(2u); u < 0]
        one = mp.exp(qq / 2) * mp.ncdf(-s)  # E[e^u; u < 0]
        deficit = scale * (qq * low - (low - 2 * one + mp.mpf(1) / 2))
        slope = _LAMBDA**2 / 2 + scale * low
        slope_term = scale * (low - 2 * one + mp.mpf(1) / 2)

        def r_squared(z: mp.mpf) -> mp.mpf:
            u = s * z
            return (mp.exp(u) - 1 - u) ** 2 * mp.npdf(z)

        value_term = scale * mp.quad(r_squared, [-mp.inf, -8, 0])
        tolerance = _tolerance(qq, slope, slope_term, value_term)
    slopes = (float(_LAMBDA * _ALPHA), float(_LAMBDA))
    assert line_deficit(torch.selu, q, slopes) == pytest.approx(
        float(deficit), rel=0.0, abs=tolerance
    )


def _series_expectation(f: Callable[[mp.mpf], mp.mpf], q: float) -> mp.mpf:
    """E[f(sqrt(q) z)] for f analytic at 0, from its Taylor series: E[u^(2n)] = q^n (2n - 1)!!.
    The series is asymptotic (tanh's radius is pi / 2), but at q <= 2^-12 each of its first 15
    terms is below the last by a factor q (2n + 1) / (pi / 2)^2 < 1e-2, so what is left off is
    below 1e-30 relative."""
    coefficients = mp.taylor(f, 0, 30)
    return mp.fsum(coefficients[2 * n] * mp.mpf(q) ** n * mp.fac2(2 * n - 1) for n in range(16))


@pytest.mark.parametrize("q", [2.0**-24])
def test_tanhs_deficit_near_zero_is_found_where_the_moments_cancel(q: float) -> None:
    with mp.workdps(_DIGITS):
        # D from its definition, at 40 digits: the 14 that cancel at q = 2^-24 leave 26.
        slope = _series_expectation(lambda u: mp.sech(u) ** 4, q)
        deficit = mp.mpf(q) * slope - _series_expectation(lambda u: mp.tanh(u) ** 2, q)
        slope_term = _series_expectation(lambda u: (mp.sech(u) ** 2 - 1) ** 2, q)
        value_term = _series_expectation(lambda u: (mp.tanh(u) - u) ** 2, q)
        tolerance = _tolerance(mp.mpf(q), slope, slope_term, value_term)
    assert line_deficit(torch.tanh, q, (1.0, 1.0)) == pytest.approx(
        float(deficit), rel=0.0, abs=tolerance
    )
