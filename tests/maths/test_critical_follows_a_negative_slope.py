"""``initconv.critical`` solves a callable again when its outputs change anywhere on the probe,
negative inputs included: a cached point must not outlive the parameter it was solved for.

The promise is ``critical``'s docstring: "results are cached per activation and bias std; a module
or function is solved again when its outputs change (a parameter set since)". The cache key is
the callable's fingerprint, its outputs on the fixed probe in [-8, 8]
(``initconv/_maths/derived_gain.py``). A leaky activation whose slope acts only on negative inputs
is the case a fingerprint taken on non-negative points alone would miss.

Theory: phi_a(x) = x for x >= 0 and a x below is positively homogeneous, so at sigma_b = 0 the
critical line's sigma_w^2 = 1 / E[phi_a'(sqrt(q) z)^2] holds at every q, with
E[phi_a'^2] = (1 + a^2) / 2 (slope 1 on half the mass, a on the other half): the point has
weight_std = sqrt(2 / (1 + a^2)) (Poole et al. 2016; the formula ``critical`` documents for an
activation linear on each side of 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

import initconv


class _Leaky(nn.Module):
    """A leaky ReLU written out, so it is solved as a callable and not as a named activation."""

    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(x >= 0, x, self.slope * x)


def _line_weight_std(slope: float) -> float:
    return math.sqrt(2.0 / (1.0 + slope * slope))


# E[phi'^2] is a Gaussian expectation initconv computes to ~1e-12 relative (relative_expectation
# in initconv/_meanfield/gaussian.py); 1e-9 leaves a thousandfold margin and is still 1e4 times
# smaller than the gap between the two slopes' points (1.372 against 1.265, 8%).
REL = 1e-9


def test_critical_is_solved_again_after_a_slope_that_acts_on_negative_inputs_changes() -> None:
    act = _Leaky(0.25)
    first = initconv.critical(act).weight_std
    assert math.isclose(first, _line_weight_std(0.25), rel_tol=REL)
    act.slope = 0.5  # x >= 0 gives the same outputs as before
    second = initconv.critical(act).weight_std
    assert math.isclose(second, _line_weight_std(0.5), rel_tol=REL)
