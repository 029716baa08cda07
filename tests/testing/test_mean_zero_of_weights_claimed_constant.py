"""assert_mean_zero with a claimed variance of 0 holds every weight to exactly 0.

Its docstring: weights of mean 0 and variance v; with v = 0 there is no spread to allow, so the
only weights that pass are zeros (the kit's rule for a claimed variance of 0: every value must
equal the mean exactly). All zeros pass; a single weight off 0, a constant 1 included, fails and
the message counts the values that differ.
"""

from __future__ import annotations

import pytest
import torch

from initconv.testing import assert_mean_zero


def test_zeros_pass_with_no_variance() -> None:
    assert_mean_zero(torch.zeros(64), 0.0, "normal")


@pytest.mark.parametrize(
    ("weights", "off"),
    [(torch.ones(64), 64), (torch.cat([torch.zeros(63), torch.tensor([1e-30])]), 1)],
    ids=["all-ones", "one-tiny-weight"],
)
def test_any_weight_off_zero_fails_with_no_variance(weights: torch.Tensor, off: int) -> None:
    with pytest.raises(AssertionError, match=rf"{off} of 64 values differ from 0\.0"):
        assert_mean_zero(weights, 0.0, "normal")
