r"""correlation_map takes a starting second moment q0 up to 2^68 inclusive, and refuses any above.

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
