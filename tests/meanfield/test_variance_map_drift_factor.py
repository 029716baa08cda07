r"""Without a fixed point, variance_map's slope is the factor of the signal's way to 0 or to infinity.

VarianceMap.slope is, "without a positive fixed point, the per-layer factor M(q)/q that the
signal's second moment is multiplied by on its way to 0 or inf": the limit of M(q)/q =
g^2 E[phi(sqrt(q) z)^2] / q where the signal goes. The truths, derived here:

- On the way to 0 (tanh at g < 1: M(q) < q at every q): tanh(x)^2 = x^2 - 2 x^4 / 3 + O(x^6)
  and E[z^4] = 3 give M(q)/q = g^2 (1 - 2q + O(q^2)), tending to g^2. The maps are searched
  down to q = 2^-32 (initconv._meanfield.variance_map: below it a signal has underflowed float32
  long before), where the factor is within 2 * 2^-32 = 4.7e-10 of g^2.
- On the way to infinity, for an activation that grows like relu: phi^2 - relu^2 is bounded
  (elu: (e^x - 1)^2 <= 1 for x < 0, 0 above; gelu = x Phi(x): x^2 Phi(x)^2 below 0 and
  x^2 (1 - Phi(x)^2) above, both at most 1), so E[phi(u)^2] = q / 2 + O(1) and M(q)/q tends to
  g^2 / 2; at the search's top, 2^68, the rest is O(2^-68) = 3e-21. The signal grows at every q:
  elu^2 >= relu^2 gives M(q)/q >= g^2 / 2 = 1.125 at g = 1.5, and gelu(x) >= x / 2 for x > 0
  gives M(q)/q >= g^2 / 8 = 1.125 at g = 3: no fixed point.
"""

from __future__ import annotations

import math

import pytest

from initconv import diagnostics


@pytest.mark.parametrize("gain", [0.5, 0.9])
def test_a_vanishing_signal_is_multiplied_by_g_squared_phi_prime_0_squared(gain: float) -> None:
    result = diagnostics.variance_map("tanh", gain)
    assert result.fixed_point == 0.0
    # 2q at q = 2^-32 (4.66e-10) plus the quadrature's 1e-12: within 1e-9 of the limit g^2.
    assert result.slope == pytest.approx(gain**2, rel=1e-9)
    assert result.slope < gain**2


@pytest.mark.parametrize(("activation", "gain"), [("elu", 1.5), ("gelu", 3.0)])
def test_a_growing_signal_is_multiplied_by_half_g_squared(activation: str, gain: float) -> None:
    result = diagnostics.variance_map(activation, gain)
    assert math.isinf(result.fixed_point)
    assert result.verdict == "unstable"
    # The limit g^2 / 2, reached at 2^68 to 3e-21: only the quadrature's 1e-12 is left.
    assert result.slope == pytest.approx(gain**2 / 2, rel=1e-11)
