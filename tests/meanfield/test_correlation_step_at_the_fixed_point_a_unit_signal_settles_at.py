r"""correlation_step without ``q`` is the correlation map at the fixed point :math:`q^*` that
correlation_map reports: the one a signal of second moment 1 (correlation_map's default ``q0``)
settles at, even where a signal starting elsewhere would settle elsewhere.

Theory, solved by hand. :math:`\phi(x) = x|x|` is homogeneous of degree 2, so
:math:`\mathbb{E}[\phi(\sqrt{q} z)^2] = 3 q^2` and with :math:`\sigma_w^2 = 1/6`,
:math:`\sigma_b^2 = 3/8` the variance map is :math:`M(q) = q^2/2 + 3/8`. Its fixed points are the
roots of :math:`q^2 - 2q + 3/4`: :math:`q = 1/2`, stable (:math:`M'(1/2) = 1/2`), and
:math:`q = 3/2`, unstable. A signal at :math:`q_0 = 1` lies below the unstable point and settles
at :math:`q^* = 1/2`; one started above :math:`3/2` grows without bound.

At :math:`q^*` the correlation map is :math:`C(c) = (\sigma_w^2 q^{*2} K(c) + \sigma_b^2)/q^*`
with :math:`K(c) = \mathbb{E}[z_1|z_1|\, z_2|z_2|]` for standard normals of correlation c. Since
:math:`x|x| = \mathrm{relu}(x)^2 - \mathrm{relu}(-x)^2`, K is a difference of two arc-cosine
kernels of degree 2 (Cho and Saul 2009, :math:`J_2(\theta) = 3\sin\theta\cos\theta +
(\pi - \theta)(1 + 2\cos^2\theta)`, :math:`\theta = \arccos c`):
:math:`K(c) = (J_2(\theta) - J_2(\pi - \theta))/\pi`, so :math:`K(0) = 0` (:math:`C(0) =
\sigma_b^2/q^* = 3/4`) and :math:`K(1) = 3` (:math:`C(1) = M(q^*)/q^* = 1`). phi' is continuous, so
the two-dimensional moments are at least as accurate as at a kink at 0 (~3e-8, correlation_map's
docstring): a relative tolerance of 1e-7.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv import diagnostics

WEIGHT_STD = math.sqrt(1 / 6)
BIAS_STD = math.sqrt(3 / 8)
Q_STAR = 0.5


def _signed_square(x: torch.Tensor) -> torch.Tensor:
    return x * x.abs()


def _kernel(c: float) -> float:
    theta = math.acos(c)

    def j2(angle: float) -> float:
        cosine = math.cos(angle)
        return 3 * math.sin(angle) * cosine + (math.pi - angle) * (1 + 2 * cosine * cosine)

    return (j2(theta) - j2(math.pi - theta)) / math.pi


@pytest.mark.parametrize("c", [0.0, 0.6])
def test_correlation_step_defaults_to_the_stable_fixed_point_below_the_unstable_one(
    c: float,
) -> None:
    expected = (WEIGHT_STD**2 * Q_STAR**2 * _kernel(c) + BIAS_STD**2) / Q_STAR
    value = diagnostics.correlation_step(_signed_square, c, WEIGHT_STD, BIAS_STD)
    assert value == pytest.approx(expected, rel=1e-7, abs=0.0)
