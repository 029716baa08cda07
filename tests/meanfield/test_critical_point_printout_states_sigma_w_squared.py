r"""A critical point's printout states :math:`\sigma_w^2`, the square of the gain it prints.

The promise (``str(CriticalPoint)``): it shows ``weight_std`` and, in parentheses, ``sigma_w^2``,
the weight variance times fan-in, :math:`\mathrm{Var}(W) = \sigma_w^2 / \text{fan\_in}`, which is
``weight_std ** 2`` by definition (``FixedPoint``'s docstring). Both are printed with the same
display, six decimals for numbers in [1e-3, 1e6); docs/deep.md shows relu's line as
:math:`\sigma_w^2 = 2` and tanh's at a tiny bias as 1.

Theory: the square of a float is the float of the square to one rounding (1.1e-16 relative), far
below the printed six decimals, so the printed square is ``f"{weight_std**2:.6f}"`` for every
gain whose square has no sixth decimal within 1e-12 of a rounding edge (the gains below are
chosen away from such edges: their exact squares are checked against the print with rounding
done in exact decimal arithmetic).

A standard deviation the user can set, 1e300 or 1e-200, has a square (1e600, 1e-400) that
overflows to ``inf`` or underflows to 0 in float64 (``variance_map.squared``): the printout must
still state it, to six significant digits, against the square computed in exact decimal
arithmetic (``Decimal`` of a float is exact, their product at 60 digits far finer than six).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from initconv import CriticalPoint

_SQUARE = re.compile(r"\(sigma_w\^2 = (\S+)\),")


def _printed_square(weight_std: float) -> str:
    point = CriticalPoint("tanh", weight_std, 0.1, 0.5, 0.9)
    match = _SQUARE.search(str(point))
    assert match is not None, str(point)
    return match.group(1)


@pytest.mark.parametrize("weight_std", [1.0, 2.0**0.5, 0.690486, 1.122539, 3.0, 0.25])
def test_the_printed_weight_variance_is_the_square_of_the_printed_gain(weight_std: float) -> None:
    # The exact square of the float, rounded to six decimals in decimal arithmetic: independent of
    # the float product the code forms, and the same string wherever the two differ by < 1e-12.
    exact = Decimal(weight_std) * Decimal(weight_std)
    expected = exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    assert _printed_square(weight_std) == f"{expected}"


@pytest.mark.parametrize("weight_std", [1e300, 3e200, 1e-200, 7e-170])
def test_a_square_beyond_float64_is_printed_with_its_six_significant_digits(
    weight_std: float,
) -> None:
    with localcontext() as context:
        context.prec = 60
        square = Decimal(weight_std) * Decimal(weight_std)
    # The float64 square is inf or 0: the printout must not show it.
    assert weight_std * weight_std in (0.0, float("inf"))
    printed = _printed_square(weight_std)
    assert printed not in ("inf", "0", "0.000000")
    # Six significant digits: within half a unit of the sixth digit of the exact square.
    assert abs(Decimal(printed) - square) <= square * Decimal("5e-6")
