"""The truncated normal's rejection rounds: every round draws the same law, in the tensor's precision.

``truncated_normal_`` (``initconv/_maths/sampling.py``) promises "exactly the truncated normal":
each value is drawn from N(0, sigma^2) and redrawn while it falls outside the cut, the cut tested on
the value as the tensor stores it, with the largest stored number at most 2 sigma inside (closed).
Low-precision and strided tensors are drawn in a contiguous scratch, float64 for a float64 tensor
and float32 otherwise, then copied.

Two consequences, each tested here from first principles:

- A float64 tensor holds float64 draws, strided or not. A float64 value computed by Box-Muller
  (a log, a sqrt and a cosine of 53-bit uniforms) is exactly a float32 number only if the low 29
  bits of its significand are all zero; even at a generous 2^-10 per value, n values hold at most
  ``binom.isf(ALPHA_CHECK, n, 2^-10)`` such values. A draw made in float32 and widened holds n.
- A redrawn value follows the same law as a first-round one, the cut closed in every round. In
  bfloat16 with sigma = 0.5 the cut is 1.0, a bfloat16 number; bfloat16 has 8 significant bits, so
  round to nearest (ties to even: 1.0's significand is the even one on both sides) sends x in
  [1 - 2^-9, 1 + 2^-8] to 1.0, and a kept value is stored as +-1.0 with probability
  p = 2 (Phi(2 + 2^-7) - Phi(2 - 2^-8)) / (2 Phi(2 + 2^-7) - 1) = 1.33e-3 (the float32 scratch's
  own rounding moves these ends by 2^-24 relative, a 1e-5 relative change in p, ignored). The m
  values redrawn after the first round are independent of it, so the count stored at the cut among
  them is Binomial(m, p). The first round is one ``normal_`` of the float32 scratch (drawn in
  pieces bit for bit equal to one call, which tests/layers/test_layer_contract.py checks), so the
  test draws it again from the same seed to find which values were redrawn, and checks that every
  other value is that first draw as stored.

Two statistical checks, each at ALPHA_CHECK.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

import initconv
from initconv._maths.sampling import truncated_normal_
from initconv.testing import ALPHA_CHECK


def test_a_strided_float64_truncated_normal_is_drawn_in_float64() -> None:
    weight = torch.empty(96, 64, dtype=torch.float64).t()  # strided: through the scratch
    assert not weight.is_contiguous()
    initconv.variance_scaling_(
        weight,
        0.3,
        fans=(1.0, 1.0),
        distribution="truncated_normal",
        generator=torch.Generator().manual_seed(8),
    )
    n = weight.numel()
    in_float32 = int((weight.float().double() == weight).sum())
    # The one-sided ALPHA_CHECK bound of Binomial(n, 2^-10), far above the true rate of 2^-29.
    most = stats.binom.isf(ALPHA_CHECK, n, 2.0**-10)
    assert in_float32 <= most < n / 2, (in_float32, most, n)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_redrawn_values_land_on_the_closed_cut_as_often_as_first_round_ones() -> None:
    n, sigma, seed = 2**19, 0.5, 5
    weight = torch.empty(n, dtype=torch.bfloat16)
    truncated_normal_(weight, sigma, torch.Generator().manual_seed(seed))
    first = torch.empty(n).normal_(0.0, sigma, generator=torch.Generator().manual_seed(seed))
    stored_first = first.to(torch.bfloat16)
    redrawn = stored_first.abs() > 1.0
    # Every value inside the cut at the first round kept it: the replay is the sampler's round.
    assert torch.equal(weight[~redrawn], stored_first[~redrawn])
    values = weight[redrawn].double()
    assert float(values.abs().max()) <= 1.0
    kept = _normal_cdf(2 + 2**-7)
    p = 2 * (kept - _normal_cdf(2 - 2**-8)) / (2 * kept - 1)
    m = values.numel()
    # Two-sided band of the Binomial(m, p) count at ALPHA_CHECK; m p is about 31, so the band
    # excludes 0, the count if the redraw rounds left the cut open.
    low = stats.binom.ppf(ALPHA_CHECK / 2, m, p)
    high = stats.binom.isf(ALPHA_CHECK / 2, m, p)
    at_cut = int((values.abs() == 1.0).sum())
    assert 1 <= low <= at_cut <= high, (m, low, at_cut, high)
