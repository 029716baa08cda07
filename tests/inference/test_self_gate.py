"""A self-gate ``x * act(x)`` after a layer is one activation phi(x) = x act(x), traced or recorded.

By the rule (DESIGN.md, activation inference), the maximal region of elementwise ops whose only
varying input is the layer's output is one function phi; a product of the output with a function of
the same output is not a gate of two values (their halves are not independent), so its gain is phi's
derived gain 1 / sqrt(E[phi(z)^2]), computed here by Simpson's rule from the written-out product,
independently of initconv's quadrature. For act = sigmoid this is swish, silu's gain; for
hardsigmoid, hardswish's.

Planted defect this catches (checked by hand): the written-out self-gate mapped to the gate's own
name (``_SELF_GATED = {"sigmoid": "sigmoid", ...}`` in ``initconv/_inference/gates.py``), traced
and recorded.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
from _reference_theory import derived_gain
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv

# Self-gates with the gate's function: the built-in forms (swish, hard-swish) keep their names.
READ: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "hardsigmoid": nn.functional.hardsigmoid,
}
# Any other self-gate (x tanh(x), x erf(x), QuickGELU's x sigmoid(1.702 x)) is read by what it
# computes too: one region of elementwise ops, with its derived gain.
UNREAD: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "erf": torch.erf,
    "sigmoid(1.702 x)": lambda x: torch.sigmoid(1.702 * x),
}


class SelfGate(nn.Module):
    def __init__(self, act: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        return x * self.act(x)


def _report(act: Callable[[Tensor], Tensor], recorded: bool) -> initconv.ConversionReport:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), SelfGate(act), nn.Conv2d(4, 2, 1))
    options = {"example_inputs": torch.randn(2, 3, 5, 5)} if recorded else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return initconv.convert(model, reinit=False, **options)


@pytest.mark.parametrize("recorded", [False, True], ids=["traced", "recorded"])
@pytest.mark.parametrize("act", sorted(READ))
def test_a_self_gate_is_one_activation_whose_gain_is_derived_from_the_product(
    act: str, recorded: bool
) -> None:
    f = READ[act]
    report = _report(f, recorded)
    assert report["0"].gain == pytest.approx(derived_gain(lambda x: x * f(x)), rel=1e-6)
    assert report["2"].activation == "linear"
    assert not report.fallbacks


@settings(max_examples=3, deadline=None)
@given(st.sampled_from(sorted(UNREAD)), st.booleans())
def test_any_self_gate_is_one_activation_whose_gain_is_derived_from_the_product(
    act: str, recorded: bool
) -> None:
    f = UNREAD[act]
    report = _report(f, recorded)
    assert report["0"].gain == pytest.approx(derived_gain(lambda x: x * f(x)), rel=1e-6)
