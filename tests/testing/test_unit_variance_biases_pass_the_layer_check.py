"""A layer whose biases are drawn with variance exactly 1, and claimed so, passes check_layer.

Promise (check_layer's docstring and initconv/testing/_bias.py): random biases are checked
against their claimed variance, mean and family, and only a claimed variance of 0 (or no family)
means constant biases, held to the mean exactly. Variance 1 is an ordinary claim: N(0, 1) biases
pass the pooled variance and mean checks at the false-alarm rate ALPHA_CHECK each, and are not
constant, so a rule that took variance 1 for constant would fail this correct scheme.
"""

from __future__ import annotations

import torch
from torch import Tensor

import initconv
from initconv._maths.sampling import Distribution
from initconv.testing import check_layer


class UnitBias(initconv.Scheme):
    """N(0, 1) weights and N(0, 1) biases, both claimed so."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        bias.copy_(torch.randn(bias.shape, generator=generator, dtype=bias.dtype))

    def expected_bias_variance(self) -> float:
        return 1.0

    def expected_bias_distribution(self) -> Distribution:
        return "normal"


class UnitBiasLinear(UnitBias, initconv.InitLinear):
    pass


def test_a_layer_with_unit_variance_biases_passes() -> None:
    # 4096 biases, enough for the bias checks to see an error of their default size.
    layer = UnitBiasLinear(64, 4096, seed=0)
    checks = check_layer(layer, detectable=None)
    assert checks[-2:] == ("bias variance", "bias mean")
