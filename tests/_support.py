"""Helpers shared by the test files: a model's state before and after, and small inputs."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from initconv import ConversionReport, convert


def slow_except(cases: Iterable[Any], keep: Any) -> list[Any]:
    """``cases`` for ``pytest.mark.parametrize``, every one but ``keep`` (a case, or a list of
    cases) marked slow: the default run checks those and stays within its CPU budget; the slow
    suite checks them all. A tuple case is one value per parameter name."""
    kept = keep if isinstance(keep, list) else [keep]
    out: list[Any] = []
    for case in cases:
        if case in kept:
            out.append(case)
        else:
            values = case if isinstance(case, tuple) else (case,)
            out.append(pytest.param(*values, marks=pytest.mark.slow))
    return out


def saved_state(model: nn.Module) -> dict[str, Tensor]:
    """``model``'s ``state_dict`` after a ``torch.save`` / ``torch.load(weights_only=True)`` round
    trip, as a checkpoint on disk would give it back."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state: dict[str, Tensor] = torch.load(buffer, weights_only=True)
    return state


def snapshot(model: nn.Module) -> dict[str, Tensor]:
    """A copy of every parameter and buffer of ``model``, by ``state_dict`` key."""
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def unchanged(model: nn.Module, before: dict[str, Tensor]) -> bool:
    """Whether ``model`` holds exactly the keys and values of ``before``, bit for bit."""
    after = model.state_dict()
    return set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before)


def image_batch(channels: int = 3, size: int = 16, batch: int = 2, seed: int = 0) -> Tensor:
    """A reproducible batch of images, ``(batch, channels, size, size)``."""
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(seed))


#: An input for the eight-feature models of the inference tests.
FEATURE_INPUT = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))


def convert_warned(model: nn.Module, mode: str) -> tuple[ConversionReport, list[str]]:
    """convert(reinit=False) by a trace (``mode`` "traced") or a run on ``FEATURE_INPUT``
    ("run"), and the UserWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "run":
            report = convert(model, reinit=False, example_inputs=FEATURE_INPUT)
        else:
            report = convert(model, reinit=False)
    return report, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


class Between(nn.Module):
    """``phi`` between two eight-feature linear layers, ``fc`` and ``out``."""

    def __init__(self, phi: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.phi = phi

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.phi(self.fc(x)))
        return out
