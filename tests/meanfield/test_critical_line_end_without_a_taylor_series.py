r"""Where autograd cannot give an activation's higher derivatives, its line still ends at
:math:`q^* = 0` with the gain of its slope at 0.

The promise (``critical``'s docstring): at :math:`\sigma_b = 0` the line of hardtanh ends at
:math:`q^* \to 0` with :math:`\sigma_w = \sqrt{2/(\phi'(0^-)^2 + \phi'(0^+)^2)} = 1`, "and that is
what is returned"; the series at 0 only decides stability where it can be taken, else "the
quadrature's slope against the margin" (``_line_end``): an activation whose second derivative
autograd refuses is the same activation.

Theory, derived here, for :math:`\phi = \mathrm{hardtanh}` and :math:`u = \sqrt q z`:
:math:`G(q) = \mathbb{E}[\phi'(u)^2] = P(|u| < 1)` and, with :math:`a = 1/\sqrt q`,
:math:`D(q) = q G - \mathbb{E}[\phi^2] = 2\sqrt q\, n(a) - 2(1 - \Phi(a))` (Gaussian integration
by parts on :math:`|u| < 1`), positive at every q > 0 by the Mills ratio
:math:`1 - \Phi(a) < n(a)/a`. So no q > 0 solves :math:`D(q) = 0`: the line's only point at
:math:`\sigma_b = 0` is its end, :math:`q \to 0`, where :math:`G \to \phi'(0)^2 = 1`, so
:math:`\sigma_w = 1`. There :math:`M(q) = \mathbb{E}[\phi^2] < q` (as :math:`D > 0`, G <= 1), so
a signal shrinks towards the end: stable. The gain is exact (1 / 1).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import initconv


class _Inside(torch.autograd.Function):
    """hardtanh's slope, 1 on (-1, 1) and 0 outside, with no derivative of its own."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        return ((x > -1.0) & (x < 1.0)).to(x.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        raise RuntimeError("hardtanh's slope has no derivative here")


class _HardtanhFirstOrderOnly(torch.autograd.Function):
    """hardtanh, whose first derivative autograd takes and whose second it cannot."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        inside: Tensor = _Inside.apply(x)  # type: ignore[no-untyped-call]
        return grad * inside


def hardtanh_first_order_only(x: Tensor) -> Tensor:
    result: Tensor = _HardtanhFirstOrderOnly.apply(x)  # type: ignore[no-untyped-call]
    return result


def test_the_series_is_out_of_reach_for_this_hardtanh() -> None:
    # The premise: autograd's second derivative fails, so the line's end is judged without it.
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(hardtanh_first_order_only(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="hardtanh's slope has no derivative here"):
        torch.autograd.grad(slope.sum(), x)


def test_hardtanh_without_second_derivatives_ends_its_line_at_zero_with_unit_gain() -> None:
    point = initconv.critical(hardtanh_first_order_only, 0.0)
    assert point.q_star == 0.0
    # sigma_w = 1 / |phi'(0)| = 1: the quadrature of a constant slope, exact to rounding.
    assert point.weight_std == pytest.approx(1.0, rel=1e-12)
