"""A built-in activation written out with its constants rounded to float32 keeps its name.

docs/convert.md, "An activation is what it does": "a phi that equals a built-in keeps its
name". A model written for float32 holds the constants of a formula as float32 numbers (a
float32 buffer, or a literal copied from a float32 printout), each within a relative 2^-24 of
the exact constant; that is not a different activation. The name check must tolerate it at
every point of the probe, including |x| up to 8 where phi itself is large, while no two
built-ins are within 5e-4 of each other (gelu and gelu_tanh), far above such rounding.

SELU (Klambauer et al. 2017) is scale * x for x > 0 and scale * alpha * (exp(x) - 1) below, with
scale = 1.0507009873554805 and alpha = 1.6732632423543772 (torch's constants). With both rounded
to float32, phi differs from selu by at most (1 + 2^-24)^2 - 1 < 1.2e-7 of |selu(x)|, in float64
arithmetic (rounding 1e-16). On the probe, |selu(x)| reaches 8.4 at x = 8: the two differ there
by about 3e-7 in absolute terms, far below the 5e-4 that separates built-ins.

Two spellings: ``scale * F.elu(h, alpha=alpha)``, and the branch-free
``scale * (relu(h) + alpha * (exp(-relu(-h)) - 1))`` (exp(min(h, 0)) - 1 is 0 for h > 0).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _support import Between, convert_warned
from torch import Tensor

MODES = ["traced", "run"]
SCALE32 = float(torch.tensor(1.0507009873554805, dtype=torch.float32))
ALPHA32 = float(torch.tensor(1.6732632423543772, dtype=torch.float32))


def _selu_by_elu(h: Tensor) -> Tensor:
    return SCALE32 * F.elu(h, alpha=ALPHA32)


def _selu_without_branches(h: Tensor) -> Tensor:
    return SCALE32 * (F.relu(h) + ALPHA32 * (torch.exp(-F.relu(-h)) - 1.0))


def test_the_float32_constants_differ_from_the_exact_ones() -> None:
    # The premise: the constants really are rounded (else the test below shows nothing).
    assert SCALE32 != 1.0507009873554805
    assert ALPHA32 != 1.6732632423543772


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("phi", [_selu_by_elu, _selu_without_branches], ids=["elu", "branch-free"])
def test_selu_written_with_float32_constants_is_named_selu(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    report, _ = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    # E[selu(z)^2] = 1 for z ~ N(0, 1): the constants are chosen for that fixed point (Klambauer
    # et al. 2017, mean 0 and variance 1), so selu's gain is 1, to its constants' 16 digits.
    assert row.activation == "selu"
    assert row.gain == pytest.approx(1.0, rel=1e-9)
