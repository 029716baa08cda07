r"""The line-end series' :math:`M'(q)` is :math:`F'(q)/G(q)`, the variance map's slope on the line.

The promise (``line_end.Series.variance_slope``): :math:`M'(q) = F'(q)/G(q)` on the critical line,
where :math:`\sigma_w^2 = 1/G(q)`, :math:`G(q) = \mathbb{E}[\phi'(\sqrt q z)^2]` and
:math:`F(q) = \mathbb{E}[\phi(\sqrt q z)^2]`, from the activation's Taylor series at 0.

Theory, derived here: the variance map is :math:`M(q) = \sigma_w^2 F(q) + \sigma_b^2`, so
:math:`M'(q) = \sigma_w^2 F'(q) = F'(q)/G(q)` on the line. By Gaussian integration by parts,
:math:`\frac{d}{dq} \mathbb{E}[f(\sqrt q z)] = \frac12 \mathbb{E}[f''(\sqrt q z)]`; with
:math:`f = \phi^2`, :math:`F'(q) = \mathbb{E}[\phi'^2 + \phi \phi'']`. For tanh,
:math:`\phi' = \mathrm{sech}^2`, :math:`\phi'' = -2 \tanh \mathrm{sech}^2`. Both expectations
are computed here by scipy's adaptive quadrature (requested 1e-13 relative). The series is
complete to :math:`q^2` (ORDER = 6, tanh odd), so at :math:`q = 2^{-16}` it misses terms of order
:math:`q^3 = 3.6 \cdot 10^{-15}` times tanh's Taylor-moment coefficients (below 10^3): under 1e-11,
so 1e-9 bounds the comparison. The map's slope differs from 1 by :math:`2q = 3 \cdot 10^{-5}`
there, so the check is far from trivial.
"""

from __future__ import annotations

import math

import pytest
import torch
from _reference_theory import gaussian_mean

from initconv._meanfield.line_end import series

_Q = 2.0**-16


def _sech2(x: float) -> float:
    t = math.exp(-2.0 * abs(x))  # sech^2 x = 4 e^(-2|x|) / (1 + e^(-2|x|))^2, without overflow
    return 4.0 * t / (1.0 + t) ** 2


def test_tanhs_series_gives_the_slope_of_the_variance_map_on_the_line() -> None:
    expansion = series(torch.tanh)
    assert expansion is not None
    slope_moment = gaussian_mean(lambda x: _sech2(x) ** 2, _Q)
    moment_slope = gaussian_mean(lambda x: _sech2(x) ** 2 - 2.0 * math.tanh(x) ** 2 * _sech2(x), _Q)
    assert expansion.variance_slope(_Q) == pytest.approx(moment_slope / slope_moment, rel=1e-9)
