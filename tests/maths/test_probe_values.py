"""``probe_values()`` are the points the probe evaluates an activation at, in its order.

The promise is ``probe_values``'s docstring in ``initconv/_maths/derived_gain.py``: "the probe's
points, float64 in [-8, 8], in the fixed shuffled order it evaluates them". Other modules compare
an activation's outputs on ``probe_values()`` with outputs the probe or ``fingerprint`` got
(``known_name`` names a written-out activation by them), which is only sound if they are the same
points in the same order. Checked here by the activation itself: it records every input it
receives, so the points are read off the evaluation, independently of how the probe lays them out.
"""

from __future__ import annotations

import torch
from torch import Tensor

from initconv._maths.derived_gain import fingerprint, probe, probe_values


class _Recorded:
    """tanh, keeping a copy of every input it is given."""

    def __init__(self) -> None:
        self.inputs: list[Tensor] = []

    def __call__(self, x: Tensor) -> Tensor:
        self.inputs.append(x.detach().clone())
        return torch.tanh(x)


def test_probe_values_are_the_float64_points_the_probe_first_evaluates_in_that_order() -> None:
    recorded = _Recorded()
    with torch.no_grad():
        probe("recorded", recorded)
    first = recorded.inputs[0]
    values = probe_values()
    assert values.dtype == torch.float64
    assert torch.equal(first.reshape(-1), values)


def test_the_fingerprint_is_the_activation_on_probe_values() -> None:
    recorded = _Recorded()
    outputs = fingerprint("recorded", recorded)
    assert torch.equal(recorded.inputs[0], probe_values())
    assert torch.equal(outputs, torch.tanh(probe_values()))


def test_the_probe_spans_the_documented_interval_from_minus_eight_to_eight() -> None:
    # The docstring's [-8, 8] is what the pole pre-check and the narrow-dtype precision see, and
    # what docs/guarantees.md states; a grid that reached past it or stopped short would change
    # which activations are refused.
    values = probe_values()
    assert float(values.min()) == -8.0
    assert float(values.max()) == 8.0
