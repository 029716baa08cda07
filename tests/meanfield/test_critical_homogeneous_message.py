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


def test_an_activation_homogeneous_only_to_the_checks_tolerance_is_told_so() -> None:
    # x + 1e-6 tanh(x) is not homogeneous (its line's deficit is 1e-12 times tanh's, > 0), but
    # within the check's 1e-9 of it: the refusal says how near, not that it is.
    def nearly_linear(x: torch.Tensor) -> torch.Tensor:
        return x + 1e-6 * torch.tanh(x)

    with pytest.raises(ValueError, match=r"positively homogeneous to within 1e-9 \(its line"):
        initconv.critical(nearly_linear, bias_std=0.05)
