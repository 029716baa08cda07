r"""correlation_step of a user's function of any size: :math:`k\phi` at :math:`\sigma_w` is the
arc-cosine kernel's correlation map with weight variance :math:`k^2 \sigma_w^2`.

The promise (correlation_step's docstring): :math:`C(c) = (\sigma_w^2
\mathbb{E}[\phi(u_1)\phi(u_2)] + \sigma_b^2)/q` for the activation as given; the library may
rescale a user's function internally (to unit size) but not change this value.

Theory (Cho and Saul 2009, the arc-cosine kernel of degree 1): for :math:`(u_1, u_2)` centred
normal with variances q and correlation c,
:math:`\mathbb{E}[\mathrm{relu}(u_1)\mathrm{relu}(u_2)] = \frac{q}{2\pi}\big(\sqrt{1 - c^2} +
(\pi - \arccos c)\, c\big)`, so for :math:`\phi = k\, \mathrm{relu}`:
:math:`C(c) = \sigma_w^2 k^2 \big(\sqrt{1 - c^2} + (\pi - \arccos c)\, c\big)/(2\pi) +
\sigma_b^2/q`.
The two-dimensional moments are exact to ~3e-8 at a kink at 0 (correlation_map's docstring):
a relative tolerance of 1e-7.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv import diagnostics


def _arc_cosine(c: float) -> float:
    return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / (2 * math.pi)


@pytest.mark.parametrize(("size", "c"), [(1000.0, 0.6), (1e-3, 0.0)])
def test_a_scaled_relu_follows_the_arc_cosine_kernel_at_its_own_size(size: float, c: float) -> None:
    weight_std, bias_std, q = 0.7, 0.2, 1.5

    def scaled_relu(x: torch.Tensor) -> torch.Tensor:
        return size * torch.relu(x)

    expected = (weight_std * size) ** 2 * _arc_cosine(c) + bias_std**2 / q
    value = diagnostics.correlation_step(scaled_relu, c, weight_std, bias_std, q=q)
    assert value == pytest.approx(expected, rel=1e-7, abs=0.0)
