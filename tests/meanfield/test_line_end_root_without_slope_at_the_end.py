r"""The series' root finder answers every line it is given: a q* that solves the line, or None.

Promise (initconv/_meanfield/line_end.py, ``root``): the q* < ``below`` where D(q) = sigma_b^2 G(q)
by the series, or None; its caller in critical() turns None into "no point below the grid", so
that an activation without a stable point is refused by a ValueError that names it and says why
(docs/deep.md, "The critical line": "an activation without a stable point at that bias is a
`ValueError` that says why"). An exception from inside ``root`` would escape critical() as a bare
arithmetic error instead.

The line here has no slope at its end, G(0) = 0, where the leading balance q^lead = sigma_b^2 G(0)
/ d_lead that ``root`` brackets from has no solution. critical() reaches ``root`` with such a
series when the series drops G's constant term as smaller than 1e-14 of G's largest coefficient:
phi(x) = 1e-12 x + 0.05^3 atan((x / 0.05)^3), whose G is 1e-24 + 6e-12 q + 27 q^2 + ..., at
bias_std = 1e-6 (solving it takes seconds of quadrature, so the series is built here directly,
from activations whose slope at 0 is exactly 0).

Theory: for phi = x^3, phi' = 3 x^2, G = 9 E[u^4] = 27 q^2 and E[phi^2] = E[u^6] = 15 q^3, so
D = q G - E[phi^2] = 12 q^3; for phi = x^2, phi' = 2 x, G = 4 q and E[phi^2] = E[u^4] = 3 q^2,
so D = q^2 (E[u^(2m)] = (2m - 1)!! q^m). Both have one root, q* = 9 sigma_b^2 / 4 and 4 sigma_b^2,
which ``root`` may find or leave (None), but must not fail on.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from torch import Tensor

from initconv._meanfield.line_end import root, series

_BELOW = 2.0**-24  # the grid's first q, below which critical() asks the series


def cube(x: Tensor) -> Tensor:
    return x**3


def square(x: Tensor) -> Tensor:
    return x * x


@pytest.mark.parametrize("bias_std", [1e-6, 1e-30])
@pytest.mark.parametrize(
    ("phi", "q_star_per_bias2"), [(cube, 9 / 4), (square, 4.0)], ids=["x^3", "x^2"]
)
def test_a_line_without_slope_at_its_end_gets_its_root_or_none(
    phi: Callable[[Tensor], Tensor], q_star_per_bias2: float, bias_std: float
) -> None:
    line = series(phi)
    assert line is not None
    assert line.G(0.0) == 0.0  # the case in question: no slope at the end
    q_star = q_star_per_bias2 * bias_std**2
    assert q_star < _BELOW
    found = root(line, bias_std, _BELOW)
    if found is not None:
        # A root by the series: its coefficients are exact to a few float64 roundings, and the
        # root is solved in log q to ~1e-13 relative (terms ~ lead |ln q| ~ 400 rounding at
        # ~6e-14): 1e-11 relative is a 100-fold margin.
        assert found == pytest.approx(q_star, rel=1e-11, abs=0)
