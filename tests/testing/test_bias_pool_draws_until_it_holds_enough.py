"""The bias pool draws fresh layers until it holds at least the needed number of biases.

Promise (initconv/testing/_bias.py, check_bias_pool): it pools "the standardised biases until a
BIAS_DETECTABLE error is seen with power 1 - alpha", i.e. until it holds min_sample_size of them
(the module docstring: "as the weights' pool does for theirs"). A first layer holding one bias
fewer than that is not enough, so exactly one fresh layer (of one bias) is drawn; one holding
exactly that many is (tests/testing/test_bias_pool_centres_and_stops.py). The biases are
N(0, 0.1^2), claimed so: the pooled checks pass at ALPHA_CHECK each (the seeds are fixed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

import initconv
from initconv._layers.base import InitLayer
from initconv.testing import ALPHA_CHECK, BIAS_DETECTABLE, min_sample_size
from initconv.testing._bias import check_bias_pool


def layer(outputs: int, seed: int) -> InitLayer:
    return initconv.KaimingNormalLinear(
        2, outputs, bias=True, bias_init="normal", bias_std=0.1, dtype=torch.float64, seed=seed
    )


def test_one_bias_short_of_the_needed_number_draws_one_more_layer() -> None:
    needed = min_sample_size("normal", BIAS_DETECTABLE, ALPHA_CHECK)
    drawn: list[InitLayer] = []

    def build(_: Mapping[str, Any]) -> InitLayer:
        drawn.append(layer(1, seed=1 + len(drawn)))
        return drawn[-1]

    result = check_bias_pool([layer(needed - 1, seed=0)], build, [{}], ALPHA_CHECK)
    assert result == ["bias variance", "bias mean"]
    assert len(drawn) == 1
