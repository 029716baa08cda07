r"""The bias from which a line's points are stable, named in critical()'s error for an unstable one
("its critical points are stable from bias_std = ... on", docs/deep.md on gelu and silu), is found
where the line crosses M'(q) = 1 anywhere in the searched range of q*, [2^-24, 2^12] (named in
critical()'s errors), up to its last step, between 2^10 and 2^12.

Theory, derived here (as in test_critical_stable_from_crossings.py, which puts its crossings lower).
Along the critical line the point at q has bias sigma_b^2(q) = q D(q) / (q G(q)) (the line's
equation D = sigma_b^2 G, Poole et al. 2016) and variance-map slope M'(q); it is stable where
M'(q) <= 1. If sigma_b^2(q) increases with q and the highest crossing of M' = 1 going up is at
q_c, with M' <= 1 above it and M' > 1 just below, the points are stable exactly from
sigma_b(q_c) on.

The line here is a stand-in for ``_stable_from`` (which reads only ``slope`` and ``deficit``) with
D / (q G) = 1/2, so sigma_b(q) = sqrt(q / 2), and, with t = ln q and W = ln 4 (the search grid's
step, 2 octaves),

    M'(q) - 1 = -sin(pi (t - t_c) / W) / 10,

which crosses 1 at every t_c + k W, midway between grid points (odd powers of 2), going up at
t_c - 2kW and down at t_c - (2k + 1) W. With q_c = 2^11 its highest upward crossing lies in the
range's top step, (2^10, 2^12), and every lower step holds another crossing: the least stable bias
is sqrt(2^11 / 2) = 32, not that of a crossing further down (8, 2, ...).
"""

from __future__ import annotations

import math

import pytest

from initconv._meanfield.critical_line import _stable_from

_W = math.log(4.0)
_CROSSING = 2.0**11


class _Line:
    """A critical line with M'(q) - 1 = -sin(pi (ln q - ln q_c) / W) / 10 and D / (q G) = 1/2."""

    def slope(self, q: float) -> float:
        return 1.0 - math.sin(math.pi * (math.log(q) - math.log(_CROSSING)) / _W) / 10

    def deficit(self, q: float) -> float:
        return 0.5


def test_a_crossing_in_the_top_step_of_the_searched_range_sets_the_least_stable_bias() -> None:
    least = _stable_from(_Line())  # type: ignore[arg-type]
    assert least is not None
    # The package finds the crossing by regula falsi to 1e-13 in ln q; sigma_b = sqrt(q / 2)
    # halves that. 1e-11 is a 200-fold margin; the next crossing down gives 8, a factor 4 off.
    assert least == pytest.approx(math.sqrt(_CROSSING / 2), rel=1e-11, abs=0)
