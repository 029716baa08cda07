"""A derived gain that cannot be computed is refused with the tolerance it was held to: 4 eps of
the dtype the activation computes in, or 1e-12 for one that computes in float64.

The promise is docs/guarantees.md ("Gains: only for elementwise, deterministic activations"): when
phi's outputs are exactly representable in float32 (or a narrower dtype), "that dtype's eps is the
quadrature's noise floor: its tolerance becomes 4 of those eps of E[phi(z)^2]"; otherwise "the
quadrature has a relative tolerance of 1e-12", and a refusal when the budget runs out says which
relative tolerance was not met (gaussian_expectation: "did not converge to a relative ...").

The activation: sin(1e6 z), whose period 6.3e-6 is far below any panel the 2^20 evaluations can
reach (halving 0.25-wide panels over [-12, 12] until the budget ends leaves none below about
1e-4), so its halves never agree and the budget always runs out. Rounded to float32 its outputs
are float32 numbers, many and distinct, so its precision is float32's; in float64 it is
float64's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import initconv


def _fast_sine_in(dtype: torch.dtype) -> Callable[[Tensor], Tensor]:
    def fast_sine(x: Tensor) -> Tensor:
        return torch.sin(1e6 * x).to(dtype).to(x.dtype)

    return fast_sine


def _stated_relative_tolerance(message: str) -> float:
    found = re.search(r"did not converge to a relative (\S+) within", message)
    assert found is not None, message
    return float(found.group(1))


def _agrees_to_three_digits(stated: float, expected: float) -> bool:
    # The refusal prints three significant digits: half a unit of the third one.
    return abs(stated - expected) <= 0.5 * 10.0 ** (math.floor(math.log10(expected)) - 2)


@pytest.mark.parametrize(
    ("dtype", "tolerance"),
    [
        (torch.float32, 4 * torch.finfo(torch.float32).eps),
        (torch.float64, 1e-12),
    ],
    ids=["float32", "float64"],
)
def test_the_refusal_states_the_tolerance_of_the_precision_phi_computes_in(
    dtype: torch.dtype, tolerance: float
) -> None:
    with pytest.raises(ValueError, match="has no gain") as refused:
        initconv.gain(_fast_sine_in(dtype))
    stated = _stated_relative_tolerance(str(refused.value))
    assert _agrees_to_three_digits(stated, tolerance), (stated, tolerance, str(refused.value))
