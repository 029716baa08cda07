"""The truncated normal keeps values stored exactly at its cut +-2 sigma: the cut is closed.

``truncated_normal_`` (``initconv/_maths/sampling.py``) draws N(0, sigma^2) conditioned on
|x| <= 2 sigma, testing each value as the tensor stores it against the largest stored number at
most 2 sigma (``_largest_at_most``). Where 2 sigma is itself a number of the dtype, that bound is
2 sigma, and a value that rounds to it is inside the cut and kept.

Theory for the bfloat16 case (sigma = 0.5, cut 1.0): bfloat16 has 8 significant bits, so its
numbers are 2^-8 apart just below 1 and 2^-7 apart just above. Round to nearest, ties to even (1.0
has the even significand on both sides), sends the float32 draws in [1 - 2^-9, 1 + 2^-8] to 1.0,
and keeps exactly the draws with |x| <= 1 + 2^-8. In z = x / sigma, a kept value is stored as +-1.0
with probability p = 2 (Phi(2 + 2^-7) - Phi(2 - 2^-8)) / (2 Phi(2 + 2^-7) - 1) = 1.33e-3, so
n = 2^16 draws hold Binomial(n, p) of them, 87 on average.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from initconv._maths.sampling import _largest_at_most, truncated_normal_
from initconv.testing import ALPHA_CHECK

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _stored(value: float, dtype: torch.dtype) -> float:
    return float(torch.tensor(value, dtype=torch.float64).to(dtype))


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(DTYPES),
    st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False),
    st.booleans(),
)
def test_the_bound_is_the_largest_stored_number_at_most_the_value(
    dtype: torch.dtype, value: float, representable: bool
) -> None:
    if representable:  # a number of the dtype is its own bound
        value = _stored(value, dtype)
    bound = _largest_at_most(value, dtype)
    assert _stored(bound, dtype) == bound <= value
    above = torch.nextafter(torch.tensor(bound, dtype=dtype), torch.tensor(math.inf, dtype=dtype))
    assert float(above) > value
    if representable:
        assert bound == value


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_a_bfloat16_truncated_normal_stores_values_exactly_at_its_cut() -> None:
    n = 2**16
    weight = torch.empty(n, dtype=torch.bfloat16)
    truncated_normal_(weight, 0.5, torch.Generator().manual_seed(3))
    values = weight.double()
    assert float(values.abs().max()) <= 1.0
    kept = _normal_cdf(2 + 2**-7)
    p = 2 * (kept - _normal_cdf(2 - 2**-8)) / (2 * kept - 1)
    # Two-sided band of the Binomial(n, p) count at the suite's false-alarm rate per check.
    low = stats.binom.ppf(ALPHA_CHECK / 2, n, p)
    high = stats.binom.isf(ALPHA_CHECK / 2, n, p)
    at_cut = int((values.abs() == 1.0).sum())
    assert low <= at_cut <= high, (low, at_cut, high)
