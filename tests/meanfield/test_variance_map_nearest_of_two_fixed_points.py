r"""variance_map reports the fixed point of M nearest to q = 1 when M has two, 22-fold apart.

VarianceMap.fixed_point is documented as "the positive fixed point of M nearest to 1". The truth
is derived here, independent of the package, for an activation whose map dips below the diagonal
on a band of q: phi(x) = x h(x), h(x) = 1 - b y exp(-y) with y = x^2 / s (b = 2, s = 50), so that
h = 1 at 0 and at infinity and dips to 1 - 2 / e at |x| = sqrt(s). With t = q / s, expanding h^2
and using E[z^(2m) exp(-c z^2)] = (2m - 1)!! (1 + 2c)^(-(2m + 1) / 2):

    r(q) = E[phi(sqrt(q) z)^2] / q = 1 - 6 b t (1 + 2t)^(-5/2) + 15 b^2 t^2 (1 + 4t)^(-7/2),

1 at both ends with a single dip between; at g^2 = 1 / 0.55 the map M(q) / q = g^2 r(q) crosses 1
at q1 ~ 3.1 (downward: stable) and q2 ~ 67.6 (upward), and exceeds 1 elsewhere. mpmath finds both
roots (30 digits) and M'(q1) = g^2 d(q r(q))/dq ~ 0.52; the root nearest 1 is q1.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

from initconv.diagnostics import variance_map

_B = 2
_S = 50
_LEVEL = 0.55  # 1 / g^2: where r(q) crosses it lie the fixed points


def _phi(x: Tensor) -> Tensor:
    y = x * x / _S
    return x * (1 - _B * y * torch.exp(-y))


def _ratio(q: mpmath.mpf) -> mpmath.mpf:
    """r(q) = E[phi(sqrt(q) z)^2] / q in closed form."""
    t = q / _S
    return 1 - 6 * _B * t * (1 + 2 * t) ** -2.5 + 15 * _B**2 * t * t * (1 + 4 * t) ** -3.5


def test_of_two_fixed_points_the_one_nearest_1_is_reported() -> None:
    with mpmath.workdps(30):
        gain2 = 1 / mpmath.mpf(_LEVEL)

        def gap(q: mpmath.mpf) -> mpmath.mpf:
            return gain2 * _ratio(q) - 1

        near = mpmath.findroot(gap, (2, 4), solver="anderson")
        far = mpmath.findroot(gap, (40, 80), solver="anderson")
        slope = gain2 * mpmath.diff(lambda q: q * _ratio(q), near)
        gain = float(mpmath.sqrt(gain2))
        near, far, slope = float(near), float(far), float(slope)
    # Two roots, the far one 22-fold above the near one: |log near| < |log far|.
    assert 2 < near < 4
    assert 40 < far < 80
    result = variance_map(_phi, gain)
    # E[phi^2] is computed to 1e-12 of its integrand's top on |z| <= 8, 64 q h^2 <= 64 q: 1.2e-10
    # of E[phi^2] ~ 0.55 q. The excess log(M / q) has slope M' - 1 ~ -0.48 in log q, so q* moves by
    # at most 1.2e-10 / 0.48 = 2.5e-10 relative, plus the root finder's 1e-13 in log q.
    assert result.fixed_point == pytest.approx(near, rel=3e-10, abs=0.0)
    # M' = g^2 E[(z^2 - 1) phi^2] / (2 q): the integrand's top 63 * 64 q at 1e-12, times
    # g^2 / (2 q) = 0.91 / q: 3.7e-9; q*'s error moves M' by |dM'/dq| q* 2.5e-10, far below.
    assert result.slope == pytest.approx(slope, abs=4e-9)
    assert result.verdict == "stable"
