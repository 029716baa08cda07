"""Just past sigma_w = 1 without bias, tanh's signal settles at a small q*, not at 0.

For sigma_w > 1, q = 0 is an unstable fixed point of M(q) = sigma_w^2 E[tanh(sqrt(q) z)^2]; the
stable one solves 1 = sigma_w^2 (1 - 2q + 17/3 q^2 - ...) (tanh^2 x = x^2 - 2x^4/3 + 17x^6/45,
E z^4 = 3, E z^6 = 15), so q* = (1 - sigma_w^-2) / 2 + O(q*^2): about sigma_w - 1. The map's grid
once stopped at 2^-24 and reported q* = 0 with q = 0's slope, chaotic at sigma_w = 1 + 1e-9 where
chi_1 - 1 is 1e-18 (critical).
"""

from __future__ import annotations

import pytest

from initconv.diagnostics import correlation_map


@pytest.mark.parametrize("excess", [1e-9, 1e-6, 1e-4])
def test_tanh_just_past_one_settles_at_its_small_stable_fixed_point(excess: float) -> None:
    sigma_w = 1 + excess
    found = correlation_map("tanh", sigma_w)
    leading = (1 - sigma_w**-2) / 2
    reference = leading + 17 / 6 * leading**2  # the next order: 2q - 17/3 q^2 = 1 - sigma_w^-2
    # q* is the root of log(M(q) / q) ~ 2 (sigma_w - 1) - 2q, whose moments are exact to 1e-12:
    # q* to ~1e-12 absolute, plus the series' next order, O(q^3) relative to q.
    assert found.q_star == pytest.approx(reference, rel=2e-12 / reference + 10 * reference**2)
    assert found.variance_slope < 1  # the stable fixed point, not q = 0
    # chi_1 = sigma_w^2 E[tanh'^2] = sigma_w^2 (1 - 4q + ...) at q*: 1 + O(excess^2).
    assert found.chi_1 == pytest.approx(1.0, abs=4 * excess**2 + 1e-11)
    expected_phase = "critical" if abs(found.chi_1 - 1) <= 1e-9 else "chaotic"
    assert found.phase == expected_phase
