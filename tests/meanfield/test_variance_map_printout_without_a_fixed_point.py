"""Without a positive fixed point variance_map's slope is the signal's factor per layer, and its
printout says so rather than calling it M'(q*).

tanh at gain g < 1 without bias: M(q)/q -> g^2 as q -> 0 (tanh'(0) = 1), so the second moment
vanishes by g^2 per layer; relu at gain 2: M(q) = g^2 q / 2 = 2q, it explodes by 2. The verdict
for both is "unstable" (documented: geometric vanishing or growth); "q* = 0, M'(q*) = 0.25,
unstable" read as a contradiction.
"""

from __future__ import annotations

import pytest

from initconv.diagnostics import variance_map


@pytest.mark.parametrize(
    ("activation", "gain", "where", "factor"),
    [("tanh", 0.5, "vanishes", 0.25), ("relu", 2.0, "explodes", 2.0)],
)
def test_a_signal_without_a_fixed_point_is_printed_with_its_factor_per_layer(
    activation: str, gain: float, where: str, factor: float
) -> None:
    found = variance_map(activation, gain)
    assert found.slope == pytest.approx(factor, rel=1e-6)
    text = str(found)
    assert f"no fixed point, the signal {where}" in text
    assert f"by a factor {factor:.4g} per layer, unstable" in text
    assert "M'(q*)" not in text


def test_tanh_at_gain_one_vanishes_only_polynomially() -> None:
    text = str(variance_map("tanh", 1.0))
    assert "vanishes (q* = 0) only polynomially" in text
    assert text.endswith("marginal")
