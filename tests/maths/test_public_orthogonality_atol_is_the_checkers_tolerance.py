"""``initconv.testing.orthogonality_atol(dtype, gain)`` is the tolerance ``assert_orthogonal``
applies to a weight of a single entry.

The promise is the public function's docstring (``initconv/testing/_assertions.py``): "the
tolerance :func:`assert_orthogonal` allows on each entry of the Gram matrix of a single-entry
block". It takes no shape;
``assert_orthogonal``'s tolerance has a term for subnormal entries that grows with the block's
length (Cauchy-Schwarz: entries off by at most s each, s the subnormal spacing, move a Gram entry
of a row of length L by at most 2 g sqrt(L) s + L s^2), so the one shape whose tolerance a
shape-free value can be is the shortest, a 1 x 1 weight, L = 1. For that weight ``W = [w]`` the
Gram matrix is ``[w^2]``, and ``assert_orthogonal(W, g)`` must accept exactly when
``|w^2 - g^2| <= orthogonality_atol(dtype, g)``.

The check is made where it can tell: at gains whose error sits just below and just above the
public value, by a relative 1e-6. The subnormal term is then a visible part of the tolerance: in
float16 (s = 2^-14 2^-10 = 6e-8) already at g = 1, in bfloat16 and float32 at gains whose
entries are subnormal. The error is the same float64 expression the checker forms (``w * w``
exact, ``g ** 2`` rounded once, 1e-16 relative, far inside the 1e-6 margin), so each case is
clearly on one side. Also checked, from the same derivation: the gain rounded once to the dtype
(|d| <= s / 2 for a subnormal entry, eps g / 2 for a normal one) is always accepted.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv.testing import assert_orthogonal, orthogonality_atol

# (dtype, the single entry w): w = 1 in float16, where 2 g s = 1.2e-7 is already 6e-5 of the
# tolerance; subnormal entries in bfloat16 (2^-130 < 2^-126) and float32 (2^-140 < 2^-126).
_CASES = [
    (torch.float16, 1.0),
    (torch.bfloat16, 2.0**-130),
    (torch.float32, 2.0**-140),
]


def _gain_with_error(dtype: torch.dtype, w: float, relative: float) -> float:
    """A gain g > w with w^2 - g^2 off by (1 + relative) times orthogonality_atol(dtype, g).

    The map g -> sqrt(w^2 + (1 + relative) atol(g)) contracts by about atol'(g) / (2 g), which
    is 2 eps (2e-3 in float16) for a normal entry and s / g (1/8 in bfloat16 at 2^-130, 2^-9 in
    float32 at 2^-140) for a subnormal one: 20 steps reach its fixed point to rounding."""
    gain = w
    for _ in range(20):
        gain = math.sqrt(w * w + (1.0 + relative) * orthogonality_atol(dtype, gain))
    return gain


def _accepted(weight: torch.Tensor, gain: float) -> bool:
    try:
        assert_orthogonal(weight, gain)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("relative", [-1e-6, 1e-6])
@pytest.mark.parametrize(("dtype", "w"), _CASES)
def test_a_single_entry_weight_is_accepted_exactly_within_the_public_tolerance(
    dtype: torch.dtype, w: float, relative: float
) -> None:
    weight = torch.tensor([[w]], dtype=dtype)
    assert float(weight) == w  # the entry is exact in the dtype
    gain = _gain_with_error(dtype, w, relative)
    error = abs(w * w - gain**2)
    atol = orthogonality_atol(dtype, gain)
    # The construction puts the error on the intended side, by far more than its rounding.
    assert (error <= atol) == (relative < 0)
    assert _accepted(weight, gain) == (error <= atol)


@pytest.mark.parametrize(("dtype", "w"), _CASES)
def test_a_gain_rounded_once_to_the_dtype_is_accepted(dtype: torch.dtype, w: float) -> None:
    # Gains over two spacings either side of w (its subnormal spacing s, or eps w where normal):
    # each rounds to a nearby entry, off by at most half a spacing, inside the derivation.
    info = torch.finfo(dtype)
    spacing = info.smallest_normal * info.eps if w < info.smallest_normal else w * info.eps
    for step in range(-8, 9):
        gain = w + step * spacing / 4
        weight = torch.tensor([[gain]], dtype=torch.float64).to(dtype)
        assert _accepted(weight, gain), (dtype, gain, float(weight))
