"""``probe_evaluations()`` is the number of points the probe evaluates an activation at, which the
derived gain's budget (``probe_evaluations() + MAX_EVALUATIONS``) is stated in.

The promise is ``probe_evaluations``'s docstring in ``initconv/_maths/derived_gain.py``: "how many
points :func:`probe` evaluates an activation at". Counted here by the activation itself, one
per element of every input it receives, so the count is exact whatever the probe's layout.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from initconv._maths.derived_gain import probe, probe_evaluations


class _Counted:
    """An activation that counts the points it is evaluated at."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn
        self.points = 0

    def __call__(self, x: Tensor) -> Tensor:
        self.points += x.numel()
        return self.fn(x)


@pytest.mark.parametrize("fn", [torch.tanh, F.silu, F.hardtanh])
def test_the_probe_evaluates_an_activation_at_exactly_probe_evaluations_points(
    fn: Callable[[Tensor], Tensor],
) -> None:
    counted = _Counted(fn)
    with torch.no_grad():
        probe("counted", counted)
    assert counted.points == probe_evaluations()
