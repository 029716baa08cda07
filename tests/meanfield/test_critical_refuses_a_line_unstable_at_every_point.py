r"""An activation whose variance map is unstable at every point of its critical line has no
critical point at zero bias, however slowly the instability sets in towards the line's end.

The promise (``critical``'s docstring): of the line's points, only those where the variance map is
stable (:math:`M'(q^*) \le 1`) count, and a ``ValueError`` says so where there is none; at
:math:`\sigma_b = 0` the line's end :math:`q^* \to 0` is one of its points, stable where
:math:`M'(q) \le 1` as :math:`q \to 0` along the line (``_line_end``: the sign of the first term
of the Taylor series of :math:`M'(q) - 1`, else the quadrature's slope against its margin).

Theory, derived here, for :math:`\phi(x) = x + c\,\mathrm{relu}(x)^k` with :math:`c > 0` and an
integer :math:`k \ge 2`. With :math:`u = \sqrt q z`, :math:`M_n = \mathbb{E}|z|^n` (so
:math:`M_{n+1} = n M_{n-1}`) and :math:`\mathbb{E}[u^n; u > 0] = q^{n/2} M_n / 2`:

.. math::
    F(q) = \mathbb{E}[\phi^2] = q + c M_{k+1} q^{(k+1)/2} + \tfrac12 c^2 M_{2k} q^k, \qquad
    G(q) = \mathbb{E}[\phi'^2] = 1 + c k M_{k-1} q^{(k-1)/2} + \tfrac12 c^2 k^2 M_{2k-2} q^{k-1}.

On the line :math:`\sigma_w^2 = 1/G`, so :math:`M'(q) = F'(q)/G(q)` and

.. math::
    F' - G = \tfrac12 k(k-1) \left(c M_{k-1} q^{(k-1)/2} + c^2 M_{2k-2} q^{k-1}\right) > 0,
    \qquad
    D = qG - F = \tfrac12 c^2 (k-1)^2 M_{2k-2} q^k > 0.

:math:`D > 0` leaves no point :math:`q^* > 0` at :math:`\sigma_b = 0` (it needs :math:`D = 0`), so
the end is the line's only point there, and :math:`M'(q) > 1` all along the line up to it: no
stable point, a refusal that says "unstable".

Two cases, one for each way the end's verdict is reached:

- :math:`k = 6`, :math:`c = 2^{-24}`: at the smallest :math:`q` the quadrature sees,
  :math:`2^{-24}`, :math:`M'(q) - 1 = 15 c M_5 q^{5/2} \approx 5 \cdot 10^{-24}`, below any
  margin on a computed slope; only the series knows its sign, from its :math:`q^{5/2}` term, which
  the series holds (``line_end``: with coefficients up to the sixth, :math:`G` is complete to
  :math:`q^{5/2}`). :math:`c` is small so that :math:`G` stays within the range the quadrature
  resolves over the whole search (:math:`q \le 2^{12}`).
- :math:`k = 2`, :math:`c = 1`, written so that autograd gives :math:`\phi'` but not
  :math:`\phi''`: the series cannot be taken, and the quadrature's
  :math:`M'(2^{-24}) - 1 \approx M_1 q^{1/2} = 2 \cdot 10^{-4}` is far above the margin.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import initconv


def sextic_ramp(x: Tensor) -> Tensor:
    """x + 2^-24 relu(x)^6: smooth to the fifth derivative at 0."""
    return x + 2.0**-24 * F.relu(x) ** 6


class _RampSlope(torch.autograd.Function):
    """1 + 2 relu(x), the slope of x + relu(x)^2, with no derivative of its own."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        return 1.0 + 2.0 * F.relu(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        raise RuntimeError("the ramp's slope has no derivative here")


class _QuadraticRamp(torch.autograd.Function):
    """x + relu(x)^2, whose first derivative autograd takes and whose second it cannot."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x + F.relu(x) ** 2

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors  # type: ignore[attr-defined]
        slope: Tensor = _RampSlope.apply(x)  # type: ignore[no-untyped-call]
        return grad * slope


def quadratic_ramp_first_order_only(x: Tensor) -> Tensor:
    result: Tensor = _QuadraticRamp.apply(x)  # type: ignore[no-untyped-call]
    return result


def test_the_quadratic_ramps_second_derivative_is_out_of_reach() -> None:
    # The premise of the second case: autograd's second derivative fails.
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(quadratic_ramp_first_order_only(x).sum(), x, create_graph=True)
    assert slope.item() == 2.0
    with pytest.raises(RuntimeError, match="the ramp's slope has no derivative here"):
        torch.autograd.grad(slope.sum(), x)


def test_a_line_whose_instability_starts_at_order_q_to_the_5_2_has_no_point_at_zero_bias() -> None:
    with pytest.raises(ValueError, match=r"unstable \(q\* = 0 with "):
        initconv.critical(sextic_ramp, 0.0)


def test_a_line_unstable_everywhere_has_no_point_without_a_taylor_series() -> None:
    with pytest.raises(ValueError, match=r"unstable \(q\* = 0 with "):
        initconv.critical(quadratic_ramp_first_order_only, 0.0)
