r"""correlation_step without ``q``, for a signal that fades to :math:`q^* = 0`, is the correlation
map at :math:`q = 2^{-24}`, the q that CorrelationMap's docstring says the maps of a vanishing
signal are evaluated at.

Theory (Williams 1997, the arcsine kernel): for centred normals of variance q and correlation c,
:math:`\mathbb{E}[\mathrm{erf}(u_1)\mathrm{erf}(u_2)] = \frac{2}{\pi}
\arcsin\frac{2qc}{1 + 2q}`, so :math:`C(c) = \frac{2\sigma_w^2}{\pi q}\arcsin\frac{2qc}{1+2q}`
without bias, in closed form at any q. At c = 1 that is :math:`M(q)/q`, and since arcsin is
convex on [0, 1], :math:`\arcsin x \le \frac{\pi}{2} x`, so :math:`M(q) \le 2\sigma_w^2 q/(1 + 2q)
< q` for :math:`\sigma_w^2 \le 1/2`: every signal fades, and :math:`q^* = 0`. erf is smooth, so
the two-dimensional moments are exact to ~1e-14 (correlation_map's docstring): 1e-12 relative.
The same C at the grid's next point, :math:`2^{-22}`, differs by :math:`2 (2^{-22} - 2^{-24})
\approx 3.6 \cdot 10^{-7}` relative (the :math:`1 / (1 + 2q)` factor in the arcsine's argument).
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv.diagnostics import correlation_map, correlation_step

Q_BOTTOM = 2.0**-24


def _erf(x: torch.Tensor) -> torch.Tensor:
    return torch.erf(x)


def _arcsine_map(c: float, q: float, sigma_w: float) -> float:
    return 2 * sigma_w**2 * math.asin(2 * q * c / (1 + 2 * q)) / (math.pi * q)


@pytest.mark.parametrize("sigma_w", [0.5, 0.7])
def test_correlation_step_of_a_fading_signal_is_the_arcsine_map_at_two_to_the_minus_24(
    sigma_w: float,
) -> None:
    assert correlation_map(_erf, sigma_w).q_star == 0.0
    for c in (-0.5, 0.3, 0.9, 1.0):
        value = correlation_step(_erf, c, sigma_w)
        assert value == pytest.approx(_arcsine_map(c, Q_BOTTOM, sigma_w), rel=1e-12, abs=0.0)
