"""assert_variance_matches(..., mean=m) measures the spread about the claimed m.

Theory: for w = mu + sqrt(v) z, the mean-known statistic about a claimed m has expectation
E[(w - m)^2] / v = 1 + (mu - m)^2 / v. So weights of the claimed mean and variance pass at any m,
and a claimed mean off by sqrt(v) doubles the statistic, which the band at n = 4000 rejects with
power ~1 (STATS.md: n >= 392 suffices for r = 2). Measuring about 0 fails the first for |m| >> sqrt(v);
measuring about the sample mean passes the second.

Planted defects this catches (each checked by hand): ``np.mean((x - mean) ** 2)`` made
``np.mean(x ** 2)`` or ``np.mean((x - x.mean()) ** 2)`` in ``initconv/testing/_assertions.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from initconv.testing import assert_variance_matches

N = 4000


@settings(max_examples=20, deadline=None)
@given(
    st.floats(-50.0, 50.0).filter(lambda m: abs(m) > 1.0),
    st.floats(0.01, 4.0),
    st.integers(0, 2**32 - 1),
)
def test_the_spread_is_measured_about_the_claimed_mean(
    mean: float, variance: float, seed: int
) -> None:
    w = torch.randn(N, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    w = mean + math.sqrt(variance) * w
    assert_variance_matches(w, variance, "normal", mean=mean)
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_variance_matches(w, variance, "normal", mean=mean + math.sqrt(variance))
