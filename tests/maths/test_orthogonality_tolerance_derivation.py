"""The orthogonality tolerance is the rounding bound it is derived from, not a looser one.

:func:`initconv.testing.assert_orthogonal` (and the structured schemes' invariants) allow each
entry of ``W W^T - g^2 I`` the error ``g^2 max(1e-5, 2 eps) + 2 g S + S^2``, ``S = sqrt(L) s``
with ``s`` the dtype's subnormal spacing and ``L`` the longer side (the docstring: "g^2 max(1e-5,
2 eps) per entry ... plus the subnormal spacing where entries are that small"). The derivation,
from first principles: if each row of ``g Q`` (norm g) is moved by ``d`` when stored, an entry of
the Gram matrix moves by ``w_i.d_j + d_i.w_j + d_i.d_j``, at most ``2 g |d| + |d|^2``
(Cauchy-Schwarz), with equality when ``d`` is parallel to ``w``. Rounding to nearest moves an
entry by at most ``eps / 2`` of itself in the normal range, so ``|d| <= g eps / 2`` and the Gram
error is at most ``g^2 (eps + eps^2 / 4)``: ``2 eps`` leaves a factor 2 for the float64 matrix's
own error and a second rounding. Below the normal range an entry may be off by up to one spacing
``s`` (half for rounding it, half for a gain itself rounded to the grid), so ``|d| <= S`` and the
allowance is exactly ``2 g S + S^2``.

A Sylvester-Hadamard weight ``b H`` (entries ``+-b``, rows orthogonal) whose every entry is off by
the same amount in the same direction makes the Cauchy-Schwarz bound an equality, so its Gram error
is known exactly, and in float64 the check computes it exactly. The tests hold both sides:

- in float16 and bfloat16, ``g Q`` rounded once is accepted, within the derived
  ``g^2 (eps + eps^2/4)``; a weight whose entries are all ``1.25 eps`` too large relative (Gram
  error ``2.5 eps g^2``, 2.5 times what one rounding can do) is refused; an allowance of ``3 eps``
  would accept it;
- in float32 with subnormal entries, a weight whose entries are all one spacing too large (Gram
  error exactly ``2 g S + S^2``) is accepted, and one whose entries are all 1.25 spacings too large
  (beyond the allowance) is refused; ``3 g S`` would accept it, and dropping ``S^2`` would refuse
  the first.
"""

from __future__ import annotations

import math

import pytest
import torch

import initconv
from initconv.testing import assert_orthogonal

_LENGTH = 16  # a 16 x 16 Hadamard weight: L = 16, sqrt(L) = 4, all exact


def _hadamard(n: int) -> torch.Tensor:
    """Sylvester's +-1 matrix with orthogonal rows: H H^T = n I."""
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], dim=1), torch.cat([h, -h], dim=1)])
    return h


def _gram_error(weight: torch.Tensor, gain: float) -> float:
    w = weight.to(torch.float64)
    gram = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w
    return float((gram - gain**2 * torch.eye(gram.shape[0], dtype=torch.float64)).abs().max())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_an_orthogonal_weight_rounded_once_to_half_precision_meets_the_derived_bound(
    dtype: torch.dtype,
) -> None:
    gain, rows, cols = 1.7, 16, 64
    weight = initconv.orthogonal_(
        torch.empty(rows, cols, dtype=dtype), gain, generator=initconv.seeded_generator(3)
    )
    info = torch.finfo(dtype)
    # The float64 matrix is orthogonal to float32 accuracy for a narrower dtype (orthogonal_'s
    # docstring): Q Q^T = I + E, |E| <= 2^-23, so each row of g Q has norm r <= g sqrt(1 + 2^-23).
    # Storing moves an entry by at most eps/2 of itself, or by s/2 where it is subnormal, and
    # gain * Q in float64 by 2^-53 of itself first: |d| <= (eps/2 + 2^-53) r + sqrt(L) s / 2.
    e_q = 2.0**-23
    r = gain * math.sqrt(1 + e_q)
    spacing = info.smallest_normal * info.eps
    d = (info.eps / 2 + 2.0**-53) * r + math.sqrt(cols) * spacing / 2
    bound = gain**2 * e_q + 2 * r * d + d * d
    assert _gram_error(weight, gain) <= bound
    assert bound < 2 * info.eps * gain**2  # the derived bound sits inside the allowance
    assert_orthogonal(weight, gain)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_weight_off_by_more_than_its_rounding_is_refused(
    dtype: torch.dtype,
) -> None:
    eps = torch.finfo(dtype).eps
    b = 0.25  # exact in every dtype; b H has rows of norm b sqrt(16) = 1
    weight = (b * _hadamard(_LENGTH)).to(dtype)
    # Entries larger than g / sqrt(L) by the factor 1 + t eps: Gram error g^2 (2 t eps + t^2 eps^2)
    # on the diagonal, 0 off it (H's rows are orthogonal and the sums are exact).
    half = 1 / (1 + 0.5 * eps)  # t = 1/2: the worst a single rounding can do, Cauchy-Schwarz-tight
    assert_orthogonal(weight, 4 * b * half)
    wrong = 1 / (1 + 1.25 * eps)  # t = 5/4: Gram error 2.5 eps g^2 > the allowance 2 eps g^2
    gain = 4 * b * wrong
    assert _gram_error(weight, gain) >= 2.5 * eps * gain**2
    with pytest.raises(AssertionError, match="not orthogonal"):
        assert_orthogonal(weight, gain)


def test_a_float32_weight_whose_subnormal_entries_are_one_spacing_off_is_accepted() -> None:
    s = 2.0**-149  # float32's subnormal spacing: smallest_normal * eps
    k = 64  # stored entries +-64 s = 2^-143, subnormal (float32's smallest normal is 2^-126)
    weight = (k * s * _hadamard(_LENGTH)).to(torch.float32)
    assert float(weight.abs().max()) == k * s
    # The exact entries g / sqrt(L) = (k - 1) s: every stored entry one spacing too large, parallel
    # to the row, so |d| = sqrt(L) s = S and the Gram error is exactly 2 g S + S^2, the allowance;
    # the tolerance's 1e-5 g^2 is the only slack. All of it is exact in float64 (powers of two
    # times small integers, far above float64's subnormals).
    gain = math.sqrt(_LENGTH) * (k - 1) * s
    big_s = math.sqrt(_LENGTH) * s
    assert _gram_error(weight, gain) == 2 * gain * big_s + big_s**2
    assert_orthogonal(weight, gain)


def test_a_float32_weight_whose_subnormal_entries_are_beyond_one_spacing_off_is_refused() -> None:
    s = 2.0**-149
    k = 64
    weight = (k * s * _hadamard(_LENGTH)).to(torch.float32)
    # The exact entries (k - 5/4) s: every entry 1.25 spacings too large, |d| = 1.25 S. Gram error
    # 2.5 g S + 1.5625 S^2, above the allowance 2 g S + S^2 + 1e-5 g^2 by 0.5 g S + 0.5625 S^2 -
    # 1e-5 g^2 = (31.94 - 0.04) * 16 s^2 > 0 at k = 64.
    gain = math.sqrt(_LENGTH) * (k - 1.25) * s
    big_s = math.sqrt(_LENGTH) * s
    allowance = 1e-5 * gain**2 + 2 * gain * big_s + big_s**2
    assert _gram_error(weight, gain) > allowance
    with pytest.raises(AssertionError, match="not orthogonal"):
        assert_orthogonal(weight, gain)
