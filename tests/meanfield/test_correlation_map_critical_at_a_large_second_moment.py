r"""On the critical line, c* = 1 and chi_c = chi_1 at any q*, above 2^12 too, with no warning.

The promise (``CorrelationMap``'s attributes): ``c_star`` is "1 in the ordered phase and on the
critical line", ``chi_c`` is ":math:`\chi_1` where :math:`c^* = 1`" and ``depth_c`` is ``inf``
on the critical line. Only the chaotic phase needs the two-dimensional Gaussian moments that are
not resolved above :math:`q = 2^{12}` (where ``correlation_map`` warns and reports NaN); the
critical line's :math:`c^* = 1` needs none.

Theory, derived here: relu at :math:`\sigma_w^2 = 2` without bias has
:math:`M(q) = 2\, \mathbb{E}[\mathrm{relu}(\sqrt q z)^2] = 2 \cdot q/2 = q` (half the Gaussian's
second moment), so every :math:`q` is a fixed point and a signal starting at ``q0`` stays there;
:math:`\chi_1 = 2\, \mathbb{E}[\mathrm{relu}'(\sqrt q z)^2] = 2 P(z > 0) = 1`, the critical line.
The same holds for the identity at :math:`\sigma_w = 1` (:math:`M(q) = q`, :math:`\chi_1 = 1`).
``2**0.5`` squared is :math:`2 (1 + 2^{-52})`, so :math:`\chi_1` is 1 within a few units of
rounding, far inside the critical band of 1e-9.
"""

from __future__ import annotations

import math
import warnings

import pytest

from initconv.diagnostics import correlation_map


@pytest.mark.parametrize(("activation", "weight_std"), [("relu", 2**0.5), ("linear", 1.0)])
@pytest.mark.parametrize("q0", [2.0**20, 2.0**60])
def test_a_critical_signal_far_above_2_12_keeps_c_star_one_without_a_warning(
    activation: str, weight_std: float, q0: float
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not resolved" warning: nothing unresolved is used
        result = correlation_map(activation, weight_std, 0.0, q0=q0)
    assert result.q_star == q0
    # chi_1 = 1 up to sigma_w^2's rounding (2^-51) and the 1-d quadrature's 1e-12.
    assert result.chi_1 == pytest.approx(1.0, abs=1e-11)
    assert result.phase == "critical"
    assert result.c_star == 1.0
    assert result.chi_c == result.chi_1
    assert math.isinf(result.depth_c)
