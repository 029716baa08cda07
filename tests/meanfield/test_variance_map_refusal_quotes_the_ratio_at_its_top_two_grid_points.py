r"""A variance map whose fixed point lies above q = 2^68 is refused with the numbers behind the
refusal: M(q) / q without the bias at q = 2^64 and at 2^68, the search's top two grid points, as
the message says.

``variance_map`` searches fixed points 16-fold a step up to 2^68 while M(q) > q
(``initconv._meanfield.variance_map.extend_up``); where the map still grows at 2^68 and M(q) / q is
not settled at 1 or above there, it refuses, quoting that ratio "at 2^64" and "at 2^68", so a user
can see how far the fixed point lies beyond. Hardtanh at gain g = 3e10 is such a map: bounded, so
q* <= g^2 = 9e20 and above 2^68 = 2.95e20, and its ratio has a closed form (z ~ N(0, 1), n the
normal density, t = 1 / sqrt(q)):

    M(q) / q = g^2 (erf(t / sqrt 2) - 2 t n(t) + erfc(t / sqrt 2) / q),

about g^2 / q: 48.79 at 2^64 and 3.049 at 2^68, computed here with mpmath at 40 digits.
"""

from __future__ import annotations

import math
import re

import mpmath  # type: ignore[import-untyped]
import pytest

from initconv import diagnostics

_GAIN = 3e10


def _ratio(log2_q: int) -> float:
    with mpmath.workdps(40):
        q = mpmath.mpf(2) ** log2_q
        t = 1 / mpmath.sqrt(q)
        inside = mpmath.erf(t / mpmath.sqrt(2)) - 2 * t * mpmath.npdf(t)
        return float(mpmath.mpf(_GAIN) ** 2 * (inside + mpmath.erfc(t / mpmath.sqrt(2)) / q))


def _half_unit_of_the_sixth_digit(value: float) -> float:
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 5)


def test_the_refusal_quotes_the_ratio_at_2_64_and_2_68() -> None:
    with pytest.raises(ValueError, match=r"above q = 2\^68") as refusal:
        diagnostics.variance_map("hardtanh", _GAIN)
    quoted = re.search(r"\(([^ ]+) at 2\^64, ([^ ]+) at 2\^68\)", str(refusal.value))
    assert quoted is not None, str(refusal.value)
    # Six significant digits (within half a unit of the sixth) of a moment exact to 2e-7
    # relative at 2^64 and 1e-6 at 2^68 (initconv._meanfield.gaussian.Q_TOP's accuracy).
    for shown, log2_q, accuracy in ((quoted[1], 64, 2e-7), (quoted[2], 68, 1e-6)):
        exact = _ratio(log2_q)
        allowed = _half_unit_of_the_sixth_digit(exact) + accuracy * exact
        assert abs(float(shown) - exact) <= allowed, (log2_q, shown, exact)
