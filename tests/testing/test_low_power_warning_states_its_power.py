"""check_layer's LowPowerWarning states the power its sample has against the error it is for.

Promise (check_layer's docstring): where the weights cannot see a ``detectable`` error with
probability ``power``, the warning "states what they do see"; its message gives "its power
against 5%". Seeing a 5% error means seeing a variance 5% too large and one 5% too small
(detectable_error's definition: both sides), so the stated power is the smaller of the two.
Theory, independent of the kit: n iid normal weights give ``n R ~ chi-square_n`` exactly, and a
variance r times the claimed one scales R by r, so the equal-tailed check at alpha rejects with
probability ``F(lo / r) + 1 - F(hi / r)`` (scipy's chi-square). At n = 20,000 and the default
alpha = 1e-9 that is 0.121 at r = 1.05 and 0.149 at r = 0.95 (the larger variance is the harder
side at this n; at 864 weights it is the smaller one), so the message must say 0.12.
"""

from __future__ import annotations

import re
import warnings

import pytest
from scipy import stats

import initconv
from initconv.testing import ALPHA_CHECK, DETECTABLE, LowPowerWarning, check_layer


def chi_square_power(n: int, ratio: float, alpha: float) -> float:
    lo, hi = stats.chi2.ppf(alpha / 2, n), stats.chi2.isf(alpha / 2, n)
    return float(stats.chi2.cdf(lo / ratio, n) + stats.chi2.sf(hi / ratio, n))


@pytest.mark.parametrize(("fan_in", "fan_out"), [(200, 100), (3 * 9, 32)])
def test_the_warning_states_the_power_of_the_weaker_side(fan_in: int, fan_out: int) -> None:
    layer = initconv.KaimingNormalLinear(fan_in, fan_out, seed=0)  # a zero (constant) bias
    n = fan_in * fan_out
    # The layer's own checks run at ALPHA_CHECK each; the seed is fixed.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_layer(layer)
    messages = [str(w.message) for w in caught if issubclass(w.category, LowPowerWarning)]
    assert len(messages) == 1
    stated = re.search(r"its power against 5%: ([0-9.e+-]+);", messages[0])
    assert stated is not None
    expected = min(
        chi_square_power(n, 1 + DETECTABLE, ALPHA_CHECK),
        chi_square_power(n, 1 - DETECTABLE, ALPHA_CHECK),
    )
    # Printed to two significant figures; the kit's gamma equals the chi-square to ~1e-10.
    assert float(stated.group(1)) == float(f"{expected:.2g}")
