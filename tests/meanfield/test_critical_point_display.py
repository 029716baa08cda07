"""How a CriticalPoint prints its gain: the style of a number depends on its decimal order only.

The promise (``str(CriticalPoint)``, the ``_fixed`` display of ``weight_std`` and ``sigma_w^2``):
six decimals in the usual range, six significant digits outside it. docs/deep.md prints the usual
range's gains as ``weight_std 0.690486``, ``1.000000`` and ``1.122539``, and the display's own
docstring names 1e-200 and inf as outside it.

What a reader of a column of gains relies on is that two numbers of the same order of magnitude
print alike: 0.001 and 0.0015 both with six decimals, 1e6 and 1.5e6 both in exponent form, as
Python's own ``g`` format decides by the decimal exponent alone. So the range is a union of whole
decades [10^e, 10^(e+1)), each closed at its lower edge: a number exactly at an edge (1e-3, 1e6)
prints as the rest of its decade does. The checks are exact string checks: each style is
recognised by its shape, and the mantissas used (1, 1.5, 9.5) print differently in the two styles
at every order.
"""

from __future__ import annotations

import math
import re

import pytest

from initconv import CriticalPoint

_SHOWN = re.compile(r"weight_std (\S+) \(sigma_w\^2 = ")
_SIX_DECIMALS = re.compile(r"\d+\.\d{6}")


def _shown_weight_std(weight_std: float) -> str:
    point = CriticalPoint("tanh", weight_std, 0.1, 0.5, 0.9)
    match = _SHOWN.search(str(point))
    assert match is not None, str(point)
    return match.group(1)


def _has_six_decimals(text: str) -> bool:
    return _SIX_DECIMALS.fullmatch(text) is not None


@pytest.mark.parametrize("order", range(-8, 10))
def test_numbers_of_one_decimal_order_print_in_one_style(order: int) -> None:
    # The decimal literal, not 10.0 ** order: the number a reader means by "1e-3".
    styles = {
        mantissa: _has_six_decimals(_shown_weight_std(float(f"{mantissa}e{order}")))
        for mantissa in ("1", "1.5", "9.5")
    }
    assert len(set(styles.values())) == 1, (order, styles)


def test_the_documented_gains_print_with_six_decimals_and_the_extremes_do_not() -> None:
    # docs/deep.md: selu's, tanh's at a tiny bias, tanh's at bias_std 0.05.
    for value, shown in ((0.690486, "0.690486"), (1.0, "1.000000"), (1.122539, "1.122539")):
        assert _shown_weight_std(value) == shown
    assert _shown_weight_std(1e-200) == "1e-200"
    assert _shown_weight_std(math.inf) == "inf"


def test_the_edges_of_the_usual_range_print_as_their_decades_do() -> None:
    # 1e-3 opens the decade of 0.0015 (six decimals); 1e6 opens that of 1.5e6 (exponent form).
    assert (_shown_weight_std(1e-3), _shown_weight_std(1.5e-3)) == ("0.001000", "0.001500")
    assert (_shown_weight_std(1e6), _shown_weight_std(1.5e6)) == ("1e+06", "1.5e+06")
    assert (_shown_weight_std(9.5e-4), _shown_weight_std(9.5e5)) == ("0.00095", "950000.000000")
