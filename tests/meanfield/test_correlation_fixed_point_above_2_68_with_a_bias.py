r"""With a bias, a fixed point above q = 2^68 is refused, not reported as a signal that grows.

correlation_map (through variance_map.extend_up) computes the variance map's Gaussian moments up to
q = 2^68 only; where M(q) > q still holds there and a fixed point may lie above, it must raise a
ValueError, not claim q* = inf (the signal growing without a fixed point). The truth, derived here
for phi(x) = x (1 - k (1 + x^2)^(-e/2)) with 0 < k < 1, e > 0, at sigma_w = 1 and a large
sigma_b:

- 0 < phi(x) / x < 1 for x != 0, so r(q) = E[phi(sqrt(q) z)^2] / q < 1 at every q: the part of
  M(q) / q = r(q) + sigma_b^2 / q without the bias is below 1 at 2^68 (and rising towards 1).
- With w = (1 + q z^2)^(-e/2) <= 1, 1 - r(q) = E[z^2 (2 k w - k^2 w^2)] lies between k E[z^2 w]
  and 2 k E[z^2 w] <= 2 k q^(-e/2) E[|z|^(2 - e)] = B(q), E[|z|^s] = 2^(s/2) Gamma((s + 1)/2) /
  sqrt(pi). So with sigma_b^2 = 2 * 2^68 B(2^68), M(2^68) / 2^68 >= 1 + B(2^68) > 1.
- 1 - r(q) >= k E[z^2 w] falls like q^(-e/2), slower than sigma_b^2 / q, so M(q) / q < 1 at some
  q above 2^68: M(q) = q somewhere in between (intermediate values), a fixed point above what is
  computed.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest
from torch import Tensor

from initconv.diagnostics import correlation_map

_K = 1e-3
_E = 0.05
_Q_TOP = 2.0**68


def _phi(x: Tensor) -> Tensor:
    return x * (1 - _K * (1 + x * x) ** (-_E / 2))


def _deficit_bound(q: float) -> float:
    """B(q) = 2 k q^(-e/2) E[|z|^(2 - e)], an upper bound on 1 - r(q)."""
    s = 2 - _E
    absolute_moment = 2 ** (s / 2) * mpmath.gamma((s + 1) / 2) / mpmath.sqrt(mpmath.pi)
    return float(2 * _K * q ** (-_E / 2) * absolute_moment)


def test_a_fixed_point_above_2_68_that_a_bias_pushes_there_is_refused() -> None:
    # sigma_b^2 = 2 * 2^68 B: M(2^68) / 2^68 >= 1 + B, B ~ 6e-4, far above the moments' 1e-6
    # accuracy at 2^68 (initconv._meanfield.gaussian.Q_TOP), so the map still grows there.
    bias_std = math.sqrt(2 * _Q_TOP * _deficit_bound(_Q_TOP))
    with pytest.raises(ValueError, match=r"bias_std=.*above q = 2\^68"):
        correlation_map(_phi, 1.0, bias_std)
