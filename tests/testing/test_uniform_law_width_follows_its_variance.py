"""``assert_distribution(w, "uniform", v, mean=m)`` tests against U(m - sqrt(3 v), m + sqrt(3 v)).

Its docstring states the law: the uniform of variance v has half-width b = sqrt(3 v), since
Var U(-b, b) = b^2 / 3. At v = 1 a wrong width formula can hide (sqrt(3) * 1 = sqrt(3) / 1), so
these checks use variances away from 1 and a non-zero mean.

The samples are deterministic: the n midpoint quantiles x_i = m + b (2 (i + 1/2) / n - 1) of the
law. Their empirical cdf is within 1 / (2 n) of the law's cdf everywhere, so the one-sample
Kolmogorov-Smirnov statistic is exactly D = 1 / (2 n) = 5e-4 at n = 1000, whose p-value is 1 to
float precision (P(D_n >= 1/(2n)) = 1): the check must pass, with no false-alarm rate to budget.
Against the law of 4 times the variance (twice the width) the same points give D = 1/4, and the
Kolmogorov bound P(D_n >= d) <= 2 exp(-2 n d^2) = 2 exp(-125) ~ 1e-54 is far below the default
alpha = 1e-9: the check must refuse.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from initconv.testing import assert_distribution

N = 1000


def _uniform_quantiles(variance: float, mean: float) -> Tensor:
    half_width = math.sqrt(3.0 * variance)
    u = (torch.arange(N, dtype=torch.float64) + 0.5) / N
    return mean + half_width * (2.0 * u - 1.0)


@pytest.mark.parametrize(("variance", "mean"), [(4.0, 0.0), (1.0 / 3.0, 0.0), (0.01, 0.5)])
def test_the_quantiles_of_a_uniform_pass_at_its_own_variance(variance: float, mean: float) -> None:
    assert_distribution(_uniform_quantiles(variance, mean), "uniform", variance, mean=mean)


@pytest.mark.parametrize(("variance", "mean"), [(4.0, 0.0), (1.0 / 3.0, 0.0), (0.01, 0.5)])
def test_the_quantiles_of_a_uniform_are_refused_at_four_times_its_variance(
    variance: float, mean: float
) -> None:
    with pytest.raises(AssertionError, match="do not follow uniform"):
        assert_distribution(_uniform_quantiles(variance, mean), "uniform", 4 * variance, mean=mean)
