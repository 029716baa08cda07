r"""correlation_map takes a starting second moment q0 from 2^-68 to 2^68 inclusive, and refuses
any outside.

The variance map's Gaussian moments are computed up to q = 2^68 (initconv._meanfield.gaussian.Q_TOP,
the accuracy limit documented there), and correlation_map's refusal says "q0 must be at most
2^68": 2^68 itself is a start it can follow, the next float above is not.

The truth at the edge, derived here: relu at sigma_w = 1 without bias has M(q) = E[relu(sqrt(q)
z)^2] = q / 2 exactly (half the Gaussian's second moment), so from any q0 the signal halves every
layer and fades to q* = 0, where chi_1 = (phi'(0-)^2 + phi'(0+)^2) / 2 = 1 / 2: ordered.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv.diagnostics import correlation_map

_Q_TOP = 2.0**68


def test_a_signal_starting_at_2_68_is_followed_to_its_fixed_point() -> None:
    result = correlation_map("relu", 1.0, 0.0, q0=_Q_TOP)
    assert result.q_star == 0.0
    # chi_1 at q* = 0 is the mean of the one-sided slopes squared, (0 + 1) / 2, exact in floats.
    assert result.chi_1 == 0.5
    assert result.phase == "ordered"


def test_a_signal_starting_above_2_68_is_refused() -> None:
    with pytest.raises(ValueError, match=r"q0 must be at most 2\^68"):
        correlation_map("relu", 1.0, 0.0, q0=math.nextafter(_Q_TOP, math.inf))


def _signed_square(x: torch.Tensor) -> torch.Tensor:
    return x * x.abs()


def test_a_signal_starting_at_2_minus_68_is_followed_and_one_below_is_refused() -> None:
    # x|x| + a bias: M(q) = 3 sigma_w^2 q^2 + sigma_b^2 has its stable root at
    # (1 - sqrt(1 - 12 sigma_w^2 sigma_b^2)) / (6 sigma_w^2), 0.0025190366 at (1, 0.05); a signal
    # starting at 2^-68 rises to it. Below 2^-68 the map's moments (q^2 small) underflow: refused
    # by name, as above 2^68, not "too rough to integrate".
    expected = (1 - math.sqrt(1 - 12 * 0.05**2)) / 6
    result = correlation_map(_signed_square, 1.0, 0.05, q0=2.0**-68)
    assert result.q_star == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match=r"at least 2\^-68 .*got 1e-200"):
        correlation_map(_signed_square, 1.0, 0.05, q0=1e-200)
