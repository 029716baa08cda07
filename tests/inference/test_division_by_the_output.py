"""Only a division by a constant is linear arithmetic; a ratio of the output to a function of it
is an activation, and one with a pole has no gain.

docs/convert.md, "An activation is what it does": "A region of scalings and shifts alone is linear
arithmetic, skipped", and "A phi with no gain (``relu(1 / x)``, whose second moment is infinite
...) is a fallback". ``y / 2`` is a scaling (linear, the next layer decides). ``y / (y + 1)``
divides by a value that varies with y: no scaling, though each of its other steps (``y + 1``) is
one. It is phi(x) = x / (x + 1), whose square near x = -1 behaves as 1 / (x + 1)^2; the integral
of that against the N(0, 1) density, positive at -1, diverges, so E[phi(z)^2] is infinite and phi
has no gain. The layer falls back, warned; it is never "linear" (gain 1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _support import Between, convert_warned
from torch import Tensor


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_division_by_a_constant_is_linear_arithmetic(mode: str) -> None:
    report, warned = convert_warned(Between(lambda y: y / 2.0), mode)
    row = report["fc"]
    assert (row.source, row.activation, row.gain) == (mode, "linear", 1.0), row.detail
    assert warned == []


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(
    "phi",
    [
        pytest.param(lambda y: y / (y + 1.0), id="y/(y+1)"),
        pytest.param(lambda y: (2.0 * y) / (1.0 - y), id="2y/(1-y)"),
        pytest.param(lambda y: y.div(y.add(1.0)), id="y.div(y.add(1))"),
    ],
)
def test_a_ratio_with_a_pole_is_no_scaling_and_has_no_gain(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    report, warned = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row in report.fallbacks, (row.source, row.activation, row.detail)
    assert any("could not be inferred" in message for message in warned)
