"""Helpers shared by the test files: a model's state before and after, and small inputs."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import pytest
import torch
from torch import Tensor, nn


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
