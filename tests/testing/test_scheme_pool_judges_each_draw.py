"""check_scheme's weight pool holds every fresh draw to the first one's law, and its mean to the
standardised variance 1.

Promises (check_scheme's docstring): it "raise[s] ``AssertionError`` if it fails", pooling layers
"round after round with fresh seeds"; the pooled weights are "standardised by each layer's
expected_mean() and expected_variance()", then checked with assert_mean_zero. Theory:

- a scheme whose claimed family changes from one draw to the next has no single law to pool: the
  pool must stop with an AssertionError naming the two families (here a scheme that claims normal
  weights for even seeds and uniform ones for odd seeds, and whose first round, one layer of seed
  0, agrees with itself, so only the second round shows it);
- standardised weights have variance 1, so the pooled mean's band is ``z_{1 - alpha/2} / sqrt(n)``
  (z the two-sided normal quantile at ALPHA_CHECK, scipy). Weights built with their mean at 1.2
  such bands and their mean square exactly 1 (so the variance check passes) must fail the mean
  check, with certainty: nothing is random. A band taken at variance 2 would be sqrt(2) = 1.41
  times wider and pass that mean.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import Tensor

import initconv
from initconv._maths.sampling import Distribution
from initconv.testing import ALPHA_CHECK, check_scheme, min_sample_size


class FamilyBySeed(initconv.Scheme):
    """N(0, 1) weights, claimed normal for even seeds and uniform for odd ones."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal" if (self.seed or 0) % 2 == 0 else "uniform"


def test_a_family_that_changes_between_draws_fails_naming_both() -> None:
    shapes = [{"in_features": 4, "out_features": 4, "bias": False}]
    with pytest.raises(AssertionError, match="from 'normal' to 'uniform'"):
        check_scheme(FamilyBySeed, kinds="linear", shapes=shapes, detectable=0.5)


class ShiftedWeights(initconv.Scheme):
    """Weights m + c, m - c alternating (mean exactly m), claimed N(0, 1)."""

    shift = 0.0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        signs = 1.0 - 2.0 * (torch.arange(weight.numel(), dtype=torch.float64) % 2)
        spread = math.sqrt(1 - self.shift**2)  # mean square m^2 + c^2 = 1 exactly
        weight.copy_((self.shift + spread * signs).reshape(weight.shape))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"


def test_pooled_weights_whose_mean_is_beyond_the_unit_variance_band_fail_the_mean_check() -> None:
    count = min_sample_size("normal", 0.5)
    count += count % 2  # whole pairs: one layer is the whole pool
    band = float(stats.norm.isf(ALPHA_CHECK / 2)) / math.sqrt(count)
    ShiftedWeights.shift = 1.2 * band
    shapes = [{"in_features": count, "out_features": 1, "bias": False}]
    with pytest.raises(AssertionError, match="mean is not zero"):
        check_scheme(
            ShiftedWeights, kinds="linear", shapes=shapes, dtype=torch.float64, detectable=0.5
        )
