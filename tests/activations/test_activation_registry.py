"""The activation registry: registration is atomic across threads, a custom module's gain follows
its attributes, and unknown names get a case-blind suggestion.
"""

from __future__ import annotations

import threading

import pytest
import torch
from torch import Tensor, nn

import initconv

Conv = initconv.KaimingNormalConv2d


def test_two_threads_registering_one_name_cannot_both_succeed(clean_registry: None) -> None:
    # Each thread's first evaluation waits for the other's, so both are deriving the gain at
    # once: both have passed any check made before it.
    meeting = threading.Barrier(2, timeout=60)
    local = threading.local()

    def tanh_after_meeting(x: Tensor) -> Tensor:
        if not getattr(local, "met", False):
            local.met = True
            meeting.wait()
        return torch.tanh(x)

    outcomes: list[str] = []

    def register() -> None:
        try:
            initconv.register_activation("contested", tanh_after_meeting)
            outcomes.append("registered")
        except ValueError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        "activation 'contested' is already registered; pass overwrite=True to replace it",
        "registered",
    ]


class _ScaledTanh(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        return self.k * torch.tanh(x)


def test_changing_a_custom_modules_attribute_changes_its_gain() -> None:
    activation = _ScaledTanh(1.0)
    once = initconv.gain(activation)
    activation.k = 2.0
    assert initconv.gain(activation) == pytest.approx(once / 2, rel=1e-12)
    activation.k = 1.0
    assert initconv.gain(activation) == once


@pytest.mark.parametrize(("typed", "suggested"), [("Relu", "relu"), ("GELU", "gelu")])
def test_activation_suggestions_ignore_case(typed: str, suggested: str) -> None:
    with pytest.raises(ValueError, match=f"got '{typed}'; did you mean '{suggested}'"):
        Conv(4, 4, 3, activation=typed)
