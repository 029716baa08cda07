"""The variance map of k phi at gain g is that of phi at gain k g, for an activation of any size.

M(q) = g^2 E[(k phi)(sqrt(q) z)^2] = (k g)^2 E[phi(sqrt(q) z)^2]: only the product k g enters,
so q*, M'(q*) and the verdict are those of phi at k g, while the reported gain stays g. The
truth is a closed form, erf's second moment (Williams, 1997, the arcsine kernel at c = 1):

    E[erf(sqrt(q) z)^2] = (2 / pi) arcsin(2 q / (1 + 2 q)),

so q* solves q = K^2 (2 / pi) arcsin(2 q / (1 + 2 q)) with K = k g, and, differentiating,
M'(q) = K^2 (4 / pi) / ((1 + 2 q) sqrt(1 + 4 q)). At K = 2 the fixed point is q* = 2.511 with
M' = 0.254 < 1: stable. A function of the user's is solved after dividing it by a power of 2 near
its size, so k = 3 (by 4) and k = 2^-10 (by 2^-9) go through that rescaling.
"""

from __future__ import annotations

import mpmath
import pytest
import torch
from torch import Tensor

from initconv import diagnostics

_PRODUCT = 2.0  # K = k g


def _closed_form() -> tuple[float, float]:
    """(q*, M'(q*)) of erf at gain K, from the arcsine kernel."""
    with mpmath.workdps(30):
        k2 = mpmath.mpf(_PRODUCT) ** 2

        def gap(q: mpmath.mpf) -> mpmath.mpf:
            return k2 * (2 / mpmath.pi) * mpmath.asin(2 * q / (1 + 2 * q)) - q

        q_star = mpmath.findroot(gap, 2.5)
        slope = k2 * (4 / mpmath.pi) / ((1 + 2 * q_star) * mpmath.sqrt(1 + 4 * q_star))
        return float(q_star), float(slope)


@pytest.mark.parametrize("size", [3.0, 2.0**-10])
def test_a_scaled_erf_at_gain_g_has_the_fixed_point_of_erf_at_gain_k_g(size: float) -> None:
    def phi(x: Tensor) -> Tensor:
        return size * torch.erf(x)

    gain = _PRODUCT / size
    result = diagnostics.variance_map(phi, gain)
    q_star, slope = _closed_form()
    assert result.gain == gain
    assert result.verdict == "stable"
    # M(q) is computed to 1e-12 of erf^2's top (1, relative to E[erf^2] ~ 0.6: 2e-12), and a
    # relative error e in M moves the root by e / (1 - M'(q*)) = 1.3 e: 3e-12; 1e-10 is ample.
    assert result.fixed_point == pytest.approx(q_star, rel=1e-10, abs=0.0)
    # M'(q) at q > 1 is K^2 E[(z^2 - 1) erf(sqrt(q) z)^2] / (2 q), the integrand at most 63 on
    # |z| <= 8: an error of at most 63e-12 K^2 / (2 q*) = 5e-11.
    assert result.slope == pytest.approx(slope, abs=1e-9)
