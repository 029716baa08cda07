"""The bias pool standardises each bias about its claimed mean, and stops once it holds enough.

Promises (initconv/testing/_bias.py): bias_view gives each layer's biases "with their claimed mean,
variance and family"; check_bias_pool "pool[s] the standardised biases until a BIAS_DETECTABLE
error is seen with power 1 - alpha" (min_sample_size of them) and checks their variance and mean.
Theory:

- standardised about the claimed mean m, biases N(m, s^2) become N(0, 1): they pass the pooled
  variance and mean checks at false-alarm rate ALPHA_CHECK each. A scheme of N(0.5, 0.1^2) biases
  (a user's scheme: initconv's own random biases have mean 0) is the test; standardised about -m
  instead, the pooled mean would sit 2 m / s = 10 standard deviations off and the mean square
  near 101, rejected with certainty.
- "until": a first layer that holds exactly the needed number of biases is the whole pool, so no
  fresh layer is drawn (as for the weights: tests/testing/test_scheme_pool_accounting.py). The
  build function here fails if it is ever called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

import initconv
from initconv._layers.base import InitLayer
from initconv._maths.sampling import Distribution
from initconv.testing import ALPHA_CHECK, BIAS_DETECTABLE, check_scheme, min_sample_size
from initconv.testing._bias import check_bias_pool

BIAS_MEAN, BIAS_STD = 0.5, 0.1


class MeanBias(initconv.Scheme):
    """N(0, 1) weights; biases N(0.5, 0.1^2), claimed so."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        z = torch.randn(bias.shape, generator=generator, dtype=bias.dtype)
        bias.copy_(BIAS_MEAN + BIAS_STD * z)

    def expected_bias_mean(self) -> float:
        return BIAS_MEAN

    def expected_bias_variance(self) -> float:
        return BIAS_STD**2

    def expected_bias_distribution(self) -> Distribution:
        return "normal"


def test_biases_with_a_non_zero_claimed_mean_pass_the_pooled_checks() -> None:
    count = min_sample_size("normal", BIAS_DETECTABLE)  # one layer is the whole bias pool
    shapes = [{"in_features": 1, "out_features": count}]
    report = check_scheme(
        MeanBias, kinds="linear", shapes=shapes, dtype=torch.float64, detectable=0.5
    )
    assert {"bias variance", "bias mean"} <= set(report.checks)


def _never_build(_: Mapping[str, Any]) -> InitLayer:
    raise AssertionError("drew a fresh layer although the pool already held enough biases")


def test_a_layer_holding_exactly_the_needed_biases_is_the_whole_pool() -> None:
    needed = min_sample_size("normal", BIAS_DETECTABLE, ALPHA_CHECK)
    layer = initconv.KaimingNormalLinear(
        2, needed, bias=True, bias_init="normal", bias_std=0.1, dtype=torch.float64, seed=0
    )
    # N(0, 0.1^2) biases: the pooled checks pass at ALPHA_CHECK each (the seed is fixed).
    assert check_bias_pool([layer], _never_build, [{}], ALPHA_CHECK) == [
        "bias variance",
        "bias mean",
    ]
