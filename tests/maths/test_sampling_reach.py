"""A draw near the top of its dtype's range is either refused with a ValueError or finite.

The reach of each zero-mean draw of standard deviation s, derived here:

- uniform: torch's ``uniform_(-b, b)`` forms ``b - (-b) = 2 b`` in the dtype, with b = sqrt(3) s
  (U(-b, b) has variance b^2 / 3), so the draw needs 2 sqrt(3) s <= max; torch raises a
  RuntimeError of its own beyond that;
- truncated normal: cut at 2 sigma with sigma = s / sqrt(E[Z^2 | |Z| <= 2]), so it reaches
  2 s / sqrt(1 - 4 phi(2) / (2 Phi(2) - 1));
- normal: Box-Muller from uniforms of 53 bits reaches sqrt(-2 ln 2^-53) = 8.57 s; the docs promise
  refusal from 8.6 s, and acceptance below it.

Planted defects this catches (each checked by hand): ``REACH["uniform"] = math.sqrt(3.0)`` (the
bound b instead of high - low) and the truncated reach taken as 2 in ``initconv/_maths/sampling.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import initconv

DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_C = 2.0
_TRUNCATED_STD = math.sqrt(
    1 - 2 * _C * stats.norm.pdf(_C) / (2 * stats.norm.cdf(_C) - 1)
)  # std of N(0, 1) given |Z| <= 2
REACH = {
    "uniform": 2 * math.sqrt(3.0),
    "truncated_normal": _C / _TRUNCATED_STD,
}
BOX_MULLER = math.sqrt(-2 * math.log(2.0**-53))


def _layer(distribution: str, std: float, dtype: torch.dtype) -> torch.nn.Module:
    # fan_in = 1, so gain = std; VarianceScaling with scale = gain^2 draws N/U/TN of variance std^2.
    return initconv.VarianceScalingLinear(
        1, 256, scale=std * std, distribution=distribution, dtype=dtype, seed=0
    )


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(REACH)),
    st.sampled_from(DTYPES),
    st.floats(0.5, 2.0).filter(lambda r: abs(r - 1) > 1e-3),
)
def test_a_bounded_draw_is_refused_exactly_when_it_would_reach_past_the_dtype(
    distribution: str, dtype: torch.dtype, ratio: float
) -> None:
    top = torch.finfo(dtype).max
    std = ratio * top / REACH[distribution]
    if ratio > 1:
        with pytest.raises(ValueError, match=r"reaches .* std from the mean"):
            _layer(distribution, std, dtype)
    else:
        weight = _layer(distribution, std, dtype).weight.detach()
        assert bool(weight.isfinite().all())
        assert float(weight.abs().max()) <= REACH[distribution] * std * (1 + 1e-2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_normal_draw_is_refused_from_eight_point_six_std_and_kept_below_box_mullers_reach(
    dtype: torch.dtype,
) -> None:
    # 8.6 covers every value Box-Muller can give, so an accepted draw is finite.
    assert BOX_MULLER <= 8.6
    top = torch.finfo(dtype).max
    with pytest.raises(ValueError, match=r"reaches .* std from the mean"):
        _layer("normal", 1.001 * top / 8.6, dtype)
    weight = _layer("normal", 0.999 * top / 8.6, dtype).weight.detach()
    assert bool(weight.isfinite().all())
