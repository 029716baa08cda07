"""A refusal for moments that cannot be computed blames rounding only where the outputs are rounded.

When the Gaussian moments of an activation cannot be computed, the maps say so (a ValueError
naming the activation) and, for an activation that computes in a narrower dtype than the float64
it is given, add why: its outputs are rounded, its slopes are noise, compute it in float64
(initconv._meanfield.gaussian.activation_context). That advice is false for an activation that
already computes in float64: there is nothing to widen.

exp is such an activation. E[exp(sqrt(q) z)^2] = e^(2q) is finite, but as a Gaussian integrand
exp(2 sqrt(q) z) n(z) peaks at z = 2 sqrt(q), beyond the quadrature's |z| <= 12 from q = 36 on,
and the variance map searches q up to 2^32: its moments cannot be computed, in float64 as in
float32. Only the float32 one is rounded (to float32's eps, 2^-23 = 1.19e-07).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from initconv import diagnostics


def _exp_float32(x: Tensor) -> Tensor:
    return torch.exp(x.float())


def test_a_float64_activation_whose_moments_cannot_be_computed_is_not_told_to_use_float64() -> None:
    with pytest.raises(ValueError, match="its Gaussian moments cannot be computed") as refused:
        diagnostics.variance_map(torch.exp, 1.0)
    message = str(refused.value)
    assert "rounded" not in message, message
    assert "narrower dtype" not in message, message
    assert "compute it in float64" not in message, message


def test_the_same_activation_in_float32_is_told_its_outputs_are_rounded() -> None:
    with pytest.raises(
        ValueError,
        match=r"its outputs are rounded to 1\.19e-07 \(it computes in a narrower dtype .* "
        r"compute it in float64",
    ):
        diagnostics.variance_map(_exp_float32, 1.0)
