r"""Where autograd cannot give an activation's higher derivatives, its line still ends at
:math:`q^* = 0` with :math:`\sigma_w = \sqrt{2/(\phi'(0^-)^2 + \phi'(0^+)^2)}`, whatever the slopes.

The promise (``critical``'s docstring): at :math:`\sigma_b = 0` the line of an activation linear on
each side of 0 up to a kink ends at :math:`q^* \to 0`, where :math:`\mathbb{E}[\phi'(\sqrt q z)^2]`
tends to the mean of the squared one-sided slopes, so :math:`\sigma_w = \sqrt{2 /
(\phi'(0^-)^2 + \phi'(0^+)^2)}`, "and that is what is returned". That the series at 0 cannot be
taken changes how the end's stability is judged, not where the end is.

Theory, derived here, for :math:`\phi(x) = \min(x, 1)` for :math:`x \ge 0` and :math:`\max(x,
-1)/2` for :math:`x < 0` (slopes 1 and 1/2 at 0, kinks at :math:`\pm 1`): on each half-line
:math:`\phi` is linear up to its kink, so :math:`D(q) = q G - \mathbb{E}[\phi^2]` is positive but
only :math:`e^{-1/2q}`-small, as hardtanh's (each side is a multiple of hardtanh's half), and no
:math:`q > 0` solves :math:`D = 0`: the end is the line's point. There :math:`\sigma_w^2 = 2 / (1
+ 1/4) = 8/5`, exact in the quadrature of constant slopes to rounding; and :math:`M(q) =
\sigma_w^2 \mathbb{E}[\phi^2] < q` as :math:`D > 0`, so the end is stable. The slopes are chosen
so that :math:`\sigma_w^2 \ne 1` and is not :math:`1/\sigma_w^2` either (nor is either a power of
4, which a rescaling by a power of 2 maps to 1).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import initconv

_LEFT_SLOPE = 0.5


class _Slope(torch.autograd.Function):
    """The activation's slope, 1 on (0, 1), 1/2 on (-1, 0], 0 outside, with no derivative."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        right = ((x > 0.0) & (x < 1.0)).to(x.dtype)
        left = ((x <= 0.0) & (x > -1.0)).to(x.dtype) * _LEFT_SLOPE
        return right + left

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        raise RuntimeError("the slope has no derivative here")


class _TwoSlopeClamp(torch.autograd.Function):
    """The activation, whose first derivative autograd takes and whose second it cannot."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.clamp(0.0, 1.0) + _LEFT_SLOPE * x.clamp(-1.0, 0.0)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        slope: Tensor = _Slope.apply(x)  # type: ignore[no-untyped-call]
        return grad * slope


def two_slope_clamp(x: Tensor) -> Tensor:
    result: Tensor = _TwoSlopeClamp.apply(x)  # type: ignore[no-untyped-call]
    return result


def test_the_series_is_out_of_reach_for_this_activation() -> None:
    # The premise: autograd's second derivative fails, so the line's end is judged without it.
    x = torch.tensor([-0.5, 0.5], dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(two_slope_clamp(x).sum(), x, create_graph=True)
    assert slope.tolist() == [_LEFT_SLOPE, 1.0]
    with pytest.raises(RuntimeError, match="the slope has no derivative here"):
        torch.autograd.grad(slope.sum(), x)


def test_its_line_ends_at_zero_with_the_gain_of_its_two_slopes() -> None:
    point = initconv.critical(two_slope_clamp, 0.0)
    assert point.q_star == 0.0
    assert point.weight_std**2 == pytest.approx(2 / (1 + _LEFT_SLOPE**2), rel=1e-12)
