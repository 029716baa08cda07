r"""For a signal that fades to :math:`q^* = 0`, correlation_map's two depth scales are those of one
slope, and agree with its phase: on the edge of the critical band too.

Theory (Schoenholz et al. 2017, with the limits at :math:`q = 0` of
tests/meanfield/test_correlation_zero_weight_and_fading_signal.py): with :math:`\phi(0) = 0` and
no bias, :math:`M'(0) = \chi_1 = \sigma_w^2 (\phi'(0^-)^2 + \phi'(0^+)^2)/2`, and
:math:`c^* = 1`, :math:`\chi_c = \chi_1`; so :math:`\xi_q = -1/\ln|M'(q^*)|` and
:math:`\xi_c = -1/\ln|\chi_c|` are the same number. The CorrelationMap docstring makes
``depth_c`` ``inf`` on the critical line, the phase ``"critical"`` where :math:`\chi_1` is within
1e-9 of 1 (the band is closed: ``abs(chi_1 - 1) <= 1e-9``), and ``depth_q`` ``inf`` where the
deviation does not shrink: both ``inf`` exactly where the phase is critical, and equal elsewhere.

For :math:`\phi = 1.2 \tanh`, :math:`\chi_1 = 1.44\, \sigma_w^2` (tanh's slope at 0 is 1, and
:math:`1.2^2` rounds to 1.44); :math:`\sigma_w = 0.8333333329166667` puts it within one rounding
of :math:`1 - 10^{-9}`, the band's edge, where a signal still fades (:math:`M(q)/q <
\chi_1 < 1` for every q > 0, tanh's :math:`\mathbb{E}[\tanh^2]` growing slower than q). The
other points are well inside and well outside the band.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv import diagnostics


def _scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    return 1.2 * torch.tanh(x)


@pytest.mark.parametrize("weight_std", [0.8333333329166667, 0.8333333333333333, 0.75])
def test_a_fading_signals_depth_scales_are_one_slopes_and_infinite_exactly_when_critical(
    weight_std: float,
) -> None:
    result = diagnostics.correlation_map(_scaled_tanh, weight_std)
    assert result.q_star == 0.0
    # chi_1 = 1.44 sigma_w^2 to a few roundings (autograd's slope of tanh at +-2^-100 is 1).
    assert result.chi_1 == pytest.approx(1.44 * weight_std**2, rel=1e-15, abs=0.0)
    assert result.variance_slope == result.chi_1
    assert result.depth_q == result.depth_c
    assert math.isinf(result.depth_q) == (result.phase == "critical")
    assert (result.phase == "critical") == (abs(result.chi_1 - 1) <= 1e-9)
