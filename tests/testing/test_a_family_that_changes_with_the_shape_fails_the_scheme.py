"""check_scheme fails a scheme whose weights' family changes with the layer's shape, naming both
families, whatever ``detectable`` asks.

Promises (check_scheme's docstring): it "raise[s] ``AssertionError`` if it fails"; iid weights are
"pooled until there are min_sample_size of them", and a ``detectable`` that "needs more than 2^24
pooled weights is a ``ValueError``". Theory: the pool of a kind is standardised weights of one law,
and the sample it needs is a function of that law (min_sample_size(distribution, ...): the
variance ratio's spread is (mu_4 - 1) / n, 2 / n for normal weights and 0.8 / n for uniform ones).
A kind whose layers claim normal weights at one shape and uniform ones at another has no single
law to pool, so no sample size to ask for: the failure is the scheme's, an AssertionError that
names both families, at the default ``detectable`` as at one (1e-3) that no pool of either family
could meet (2.9e8 normal or 1.1e8 uniform weights against 2^24 = 1.7e7). Nothing here is random:
the weights are never pooled.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import initconv
from initconv._maths.sampling import Distribution
from initconv.testing import DETECTABLE, check_scheme

SHAPES = [
    {"in_features": 4, "out_features": 4, "bias": False},
    {"in_features": 5, "out_features": 4, "bias": False},
]


class FamilyByShape(initconv.Scheme):
    """N(0, 1) weights, claimed normal for four inputs and uniform otherwise."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal" if self.weight.shape[1] == 4 else "uniform"


@pytest.mark.parametrize("detectable", [DETECTABLE, 1e-3])
def test_a_family_that_changes_with_the_shape_fails_naming_both_families(
    detectable: float,
) -> None:
    with pytest.raises(AssertionError, match="family change") as failure:
        check_scheme(FamilyByShape, kinds="linear", shapes=SHAPES, detectable=detectable)
    assert "'normal'" in str(failure.value)
    assert "'uniform'" in str(failure.value)
