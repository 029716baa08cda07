"""check_scheme's pooled channel check judges the channel sums by the law for the layers' own
number of output channels.

Promise (check_scheme's docstring): on the pool, assert_channels_uncorrelated's check, whose
statistic per input position k is ``y_k = sum_c (w_ck - m) / sqrt(C v)`` over the C output
channels (dim 0), with "variance_band's construction with y's moments, which follow from the
weights' cumulants (a sum's cumulants add)"; the refusal states the band as variance factors.
Theory, derived here: for C = 2 iid standardised uniform values X1, X2 (mu4 = 9/5,
mu6 = 27/7), y = (X1 + X2) / sqrt 2 has E y^4 = (2 mu4 + 6) / 4 and
E y^6 = (2 mu6 + 30 mu4) / 8, so y^2 has cumulants 1, E y^4 - 1, E y^6 - 3 E y^4 + 2 per position;
over P positions they are P times those, and the band (cumulant_band, the shifted gamma) over P
is what the refusal must state. The number of inputs (here 50) does not enter; a law taken for
50 channels would be nearly normal, about 1.19 times as wide.
The scheme under test copies its first output channel to the second (perfectly correlated
channels, each weight still uniform with the claimed variance): E y^2 = 2, far outside a band
around 1, so the channel check refuses it. The variance, mean and KS checks run first on the pool,
whose values come in equal pairs: their spread is sqrt 2 times that of independent values, so
they pass except with probability about 1e-4 at ALPHA_CHECK; the seed is fixed.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import Tensor

import initconv
from initconv._maths.sampling import Distribution
from initconv.testing import ALPHA_CHECK, check_scheme, cumulant_band

INPUTS, HALF_WIDTH = 50, 0.5


class CopiedChannel(initconv.Scheme):
    """U(-1/2, 1/2) weights, claimed iid, but the second output channel repeats the first."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        first = torch.rand(weight.shape[1:], generator=generator, dtype=weight.dtype)
        weight.copy_(((first - 0.5) * 2 * HALF_WIDTH).expand_as(weight))

    def expected_variance(self) -> float:
        return (2 * HALF_WIDTH) ** 2 / 12

    def expected_distribution(self) -> Distribution:
        return "uniform"


def test_the_pooled_channel_band_is_the_law_of_two_channel_sums() -> None:
    with pytest.raises(AssertionError, match="output channels are correlated") as caught:
        check_scheme(
            CopiedChannel,
            kinds="linear",
            shapes=[{"in_features": INPUTS, "out_features": 2}],
            dtype=torch.float64,
            bias=False,
        )
    message = str(caught.value)
    found = re.search(r"\[([0-9.]+), ([0-9.]+)\] for (\d+) input positions", message)
    assert found is not None, message
    lo, hi, positions = float(found[1]), float(found[2]), int(found[3])
    assert positions % INPUTS == 0  # whole layers pooled
    mu4, mu6 = 9 / 5, 27 / 7
    y4, y6 = (2 * mu4 + 6) / 4, (2 * mu6 + 30 * mu4) / 8
    k1, k2, k3 = positions * 1.0, positions * (y4 - 1), positions * (y6 - 3 * y4 + 2)
    band = cumulant_band(k1, k2, k3, alpha=ALPHA_CHECK)
    # The message rounds the edges over P to 5 decimals.
    assert math.isclose(lo, band[0] / positions, abs_tol=5.1e-6)
    assert math.isclose(hi, band[1] / positions, abs_tol=5.1e-6)
