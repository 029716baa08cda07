"""check_scheme's pools: how much they hold, what their statistics sum, and what they refuse.

Promises (check_scheme's docstring and messages) and the theory behind each check here:

- weights are pooled until there are min_sample_size of them: a single layer holding exactly that
  many is the whole pool;
- every layer's seed is seed << 24 + i, below 2**64 for every root below 2**40 (2**64 / 2**24), and
  a larger root is refused by name;
- a detectable error that needs more than 2**24 pooled weights is refused up front, stating the
  pool's float64 size (8 bytes a weight) in GiB;
- the channel statistic is the sum over the pooled input positions of y^2 and nothing else. With
  one output channel y is the standardised weight itself, so for normal weights the sum of n
  squares is exactly chi-square_n: a pool whose sum of squares sits half a unit inside scipy's
  chi-square band at ALPHA_CHECK passes. The weights are a fixed set of +-magnitudes (normal
  quantiles scaled to that sum), placed by a seeded shuffle: the mean is exactly 0 and the law
  normal-shaped (the KS distance ~0.025 is far below its 1e-9 critical value ~0.08);
- a scheme that copies output channel 0 into channel 1 fails the channel check, whose message
  names how many input positions it pooled and the variance factor 1 + (C - 1) rho = 2 (within
  the chi-square band of the n squares, doubled);
- the pooled biases' mean check rejects |mean| > z sqrt(v / n) (z the two-sided normal quantile at
  ALPHA_CHECK): biases m +- c (alternating, so the mean is exactly m and the second moment about
  0 exactly v) with m = 1.2 z sqrt(v / n) are rejected.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar

import numpy as np
import pytest
import torch
from scipy import stats
from torch import Tensor

import initconv
from initconv._maths.sampling import Distribution
from initconv.testing import (
    ALPHA_CHECK,
    BIAS_DETECTABLE,
    check_scheme,
    min_sample_size,
    variance_band,
)

POOL_LIMIT = 2**24  # check_scheme's documented most pooled weights


def test_one_layer_holding_exactly_the_needed_weights_is_the_whole_pool() -> None:
    needed = min_sample_size("normal", 0.5)
    shapes = [{"in_features": needed, "out_features": 1, "bias": False}]
    report = check_scheme(initconv.Normal, kinds="linear", shapes=shapes, detectable=0.5)
    assert report.n == needed
    assert report.layers == 1


@pytest.mark.parametrize("root", [0, 2**40 - 1])
def test_every_seed_root_below_two_to_the_forty_is_accepted(root: int) -> None:
    shapes = [{"in_features": 4, "out_features": 4, "bias": False}]
    report = check_scheme(initconv.Normal, kinds="linear", shapes=shapes, detectable=0.5, seed=root)
    assert "seeds" in report.checks


def test_a_seed_root_of_two_to_the_forty_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"seed must be below 2\*\*40 .*got 1099511627776"):
        check_scheme(initconv.Normal, kinds="linear", seed=2**40)


def test_a_detectable_error_needing_just_over_the_pool_limit_is_refused_with_its_size() -> None:
    detectable = 0.004
    needed = min_sample_size("normal", detectable)
    assert POOL_LIMIT < needed < 2 * POOL_LIMIT
    gib = needed * np.dtype(np.float64).itemsize / 2**30
    with pytest.raises(ValueError, match=r"more than the 16,777,216 a pool holds") as raised:
        check_scheme(initconv.Normal, kinds="linear", detectable=detectable)
    assert f"needs {needed:,} pooled normal weights" in str(raised.value)
    assert f"({gib:.3g} GiB as float64)" in str(raised.value)


def standard_normal_quantiles(count: int) -> np.ndarray:
    return np.asarray(stats.norm.ppf((np.arange(count) + 0.5) / count), dtype=np.float64)


class SumOfSquaresAt(initconv.Scheme):
    """One output channel; weights +-q_j with sum of squares ``total``, shuffled by the seed."""

    total: ClassVar[float] = 0.0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        half = standard_normal_quantiles(2 * weight.numel())[weight.numel() :][::2]
        values = np.concatenate([half, -half])
        values *= math.sqrt(self.total / float(np.sum(values**2)))
        order = torch.randperm(weight.numel(), generator=generator)
        weight.copy_(torch.from_numpy(values)[order].reshape(weight.shape))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"


def test_a_pool_half_a_unit_inside_the_chi_square_band_passes_the_channel_check() -> None:
    n = min_sample_size("normal", 0.5)
    n += n % 2  # pairs of +-q
    # scipy's chi-square band against the kit's shifted gamma: equal to ~1e-10 relative (1e-7
    # here); the shuffle and the float64 sum move the total by ~1e-12. Half a unit is margin.
    SumOfSquaresAt.total = float(stats.chi2.isf(ALPHA_CHECK / 2, n)) - 0.5
    shapes = [{"in_features": n, "out_features": 1, "bias": False}]
    report = check_scheme(
        SumOfSquaresAt, kinds="linear", shapes=shapes, dtype=torch.float64, detectable=0.5
    )
    assert report.n == n
    assert "uncorrelated output channels" in report.checks


class CopiedChannel(initconv.Scheme):
    """Claims iid N(0, 1) weights but copies output channel 0 into every other one."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        row = torch.randn(weight.shape[1:], generator=generator, dtype=weight.dtype)
        weight.copy_(row.expand_as(weight))

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"


def test_copied_output_channels_fail_naming_the_positions_pooled_and_the_factor() -> None:
    positions = 1000  # 2,000 weights: more than min_sample_size("normal", 0.5) = 1,786
    shapes = [{"in_features": positions, "out_features": 2, "bias": False}]
    with pytest.raises(AssertionError, match="output channels are correlated") as raised:
        check_scheme(CopiedChannel, kinds="linear", shapes=shapes, detectable=0.5)
    message = str(raised.value)
    assert f"for {positions} input positions" in message
    factor = re.search(r"variance is ([0-9.]+) times", message)
    assert factor is not None
    lo, hi = variance_band(positions, "normal")  # y = sqrt(2) x: sum y^2 = 2 chi-square_n
    assert 2 * lo <= float(factor.group(1)) <= 2 * hi


def normal_quantile_two_sided(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


class OffsetBias(initconv.Scheme):
    """N(0, 1) weights; biases claimed N(0, 1), drawn as m +- c alternating (exact mean m)."""

    offset: ClassVar[float] = 0.0

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.normal_(0.0, 1.0, generator=generator)

    def expected_variance(self) -> float:
        return 1.0

    def expected_distribution(self) -> Distribution:
        return "normal"

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        signs = 1.0 - 2.0 * (torch.arange(bias.numel(), dtype=torch.float64) % 2)
        bias.copy_(self.offset + math.sqrt(1 - self.offset**2) * signs)

    def expected_bias_variance(self) -> float:
        return 1.0

    def expected_bias_distribution(self) -> Distribution:
        return "normal"


def test_pooled_biases_with_a_mean_beyond_the_normal_threshold_are_rejected() -> None:
    count = min_sample_size("normal", BIAS_DETECTABLE)
    count += count % 2  # whole +-c pairs: one layer is the whole bias pool
    OffsetBias.offset = 1.2 * normal_quantile_two_sided(ALPHA_CHECK) / math.sqrt(count)
    shapes = [{"in_features": 1, "out_features": count}]
    with pytest.raises(AssertionError, match="pooled biases: mean is not zero"):
        check_scheme(OffsetBias, kinds="linear", shapes=shapes, dtype=torch.float64, detectable=0.5)
