"""A scheme's hooks are checked when its class is defined, not at its first draw."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import Tensor

import initconv


def test_a_hook_with_the_wrong_signature_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match=r"init_weight must take \(self, weight, generator\)"):

        class Forgetful(initconv.InitConv2d):  # pragma: no cover - never defined
            def init_weight(self, weight: Tensor) -> None:  # type: ignore[override]
                weight.zero_()

            def expected_variance(self) -> float:
                return 0.0


@pytest.mark.parametrize(
    "option", ["gain", "activation", "bias_init", "bias_std", "seed", "dtype", "stride", "weight"]
)
def test_a_scheme_option_named_like_a_layers_own_is_refused_at_class_definition(
    option: str, clean_schemes: None
) -> None:
    # The layer takes these itself, so configure() would never receive them: a silent no-op.
    def shadow(self: initconv.Scheme, **options: object) -> None:
        self.extra = options

    keyword = inspect.Parameter.KEYWORD_ONLY
    shadow.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter(option, keyword, default=2.0)]
    )  # fmt: skip
    with pytest.raises(TypeError, match=rf"configure cannot take an option named '{option}'"):

        class Shadowing(initconv.Scheme, scheme="shadowing"):  # pragma: no cover - never defined
            def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
                weight.zero_()

            def expected_variance(self) -> float:
                return 0.0

            configure = shadow

    assert "shadowing" not in initconv.schemes()
