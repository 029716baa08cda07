"""convert() reads an activation written with many steps or from many constants as what it is,
or says it cannot: it never infers from part of the computation.

- tanh(y) scaled by 1.5 k times is the activation 1.5^k tanh, whose derived gain is tanh's over
  1.5^k; past the steps the rule follows, the layer falls back with a warning (reading only the
  first steps gave a gain 1.5^(k - 63) times too large, silently).
- relu(y) times a sum of nine parameters of 1/9 is relu(y) * 1, gain sqrt(2) (a constant built
  from nine inputs crashed the trace with a KeyError).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import Tensor, nn

import initconv


class _Scaled(nn.Module):
    def __init__(self, times: int) -> None:
        super().__init__()
        self.fc, self.out, self.times = nn.Linear(8, 8), nn.Linear(8, 2), times

    def forward(self, x: Tensor) -> Tensor:
        y = torch.tanh(self.fc(x))
        for _ in range(self.times):
            y = y * 1.5
        return self.out(y)


@pytest.mark.parametrize("times", [1, 20, 63])
def test_a_scaled_tanh_has_the_tanh_gain_over_the_scale(times: int) -> None:
    model = _Scaled(times)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        initconv.convert(model)
    # A written formula gets its derived gain, 1 / sqrt(E[phi(z)^2]) (the built-in "tanh" keeps
    # torch's 5/3): k phi has phi's over k.
    expected = initconv.gain(lambda x: torch.tanh(x)) / 1.5**times
    assert model.fc.gain == pytest.approx(expected, rel=1e-9, abs=0.0)


@pytest.mark.parametrize("times", [64, 70])
def test_a_computation_longer_than_the_rule_follows_falls_back_with_a_warning(times: int) -> None:
    model = _Scaled(times)
    with pytest.warns(UserWarning, match=r"could not be inferred \(fc\)"):
        report = initconv.convert(model)
    assert "more than are followed" in str(report.fallbacks)


class _NineWeights(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 2)
        self.w = nn.ParameterList([nn.Parameter(torch.tensor(1 / 9)) for _ in range(9)])

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.relu(self.fc(x)) * torch.stack(list(self.w)).sum())


def test_a_constant_built_from_nine_parameters_is_evaluated() -> None:
    model = _NineWeights()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        initconv.convert(model)
    assert model.fc.gain == pytest.approx(math.sqrt(2), rel=1e-6)
