"""A propagation table judges the activation registered under a name now, not the one registered
under it before: ``register_activation(..., overwrite=True)`` replaces the function, and the
cached verdict must follow.

tanh at gain 1 has no fixed point above 0 and fades only like 1/depth (variance_map's "marginal",
Xiao et al. 2018); relu at gain 1 halves the signal each layer (q -> q / 2), so its map has no
fixed point and a per-layer factor 1/2: not marginal.
"""

from __future__ import annotations

import torch

import initconv
from initconv import diagnostics


def test_a_name_registered_again_is_judged_again(clean_registry: None) -> None:
    initconv.register_activation("_judged", torch.tanh, gain=1.0)
    model = torch.nn.Sequential(initconv.KaimingNormalConv2d(3, 4, 3, activation="_judged"))
    first = diagnostics.propagation(model, torch.randn(2, 3, 8, 8)).rows[0].verdict
    assert first == diagnostics.variance_map(torch.tanh, 1.0).verdict == "marginal"
    initconv.register_activation("_judged", torch.relu, gain=1.0, overwrite=True)
    model = torch.nn.Sequential(initconv.KaimingNormalConv2d(3, 4, 3, activation="_judged"))
    again = diagnostics.propagation(model, torch.randn(2, 3, 8, 8)).rows[0].verdict
    assert again == diagnostics.variance_map(torch.relu, 1.0).verdict != "marginal"
