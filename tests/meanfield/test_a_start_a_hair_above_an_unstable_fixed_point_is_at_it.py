r"""A signal started a hair (1e-10 relative) above an unstable fixed point of the variance map is
at that fixed point already, wherever the point lies: inside the searched grid of q or below it.

correlation_map's q_star is "the fixed point that a signal of second moment q0 settles at"
(CorrelationMap's docstring), and a root found within rounding of q0 (1e-9 of it) is q0's own
fixed point, whichever side of q0 it falls on: a start 1e-10 above or below a fixed point is
reported at it (as tests/meanfield/test_correlation_settling.py holds for a stable one).

Theory, solved by hand. :math:`\phi(x) = x|x|` is homogeneous of degree 2, so without a bias
:math:`M(q) = \sigma_w^2 \mathbb{E}[\phi(\sqrt{q} z)^2] = 3 \sigma_w^2 q^2` and
:math:`\log(M(q)/q) = \log(3 \sigma_w^2 q)` has one root, :math:`r = 1/(3\sigma_w^2)`, unstable
(:math:`M'(r) = 2`). A start at :math:`r(1 + 10^{-10})` has :math:`\log(M/q) = 10^{-10}`, well
above the 1e-12 at which q0 is taken as a fixed point outright, so the root itself must be
found: by the grid's bracket where r lies inside the grid's range, and below its lowest point
:math:`2^{-24}` only if the search looks below q0. The one-dimensional moment is exact to ~1e-12
relative, which moves the root by as much: a relative tolerance of 1e-10.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv import diagnostics


def _signed_square(x: torch.Tensor) -> torch.Tensor:
    return x * x.abs()


@pytest.mark.parametrize(
    "root",
    [
        3 * 2.0**-22,
        # below the grid's lowest point 2^-24, where the search must still look under the start
        2.0**-26,
    ],
)
def test_a_start_a_hair_above_an_unstable_fixed_point_is_reported_at_it(root: float) -> None:
    weight_std = math.sqrt(1 / (3 * root))
    result = diagnostics.correlation_map(_signed_square, weight_std, q0=root * (1 + 1e-10))
    assert result.q_star == pytest.approx(root, rel=1e-10, abs=0.0)
