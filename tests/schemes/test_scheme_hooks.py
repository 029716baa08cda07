"""A scheme's hooks are checked when its class is defined, not at its first draw."""

from __future__ import annotations

import pytest
from torch import Tensor

import initconv


def test_a_hook_with_the_wrong_signature_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match=r"init_weight must take \(self, weight, generator\)"):

        class Forgetful(initconv.InitConv2d):  # pragma: no cover - never defined
            def init_weight(self, weight: Tensor) -> None:  # type: ignore[override]
                weight.zero_()

            def expected_variance(self) -> float:
                return 0.0
