"""assert_channels_uncorrelated measures about the claimed mean, over the output channels (dim 0),
with the band its law gives, on any weight of at least 2 dimensions.

Promises (its docstring): for each input position k, ``y_k = sum_c (w_ck - m) / sqrt(C v)`` over
the C output channels, m the claimed ``mean``; independent channels give ``E y_k^2 = 1``; the band
for the mean of ``y^2`` is variance_band's construction (a shifted gamma matched to three
cumulants) with y's moments; a weight must be a Tensor of at least 2 dimensions. Theory used here:

- measured about the claimed m, weights N(mu, v) give ``E y^2 = 1 + C (mu - m)^2 / v``. Drawn
  N(m, v), they pass at false-alarm rate ALPHA_CHECK; claimed one standard deviation off, with
  C = 16 channels, the sum of y^2 over P = 64 positions is a noncentral chi-square with mean
  64 + 16 * 64 = 1088 against the band's upper edge 158.9 (chi-square_64 at ALPHA_CHECK / 2):
  it misses with probability 2e-97 (scipy's ncx2). Standardising about -m instead moves every y
  by 2 m sqrt(C / v) and fails the first.
- with one output channel, y_k is the standardised weight itself, so ``sum y^2`` over P positions
  has the cumulants of a sum of P standardised squares: P, P (mu4 - 1), P (mu6 - 3 mu4 + 2),
  for uniform weights mu4 = 9/5, mu6 = 27/7 (E X^(2k) = 3^k / (2k + 1) for U(-sqrt 3, sqrt 3)).
  The band is the shifted gamma with those cumulants, built here with scipy's gamma. How many
  inputs the weight has does not enter (a (1, P) weight has P inputs and one channel); a law
  taken for P channels would be nearly normal (mu4 -> 3), its band about sqrt(2 / 0.8) = 1.6
  times as wide.
  Weights ``+-a`` with ``a^2`` a millionth outside the band's edge are refused, a millionth inside
  accepted (the statistic is then exact to ~1e-15, so the verdict is exact), and the refusal
  states the band as variance factors, the edges over P.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from scipy import stats

from initconv.testing import assert_channels_uncorrelated

POSITIONS = 4000


def uniform_band(n: int, alpha: float) -> tuple[float, float]:
    """The central 1 - alpha interval of the mean of n squares of standardised uniform values."""
    mu4, mu6 = 9 / 5, 27 / 7
    k1, k2, k3 = n, n * (mu4 - 1), n * (mu6 - 3 * mu4 + 2)
    # A gamma of shape a and scale s has cumulants a s, a s^2, 2 a s^3.
    shape = 4 * k2**3 / k3**2
    scale = k3 / (2 * k2)
    loc = k1 - shape * scale
    lo = loc + scale * float(stats.gamma.ppf(alpha / 2, shape))
    hi = loc + scale * float(stats.gamma.isf(alpha / 2, shape))
    return lo / n, hi / n


def plus_minus(count: int, square: float) -> torch.Tensor:
    """A (1, count) weight of +-sqrt(square), alternating: mean 0, mean square ``square``."""
    signs = 1.0 - 2.0 * (torch.arange(count, dtype=torch.float64) % 2)
    return (math.sqrt(square) * signs).reshape(1, count)


@pytest.mark.parametrize("mean", [-3.0, 0.5, 40.0])
def test_normal_weights_are_measured_about_the_claimed_mean(mean: float) -> None:
    variance, channels, positions = 0.25, 16, 64
    generator = torch.Generator().manual_seed(7)
    z = torch.randn(channels, positions, dtype=torch.float64, generator=generator)
    weight = mean + math.sqrt(variance) * z  # a Linear's 2-D weight: (out, in)
    assert_channels_uncorrelated(weight, variance, "normal", mean=mean)
    with pytest.raises(AssertionError, match="output channels are correlated"):
        assert_channels_uncorrelated(weight, variance, "normal", mean=mean + math.sqrt(variance))


def test_a_linear_layers_two_dimensional_weight_is_accepted() -> None:
    # The docstring's "at least 2 dimensions": a Linear's (out, in) weight is checked, and only a
    # 1-D tensor is refused. N(0, 1/64) draws pass at ALPHA_CHECK.
    linear = torch.nn.Linear(64, 32)
    with torch.no_grad():
        linear.weight.normal_(0.0, 0.125, generator=torch.Generator().manual_seed(3))
    assert linear.weight.dim() == 2
    assert_channels_uncorrelated(linear.weight, 0.125**2, "normal")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        assert_channels_uncorrelated(linear.weight[0], 0.125**2, "normal")


@pytest.mark.parametrize("alpha", [1e-3, 1e-9])
def test_one_output_channel_gets_the_band_of_its_positions_squares_whatever_its_inputs(
    alpha: float,
) -> None:
    lo, hi = uniform_band(POSITIONS, alpha)
    for edge, outward in ((hi, 1 + 1e-6), (lo, 1 - 1e-6)):
        inward = 2 - outward
        assert_channels_uncorrelated(
            plus_minus(POSITIONS, edge * inward), 1.0, "uniform", alpha=alpha
        )
        with pytest.raises(AssertionError, match="output channels are correlated") as raised:
            assert_channels_uncorrelated(
                plus_minus(POSITIONS, edge * outward), 1.0, "uniform", alpha=alpha
            )
        message = str(raised.value)
        assert f"for {POSITIONS} input positions" in message
        stated = re.search(r"outside the band \[([0-9.]+), ([0-9.]+)\]", message)
        assert stated is not None
        # Five decimals printed; scipy's quantiles agree with the kit's to ~1e-12.
        assert float(stated.group(1)) == pytest.approx(lo, abs=6e-6)
        assert float(stated.group(2)) == pytest.approx(hi, abs=6e-6)
        factor = re.search(r"variance is ([0-9.]+) times", message)
        assert factor is not None
        assert float(factor.group(1)) == pytest.approx(edge * outward, abs=6e-6)
