"""A signal that starts below the variance map's grid (q0 < 2^-24) settles where theory puts it.

tanh without bias: E[tanh(u)^2] = q - 2 q^2 + O(q^3) for u ~ N(0, q) (the Taylor series of tanh^2
with E[u^4] = 3 q^2), so at sigma_w slightly above 1 the map q -> sigma_w^2 E[tanh^2] has its
stable fixed point at q* = (1 - 1 / sigma_w^2) / 2 (1 + O(q*)): 1e-8 at sigma_w = 1 + 1e-8. A
signal starting at q0 = 1e-10 grows to it; a bounded activation cannot run away to infinity.
And with a bias, M(q) >= sigma_b^2 > 0, so no signal fades to 0, wherever it starts.
"""

from __future__ import annotations

import pytest

from initconv import diagnostics


@pytest.mark.parametrize("q0", [1e-10, 1e-20, 1e-9])
def test_tanh_just_above_the_line_settles_at_its_tiny_fixed_point_from_below(q0: float) -> None:
    sigma_w = 1.00000001
    expected = (1 - 1 / sigma_w**2) / 2
    # O(q*) = 1e-8 relative from the series, 1e-8 from rounding 1 - 1 / sigma_w^2.
    found = diagnostics.correlation_map("tanh", sigma_w, 0.0, q0=q0).q_star
    assert found == pytest.approx(expected, rel=1e-6, abs=0.0)


@pytest.mark.parametrize("q0", [2.0**-60, 2.0**-30, 1.0, 2.0**40])
def test_with_a_bias_no_signal_fades_to_zero(q0: float) -> None:
    bias_std = 2.0**-18
    found = diagnostics.correlation_map("tanh", 0.5, bias_std, q0=q0).q_star
    assert found >= bias_std**2
