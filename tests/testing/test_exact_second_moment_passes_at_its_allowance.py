"""``check_layer``'s exact second-moment check is closed at its allowance: a structured layer whose
mean((w - m)^2) is off by exactly ``second_moment_atol`` passes; with a claim one ulp lower it fails.

Promise (check_layer; its message): mean((w - m)^2) and expected_variance() "must agree to" the
allowance second_moment_atol(dtype, Var + m^2), a bound on what rounding each entry to the dtype
can do (see its comment, and tests/testing/test_second_moment_atol_is_its_rounding_bound.py). A
bound may be reached: a layer exactly at it is within float rounding, as every band of the kit is
closed at its edges (tests/testing/test_bands_are_closed_at_their_edges.py).

The tie is built exactly. In bfloat16, eps = 2^-7, so the allowance at Var + m^2 = 1 is
max(1e-5, 2 eps) + 2 sqrt(1) s + s^2 with s = 2^-126 eps = 2^-133: 2^-6 + 2^-132 + 2^-266, which is
2^-6 in float64 (2^-132 is far below half an ulp of 2^-6, 2^-59). The layer's 64 weights are
61 of +-1, one 2 and two 0: all exact in bfloat16, squares summing to 61 + 4 = 65, so the mean
square is 65 / 64 exactly, 2^-6 above the claimed variance 1. A claim of 1 - 2^-53 (one ulp below
1) puts it 2^-6 + 2^-53 away, beyond its allowance (which shrinks with the claim), and must fail.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import initconv
from initconv.testing import check_layer
from initconv.testing._checks import second_moment_atol


class _Claimed(initconv.Scheme):
    """A fixed structured weight (no iid family), claiming mean 0 and the variance ``claim``."""

    def configure(self, *, claim: float = 1.0) -> None:
        self.claim = claim

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        values = [1.0 if i % 2 else -1.0 for i in range(61)] + [2.0, 0.0, 0.0]
        weight.copy_(torch.tensor(values, dtype=weight.dtype).reshape(weight.shape))

    def expected_variance(self) -> float:
        return self.claim


def _layer(claim: float) -> initconv.Scheme:
    cls = initconv.layer_class(_Claimed, nn.Linear)
    layer: initconv.Scheme = cls(8, 8, bias=False, dtype=torch.bfloat16, claim=claim, seed=0)
    return layer


def test_the_premise_the_mean_square_is_exactly_one_allowance_above_the_claim() -> None:
    layer = _layer(1.0)
    w = layer.independent_weights().detach().to(torch.float64)
    assert w.numel() == 64
    assert float((w * w).mean()) == 65 / 64
    assert second_moment_atol(torch.bfloat16, 1.0) == 2.0**-6


def test_a_structured_layer_exactly_at_its_allowance_passes() -> None:
    layer = _layer(1.0)
    assert check_layer(layer, detectable=None) == ("invariants", "exact second moment")


def test_a_structured_layer_one_ulp_beyond_its_allowance_fails() -> None:
    layer = _layer(1.0 - 2.0**-53)
    with pytest.raises(AssertionError, match="must agree to"):
        check_layer(layer, detectable=None)
