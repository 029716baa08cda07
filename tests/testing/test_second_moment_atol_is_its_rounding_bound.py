"""second_moment_atol is the rounding bound it is derived from, not a looser one.

check_layer holds a structured scheme's mean square about its mean to ``expected_variance()`` up
to ``second_moment_atol(dtype, m)``, m the claimed ``E[w^2] = Var + mean^2``; its comment states
the model: each entry is the exact value rounded to the dtype, and below the normal range off by
up to one subnormal spacing ``s``. The bound from first principles:

- normal range: rounding to nearest moves an entry by at most ``eps / 2`` of itself, its square
  by at most ``(1 + eps / 2)^2 - 1 = eps + eps^2 / 4`` of itself, so the mean square by at most
  ``(eps + eps^2 / 4) m``; the tolerance's ``max(1e-5, 2 eps) m`` leaves a factor 2 for the
  float32/float64 computation before the rounding (1e-5 relative, the QR allowance, which
  dominates in float32 and float64). In float16 and bfloat16 the term is ``2 eps m``: entries all
  ``1.25 eps`` of themselves too large (a mean-square error of ``2.5 eps + 1.5625 eps^2``, 2.5
  times what one rounding can do) are not float rounding and must be refused; an allowance of
  ``3 eps`` would accept them.
- subnormal range: an entry moved by ``s`` moves its square by ``2 |x| s + s^2``, and
  ``mean |x| <= sqrt(m)`` (Cauchy-Schwarz, equality when every |x| is the same), so the mean
  square moves by at most ``2 sqrt(m) s + s^2``, attained by entries of equal size all moved one
  spacing outward. Entries all 1.25 spacings too large move it by ``2.5 sqrt(m) s + 1.5625 s^2``:
  refused, where ``3 sqrt(m) s`` would accept them. (tests/testing/test_checks_second_moment_atol.py
  holds the sound side: every one-spacing move is within the tolerance.)

The same construction holds the orthogonality tolerance to its derivation
(tests/maths/test_orthogonality_tolerance_derivation.py). All numbers here are exact or within a
few float64 ulps of quantities that differ from the tolerance by 0.2 of it or more.
"""

from __future__ import annotations

import math

import pytest
import torch

import initconv
from initconv.testing import check_layer, second_moment_atol

HALF = (torch.float16, torch.bfloat16)


@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_entries_rounded_once_are_within_the_tolerance(dtype: torch.dtype) -> None:
    eps = torch.finfo(dtype).eps
    for claimed in (1e-4, 0.125, 1.0, 300.0):
        # Every entry stored eps / 2 of itself too large: the worst single rounding.
        moved = claimed * ((1 + eps / 2) ** 2 - 1)
        assert moved <= second_moment_atol(dtype, claimed)


@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_entries_off_by_more_than_a_rounding_are_refused(dtype: torch.dtype) -> None:
    eps = torch.finfo(dtype).eps
    for claimed in (1e-4, 0.125, 1.0, 300.0):
        moved = claimed * ((1 + 1.25 * eps) ** 2 - 1)  # (2.5 eps + 1.5625 eps^2) m
        assert moved > second_moment_atol(dtype, claimed)


class _IdentityClaimingLess(initconv.IdentityLinear):
    """The identity, claiming the mean square of entries ``1 / (1 + t eps)`` instead of 1."""

    shrink = 0.0  # t

    def expected_variance(self) -> float:
        mean = super().expected_mean()
        eps = torch.finfo(self.weight.dtype).eps
        square = (super().expected_variance() + mean**2) / (1 + self.shrink * eps) ** 2
        return square - mean**2


@pytest.mark.parametrize("dtype", HALF)
def test_check_layer_refuses_a_half_precision_claim_beyond_rounding(dtype: torch.dtype) -> None:
    # An 8 x 8 identity: entries 1 and 0, mean 1/8, E[w^2] = 1/8, all exact in the dtype.
    _IdentityClaimingLess.shrink = 0.5  # within one rounding of the stored ones: accepted
    assert "exact second moment" in check_layer(
        _IdentityClaimingLess(8, 8, seed=0, dtype=dtype), detectable=None
    )
    _IdentityClaimingLess.shrink = 1.25  # 2.5 times a rounding: refused
    with pytest.raises(AssertionError, match="float rounding"):
        check_layer(_IdentityClaimingLess(8, 8, seed=0, dtype=dtype), detectable=None)


def test_float32_subnormal_entries_beyond_one_spacing_off_are_refused() -> None:
    s = 2.0**-149  # float32's subnormal spacing
    assert s == torch.finfo(torch.float32).smallest_normal * torch.finfo(torch.float32).eps
    for k in (64, 1000):  # stored entries +-k s, subnormal (float32's smallest normal is 2^-126)
        one = (k - 1) ** 2 * s**2  # the claimed mean square of entries (k - 1) s: one spacing off
        assert k**2 * s**2 - one <= second_moment_atol(torch.float32, one)
        claimed = (k - 1.25) ** 2 * s**2  # entries (k - 5/4) s: 1.25 spacings off
        moved = k**2 * s**2 - claimed  # (2.5 (k - 1.25) + 1.5625) s^2, exact in float64
        # Over the allowance 2 sqrt(m) s + s^2 + 1e-5 m by 0.5 (k - 1.25) s^2 + 0.5625 s^2 - 1e-5 m.
        assert moved > second_moment_atol(torch.float32, claimed)
        assert math.isfinite(moved)
