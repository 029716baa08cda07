r"""A critical point's printout states :math:`\sigma_w^2` also where that square is beyond float64.

The promise (``str(CriticalPoint)``, ``variance_map.squared``): the printout shows ``weight_std``
and, in parentheses, ``sigma_w^2 = weight_std ** 2``, the weight variance times fan-in
(``FixedPoint``'s docstring); a standard deviation the user can set, 1e300 or 1e-200, has a square
(1e600, 1e-400) that overflows to ``inf`` or underflows to 0 in float64, and the printout must
still state it, to six significant digits, not ``inf`` or ``0``.

Theory: the square of the float ``weight_std`` is computed here in exact decimal arithmetic
(``Decimal`` of a float is exact, and the product of two exact decimals at 60 digits of context is
exact to far below the sixth significant digit), then rounded to six significant digits: an
expectation independent of the float product the code forms.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

import pytest

from initconv import CriticalPoint

_SQUARE = re.compile(r"\(sigma_w\^2 = (\S+)\),")


def _printed_square(weight_std: float) -> str:
    point = CriticalPoint("tanh", weight_std, 0.1, 0.5, 0.9)
    match = _SQUARE.search(str(point))
    assert match is not None, str(point)
    return match.group(1)


def _exact_square(weight_std: float) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        return Decimal(weight_std) * Decimal(weight_std)


@pytest.mark.parametrize("weight_std", [1e300, 3e200, 1e-200, 7e-170])
def test_a_square_beyond_float64_is_printed_with_its_six_significant_digits(
    weight_std: float,
) -> None:
    square = _exact_square(weight_std)
    # The float64 square is inf or 0: the printout must not show it.
    assert weight_std * weight_std in (0.0, float("inf"))
    printed = _printed_square(weight_std)
    assert printed not in ("inf", "0", "0.000000")
    # Six significant digits: within half a unit of the sixth digit of the exact square.
    assert abs(Decimal(printed) - square) <= square * Decimal("5e-6")
