"""The end of the critical line at zero bias is stable or not whatever the activation's input
scale: ``s * phi(x / s)`` has ``phi``'s line with q scaled by s^2, so the same verdict.

Theory (Poole et al. 2016; Schoenholz et al. 2017): with phi_s(x) = s phi(x / s), phi_s'(x) =
phi'(x / s), so on the line chi_1 = sigma_w^2 E[phi_s'(sqrt(q) z)^2] = 1 the weight variance at
q is phi's at q / s^2, and M_s(q) = s^2 M(q / s^2) gives M_s'(q) = M'(q / s^2): the slope of the
variance map along the line, and so the stability of its end q* -> 0, is phi's. Near the end
M'(q) - 1 is a multiple of q (silu: q / 2; gelu: positive too, so both ends are unstable, as
docs/deep.md says; tanh: negative, stable at sigma_w = 1). The verdict must not depend on
how far below any fixed margin that multiple of q falls at the smallest q the solver sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import initconv


def _scaled(phi: Callable[[Tensor], Tensor], s: float) -> Callable[[Tensor], Tensor]:
    return lambda x: s * phi(x / s)


@pytest.mark.parametrize(
    ("phi", "s"),
    [(F.silu, 1 / 8), (F.silu, 8.0), (F.gelu, 64.0)],
    ids=["silu/8", "silu*8", "gelu*64"],
)
def test_an_unstable_end_stays_unstable_at_every_input_scale(
    phi: Callable[[Tensor], Tensor], s: float
) -> None:
    with pytest.raises(ValueError, match="unstable"):
        initconv.critical(_scaled(phi, s), 0.0)


@pytest.mark.parametrize("s", [1 / 8, 64.0])
def test_a_stable_end_stays_stable_at_every_input_scale(s: float) -> None:
    point = initconv.critical(_scaled(torch.tanh, s), 0.0)
    # tanh'(0) = 1: the end is at sigma_w = 1 / |phi'(0)| = 1, q* = 0.
    assert point.q_star == 0.0
    assert math.isclose(point.weight_std, 1.0, rel_tol=1e-9)
