r"""A signal that starts near 2^68 and settles above it is refused, not reported as growing.

The promise (``correlation_map``'s ``q0`` and :func:`initconv._meanfield.variance_map.extend_up`):
the variance map's Gaussian moments are computed up to :math:`q = 2^{68}` only; where the signal
still grows there and :math:`r(q) = \sigma_w^2 \mathbb{E}[\phi(\sqrt q z)^2] / q`, the map
without the bias, is not settled at 1 or above, the fixed point may lie beyond what is computed,
and a ValueError says so. It holds whatever ``q0`` (up to :math:`2^{68}`) the signal starts at.

Theory, derived here, for :math:`\phi(x) = x (1 + k w(x))`, :math:`w(x) = (1 + x^2)^{-a}`, with
:math:`k = 10^{-3}`, :math:`a = 0.05`, at :math:`\sigma_w^2 = s = 1 - 10^{-4}` without bias:

- :math:`r(q) = s\, \mathbb{E}[z^2 (1 + k (1 + q z^2)^{-a})^2]`, strictly decreasing in
  :math:`q` (each factor :math:`(1 + q z^2)^{-a}` is), so the excess :math:`\log r(q)` is
  positive at every :math:`q \le 2^{68}` where it is positive at :math:`2^{68}`; mpmath gives
  :math:`r(2^{68}) - 1 \approx 8 \cdot 10^{-5}`.
- :math:`(1 + q z^2)^{-a} \le (q z^2)^{-a}` bounds :math:`r(q) \le s (1 + 2 k q^{-a} M_{2-2a}
  + k^2 q^{-2a} M_{2-4a})`, :math:`M_p = \mathbb{E}|z|^p = 2^{p/2}\Gamma(\frac{p+1}{2})/
  \sqrt\pi`, which is below 1 at :math:`q = 2^{200}`: :math:`M(q) = r(q)\, q` crosses :math:`q`
  from above between :math:`2^{68}` and :math:`2^{200}`, a stable fixed point the signal settles
  at, above what is computed.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest
from torch import Tensor

from initconv.diagnostics import correlation_map

_K = 1e-3
_A = 0.05
_S = 1 - 1e-4
_Q_TOP = 2.0**68


def _phi(x: Tensor) -> Tensor:
    return x * (1 + _K * (1 + x * x) ** (-_A))


def _ratio(q: float) -> float:
    """r(q) = s E[z^2 (1 + k (1 + q z^2)^-a)^2], by mpmath at 30 digits (split at the kink-like
    bend of width q^-1/2 around 0, where the integrand changes fastest)."""
    with mpmath.workdps(30):
        bend = 1 / mpmath.sqrt(q)

        def integrand(z: mpmath.mpf) -> mpmath.mpf:
            return z * z * (1 + _K * (1 + q * z * z) ** (-_A)) ** 2 * mpmath.npdf(z)

        points = [-mpmath.inf, -1, -bend, 0, bend, 1, mpmath.inf]
        return float(_S * mpmath.quad(integrand, points))


def _ratio_bound(q: float) -> float:
    """The upper bound s (1 + 2 k q^-a M_{2-2a} + k^2 q^-2a M_{2-4a}) on r(q)."""

    def absolute_moment(p: float) -> float:
        return math.pow(2.0, p / 2) * math.gamma((p + 1) / 2) / math.sqrt(math.pi)

    return _S * (
        1
        + 2 * _K * math.pow(q, -_A) * absolute_moment(2 - 2 * _A)
        + _K**2 * math.pow(q, -2 * _A) * absolute_moment(2 - 4 * _A)
    )


def test_the_signal_still_grows_at_2_68_and_settles_above_it() -> None:
    # The premise of the refusal, from the theory alone: 8e-5 above 1 at 2^68, far beyond the
    # moments' ~1e-6 accuracy there (initconv._meanfield.gaussian.Q_TOP), and below 1 by 2^200.
    assert _ratio(_Q_TOP) > 1 + 5e-5
    assert _ratio_bound(2.0**200) < 1


@pytest.mark.parametrize("q0", [1.0, 2.0**66, _Q_TOP])
def test_a_fixed_point_above_2_68_is_refused_whatever_the_start(q0: float) -> None:
    with pytest.raises(ValueError, match=r"bias_std=0\.0: .*above q = 2\^68"):
        correlation_map(_phi, math.sqrt(_S), 0.0, q0=q0)
