"""The correlation map's documented defaults and domain: where every variance is a fixed point,
the network stays at the second moment it starts at, ``q0``, 1 unless given; and a correlation
lies in [-1, 1].

relu at sigma_w^2 = 2 without bias maps q to 2 E[relu(sqrt(q) z)^2] = q (He et al. 2015): every q
is a fixed point, so the map reports the one the signal starts at (CorrelationMap's docstring:
"every q is a fixed point of relu at sigma_w^2 = 2 without bias, and q0 is reported").
"""

from __future__ import annotations

import math

import pytest

from initconv import diagnostics


def test_relu_at_he_settles_where_it_starts_at_one_by_default() -> None:
    assert diagnostics.correlation_map("relu", math.sqrt(2)).q_star == 1.0
    assert diagnostics.correlation_map("relu", math.sqrt(2), q0=3.0).q_star == 3.0


@pytest.mark.parametrize("c", [1.0 + 2**-52, 1.5, -1.5, 2.0])
def test_a_correlation_outside_minus_one_to_one_is_refused(c: float) -> None:
    with pytest.raises(ValueError, match=r"c must be a correlation in \[-1, 1\]"):
        diagnostics.correlation_step("tanh", c, 1.0, 0.1)


@pytest.mark.parametrize("c", [-1.0, 0.0, 1.0])
def test_the_ends_and_the_middle_of_the_correlations_are_accepted(c: float) -> None:
    # C(1) = 1 at the fixed point (identical inputs stay identical), to the quadrature's 1e-12;
    # C(-1) and C(0) are correlations too.
    value = diagnostics.correlation_step("tanh", c, 1.0, 0.1)
    if c == 1.0:
        assert value == pytest.approx(1.0, abs=1e-9)
    else:
        assert -1.0 <= value < 1.0
