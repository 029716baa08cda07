r"""The correlation map of a user's activation whose outputs reach [2, 4) in size is the map of
that activation, not of one twice its size.

``initconv._meanfield.gaussian.activation_context`` divides a user's callable by the power of 2
at or just below its largest output (so its squares neither overflow nor underflow) and the maps
multiply sigma_w by the same power: k phi at sigma_w is phi at k sigma_w. For 3 erf(x), whose
outputs reach 3, that power is 2, the first size where the division is not by 1.

The reference is the arc-sine kernel (Williams, 1997, "Computing with infinite networks"): for
(u_1, u_2) centred normal with variances q and correlation c,

    E[erf(u_1) erf(u_2)] = (2 / pi) arcsin(2 q c / (1 + 2 q)),

so one step of the correlation map of 3 erf at sigma_w, sigma_b = 0 is
C(c) = sigma_w^2 * 9 * (2 / pi) arcsin(2 q c / (1 + 2 q)) / q.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from initconv.diagnostics import correlation_step


def _three_erf(x: Tensor) -> Tensor:
    return 3 * torch.erf(x)


def test_one_correlation_step_of_three_erf_is_the_arcsine_kernel() -> None:
    # One step only: each costs a 2048 x 2048 grid of erf (0.2 s).
    q, sigma_w, c = 1.0, 1.0, 0.5
    expected = sigma_w**2 * 9 * (2 / math.pi) * math.asin(2 * q * c / (1 + 2 * q)) / q
    # The two-dimensional grid is exact to ~1e-14 for a smooth activation (the module's
    # docstring); 1e-12 relative leaves it a hundredfold and is far below a factor of 2.
    got = correlation_step(_three_erf, c, weight_std=sigma_w, q=q)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
