"""The probe believes a narrow dtype's exact representability once the share of distinct values
among its outputs reaches 1/8, and not below.

The rule is ``precision_of``'s (initconv/_maths/derived_gain.py, at ``_DISTINCT``): "Below this
share of distinct values among the probe's outputs, exact representability in a narrow dtype says
nothing of the precision (the outputs of a step)"; the share is taken among the outputs strictly
between the lowest and the highest. At or above it, outputs that bfloat16 represents exactly are
taken as computed in bfloat16, whose eps (2^-7) then sets the quadrature's noise floor and the
elementwise check's allowance (docs/guarantees.md). A step's outputs fall below it (floor(3 z):
47 distinct values at 410 points, tests/maths/test_staircase_values_say_nothing_of_precision.py).

The outputs here are built to sit on the rule's edge, with their shares counted by hand: 416
outputs between a lowest (-8) and a highest (8) value, taking 52 distinct values (416 / 8, a
share of exactly 1/8) or 51 (below it); every value is a multiple of 1/8 in (-8, 8), 7 bits at
most, so bfloat16 (8 significant bits) holds each exactly.
"""

from __future__ import annotations

import torch

from initconv._maths.derived_gain import precision_of

_INSIDE = 416  # outputs strictly between the lowest and the highest


def _outputs(distinct: int) -> torch.Tensor:
    # distinct values k / 8 - 4, k = 0 .. distinct - 1, each repeated to fill _INSIDE outputs.
    levels = torch.arange(distinct, dtype=torch.float64) / 8 - 4
    inside = levels.repeat(_INSIDE // distinct + 1)[:_INSIDE]
    return torch.cat([torch.tensor([-8.0], dtype=torch.float64), inside, torch.tensor([8.0])])


def test_the_premises_hold() -> None:
    for distinct in (52, 51):
        outputs = _outputs(distinct)
        inside = outputs[(outputs > outputs.min()) & (outputs < outputs.max())]
        assert inside.numel() == _INSIDE
        assert torch.unique(inside).numel() == distinct
        assert torch.equal(outputs.to(torch.bfloat16).to(torch.float64), outputs)


def test_a_share_of_exactly_one_eighth_is_read_as_the_narrow_dtype() -> None:
    assert precision_of(_outputs(_INSIDE // 8)) == torch.finfo(torch.bfloat16).eps


def test_a_share_below_one_eighth_says_nothing_of_the_precision() -> None:
    assert precision_of(_outputs(_INSIDE // 8 - 1)) == torch.finfo(torch.float64).eps
