"""The bias from which a line's points are stable, named in critical()'s error for an unstable one
("its critical points are stable from bias_std = ... on", docs/deep.md on gelu and silu), is read at
the line's highest crossing of M'(q) = 1 going up, however often M' crosses 1 below it.

Theory, derived here. Along the critical line, the point at q has bias sigma_b^2(q) = q D(q)/(q G(q))
(the line's equation D = sigma_b^2 G, Poole et al. 2016) and variance-map slope M'(q); it is stable
where M'(q) <= 1. If sigma_b^2(q) increases with q and M' <= 1 at every q above a crossing q_c
while M' > 1 just below it, the points are stable exactly from sigma_b(q_c) on: that is the least
stable bias.

The line here is a stand-in for ``_stable_from`` (which reads only ``slope`` and ``deficit``),
built so that the answer is known in closed form: D / (q G) = 1/2, so sigma_b(q) = sqrt(q / 2), and
with t = ln q and W = ln 4 (the search grid's step, 2 octaves), below the crossing t_c

    M'(q) - 1 = -sin(pi (t - t_c) / W) / 10,

which changes sign at every t_c - k W (several crossings, each seen by the grid), and above it
either of two shapes both of which docs/deep.md reports for gelu and silu (M' 0.996, 0.981, 0.987
at q* = 4, 16, 64 for gelu; 0.997 at q* = 16 for silu):

- a dip that recovers: -1/10 sin(pi (t - t_c) / W) up to t_c + W/2, then
  -1/10 + 9/100 (1 - e^-(t - t_c - W/2)/W), rising back towards 1 at large q;
- a nearly marginal stretch: -1/100 tanh(8 (t - t_c) / W) - 1/2000 (t - t_c) / W, just below 1
  and declining slowly.

The least stable bias is sqrt(q_c / 2). The crossings are put midway between grid points (odd
powers of 2, the grid being the even ones), where each sign region holds one grid point.
"""

from __future__ import annotations

import math

import pytest

from initconv._meanfield.critical_line import _stable_from

_W = math.log(4.0)


class _Line:
    """A critical line with a given M'(q) profile and D / (q G) = 1/2."""

    def __init__(self, crossing: float, above: str) -> None:
        self.t_c = math.log(crossing)
        self.above = above

    def slope(self, q: float) -> float:
        t = math.log(q) - self.t_c
        if t <= 0 or (self.above == "dip" and t <= _W / 2):
            return 1.0 - math.sin(math.pi * t / _W) / 10
        if self.above == "dip":
            return 1.0 - 0.1 + 0.09 * (1.0 - math.exp(-(t - _W / 2) / _W))
        return 1.0 - math.tanh(8 * t / _W) / 100 - t / _W / 2000

    def deficit(self, q: float) -> float:
        return 0.5


@pytest.mark.parametrize("above", ["dip", "marginal"])
@pytest.mark.parametrize("power", [-17, -3, 5])
def test_the_least_stable_bias_is_at_the_highest_crossing_going_up_the_line(
    power: int, above: str
) -> None:
    crossing = 2.0**power
    least = _stable_from(_Line(crossing, above))  # type: ignore[arg-type]
    assert least is not None
    # The package finds the crossing by regula falsi to 1e-13 in ln q; sigma_b = sqrt(q / 2)
    # halves that. 1e-11 is a 200-fold margin.
    assert least == pytest.approx(math.sqrt(crossing / 2), rel=1e-11, abs=0)
