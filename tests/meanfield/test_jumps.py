"""The mean-field maps refuse an activation that jumps, and only that, wherever the jump is.

A jump of size J at c gives phi' a delta J at c, so chi_1 = sigma_w^2 E[phi'^2] is infinite while
autograd sees a finite slope on either side. The activations here are continuous piecewise-linear
functions (random kinks, slopes and plateaus, written with relu as a user would) plus J 1[x > c]:
without the step every map must accept them; with it every map must refuse, naming a jump of size
|J| at c. Both facts are exact, so the checks are exact, with the tolerance the report's six
significant digits need; nothing here shares code with the package.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import Tensor

from initconv import diagnostics

_SLOPE = st.one_of(st.just(0.0), st.floats(1e-3, 3.0), st.floats(-3.0, -1e-3))
_SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def kinked(draw: st.DrawFn) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """(an offset, the slopes from left to right, the breaks between them on a 0.05 grid in
    [-6, 6]): pieces at least 0.05 wide, as activations have."""
    cells = draw(st.lists(st.integers(-120, 120), max_size=4, unique=True))
    breaks = tuple(sorted(c / 20 for c in cells))
    slopes = tuple(draw(st.lists(_SLOPE, min_size=len(breaks) + 1, max_size=len(breaks) + 1)))
    return draw(st.one_of(st.just(0.0), st.floats(-1.0, 1.0))), slopes, breaks


def _continuous(
    offset: float, slopes: tuple[float, ...], breaks: tuple[float, ...]
) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        y = offset + slopes[0] * x
        for point, before, after in zip(breaks, slopes, slopes[1:], strict=False):
            y = y + (after - before) * F.relu(x - point)
        return y

    return phi


@_SETTINGS
@given(kinked())
# Found by a randomized run: values that cancel to 2e-4 of the range, refused as noisy.
@example((-0.59375, (0.0, 2.3758694035572687, 0.0, 0.0, 0.0), (-5.05, -4.8, 0.0, 0.05)))
def test_a_continuous_activation_with_kinks_and_plateaus_is_accepted(
    shape: tuple[float, tuple[float, ...], tuple[float, ...]],
) -> None:
    phi = _continuous(*shape)
    if all(s == 0.0 for s in shape[1]):
        return  # a constant has no slope at all: another refusal, tested elsewhere
    try:
        diagnostics.variance_map(phi)
    except ValueError as error:
        # The promise held here is the jump check's: a continuous activation is never called
        # jumping. Its moments may still be out of reach, which is another refusal: pieces that
        # cancel to 1e-4 of the activation's range (an offset of -0.59 against a ramp of +0.59)
        # leave rounding noise no relative tolerance of 1e-12 meets.
        message = str(error)
        assert "jumps" not in message, message
        assert "does not integrate" not in message, message
        assert "its Gaussian moments cannot be computed" in message, message


_REPORT = re.compile(r"jumps by (\S+) near x = (\S+) ")


@_SETTINGS
@given(
    kinked(),
    st.floats(-7.5, 7.5),
    st.one_of(st.floats(1e-3, 10.0), st.floats(-10.0, -1e-3)),
)
def test_a_jump_anywhere_is_refused_with_its_size_and_place(
    shape: tuple[float, tuple[float, ...], tuple[float, ...]], where: float, size: float
) -> None:
    continuous = _continuous(*shape)

    def phi(x: Tensor) -> Tensor:
        return continuous(x) + size * (x > where).to(x.dtype)

    with pytest.raises(ValueError, match="jumps by") as refused:
        diagnostics.variance_map(phi)
    found = _REPORT.search(str(refused.value))
    assert found is not None, str(refused.value)
    reported_size, reported_place = float(found.group(1)), float(found.group(2))
    # Six significant digits, on intervals halved 40 times from 1/64: the slope adds < 1e-12.
    assert reported_size == pytest.approx(abs(size), rel=1e-5)
    assert reported_place == pytest.approx(where, rel=1e-5, abs=1e-6)


def test_the_probe_reaches_the_ends_of_its_range() -> None:
    # A jump at 7.9 lies in the last interval of the scanned [-8, 8]: still refused.
    with pytest.raises(ValueError, match=r"jumps by 0\.5 near x = 7\.9"):
        diagnostics.variance_map(lambda x: torch.tanh(x) + 0.5 * (x > 7.9).to(x.dtype))


class _TwiceTheSlope(torch.autograd.Function):
    """tanh forward, twice its derivative backward: continuous values, a wrong phi'."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.tanh(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad * 2 / torch.cosh(x) ** 2


def test_a_slope_that_is_not_the_derivative_of_the_values_is_refused() -> None:
    # The maps take chi_1 from autograd's phi'; one that is twice the true slope would double it.
    with pytest.raises(ValueError, match=r"has a slope that does not integrate to its values"):
        diagnostics.variance_map(_TwiceTheSlope.apply)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_an_activation_rounded_to_a_narrow_dtype_is_refused(dtype: torch.dtype) -> None:
    # Its values are a staircase of steps one ulp high, while autograd's slope is tanh's: both
    # the steps (jumps) and the flat treads between them (values that do not follow phi') are
    # refusals; which one is met first depends on the grid.
    def rounded(x: Tensor) -> Tensor:
        return torch.tanh(x.to(dtype)).to(x.dtype)

    with pytest.raises(ValueError, match=r"jumps by|does not integrate to its values"):
        diagnostics.variance_map(rounded)
