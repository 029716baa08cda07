"""The refusal of an activation that jumps says what the probe saw: the change over its finest
interval and what the slope integrates to there, so that a rise too steep to resolve is not
passed off as a jump.

A jump of size J changes phi by J over any interval holding it while phi' integrates to ~0 there;
a continuous ramp of height 1 and width 1e-8 (slope 1e8, chi_1 ~ 1e8: refused as well) changes by
slope x width over an interval inside it, and phi' integrates to the same. The message once said
of the ramp that its values differ "however close they are", which is false.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor

import initconv


def _refusal(phi: object) -> tuple[float, float, float]:
    with pytest.raises(ValueError, match="jumps by") as refused:
        initconv.critical(phi, bias_std=0.1)  # type: ignore[arg-type]
    text = str(refused.value)
    found = re.search(
        r"jumps by (\S+) near x = \S+ \(it changes by that much over (\S+) there, the finest the "
        r"probe cuts, where its slope phi' integrates to (\S+):",
        text,
    )
    assert found is not None, text
    return float(found[1]), float(found[2]), float(found[3])


def test_a_steep_ramp_is_refused_with_its_slope_integrating_to_its_rise() -> None:
    def ramp(x: Tensor) -> Tensor:
        return torch.tanh(x) + torch.clamp((x - 0.3) / 1e-8, 0.0, 1.0)

    change, width, integral = _refusal(ramp)
    # Inside the ramp the change is its slope times the width, and so is the slope's integral
    # (Gauss-Legendre is exact on a linear piece; tanh adds ~width, negligible).
    assert change == pytest.approx(1e8 * width, rel=0.2)
    assert integral == pytest.approx(change, rel=0.2)


def test_a_jump_is_refused_with_its_size_and_a_slope_that_integrates_to_almost_nothing() -> None:
    def step(x: Tensor) -> Tensor:
        return torch.tanh(x) + 1e-3 * (x > 0.3).to(x.dtype) + 0 * x

    change, width, integral = _refusal(step)
    assert change == pytest.approx(1e-3, rel=1e-6)
    # Over the finest interval tanh's slope (at most 1) integrates to at most its width.
    assert abs(integral) <= width
