"""critical()'s refusal of a positively homogeneous activation with a bias names the sigma_w^2
of the activation itself: for phi(x) = x / 2, chi_1 = sigma_w^2 / 4 = 1 needs sigma_w^2 = 4 (not
that of the unit-size copy the package solves internally)."""

from __future__ import annotations

import pytest
import torch

import initconv


@pytest.mark.parametrize(("slope", "needed"), [(0.5, "4"), (8.0, "0.015625"), (1.0, "1")])
def test_the_refusal_names_the_activations_own_sigma_w_squared(slope: float, needed: str) -> None:
    def scaled(x: torch.Tensor) -> torch.Tensor:
        return x * slope

    with pytest.raises(ValueError, match=rf"needs sigma_w\^2 = {needed} at every q"):
        initconv.critical(scaled, bias_std=0.05)
