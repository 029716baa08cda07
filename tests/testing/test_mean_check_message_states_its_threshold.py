"""assert_mean_zero's failure message states its threshold in standard errors, as its theory sets it.

Promise: the check rejects when ``|mean| > t sqrt(v / n)`` (its docstring), and the message says
so with its numbers: ``|mean| = ... > bound = t standard errors``. The standard error of the mean
of n iid values of variance v is ``sqrt(v / n)``, so the stated count is ``bound / sqrt(v / n)``,
which must be ``t`` itself: ``t = z_{1 - alpha / 2}`` for normal weights (the exact two-sided
normal quantile; mpmath's root of ``erfc(z / sqrt 2) = alpha`` here, independent of scipy) and
``t = sqrt(2 ln(2 / alpha))`` for uniform and truncated normal ones (Chernoff's bound for strictly
sub-Gaussian weights). The weights are built with their mean 1.5 thresholds off, so the check
fails with certainty; v = 2.5 and n = 1000 make ``v / n``, ``v n`` and 1 three different
numbers, so a message dividing by the wrong one states a count far from t.
"""

from __future__ import annotations

import math
import re

import mpmath  # type: ignore[import-untyped]
import numpy as np
import pytest

from initconv.testing import assert_mean_zero


def threshold(distribution: str, alpha: float) -> float:
    if distribution == "normal":
        with mpmath.workdps(40):
            return float(mpmath.findroot(lambda z: mpmath.erfc(z / mpmath.sqrt(2)) - alpha, 3.0))
    return math.sqrt(2 * math.log(2 / alpha))


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("alpha", [1e-3, 1e-9])
def test_the_message_states_the_threshold_in_standard_errors(
    distribution: str, alpha: float
) -> None:
    n, variance = 1000, 2.5
    t = threshold(distribution, alpha)
    standard_error = math.sqrt(variance / n)
    # Pairs +-sqrt(v) about the mean: the mean is exactly 1.5 t standard errors (to rounding).
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    weights = 1.5 * t * standard_error + math.sqrt(variance) * signs
    with pytest.raises(AssertionError, match="mean is not zero") as raised:
        assert_mean_zero(weights, variance, distribution, alpha=alpha)  # type: ignore[arg-type]
    found = re.search(r"= ([0-9.]+) standard errors", str(raised.value))
    assert found is not None
    # The message prints three decimals: half a unit of the last is the only slack.
    assert float(found.group(1)) == pytest.approx(t, abs=5e-4)
