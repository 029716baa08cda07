"""The mean-field maps over the whole range their answers can lie in, and what they say where an
answer cannot be computed.

The truths are closed forms derived here: a bounded activation's fixed point lies below
sigma_w^2 sup phi^2 + sigma_b^2, relu's maps are exact, and a linear map's fixed point is
sigma_b^2 / (1 - sigma_w^2).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import initconv
from initconv import diagnostics


def _zero(x: torch.Tensor) -> torch.Tensor:
    return 0 * x


@pytest.mark.parametrize(
    "call",
    [
        lambda: initconv.critical(_zero),
        lambda: diagnostics.correlation_map(_zero, 1.0),
        lambda: diagnostics.correlation_step(_zero, 0.5, 1.0),
        lambda: diagnostics.variance_map(_zero, 1.0),
    ],
    ids=["critical", "correlation_map", "correlation_step", "variance_map"],
)
def test_a_zero_activation_is_refused_for_the_map_not_for_a_gain_parameter(
    call: Callable[[], object],
) -> None:
    # critical() has no gain=, and the others were given their gain: the gain's remedy is wrong.
    with pytest.raises(ValueError, match="zero for almost every input") as caught:
        call()
    assert "gain=" not in str(caught.value)
    assert "chi_1" in str(caught.value)
