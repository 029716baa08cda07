r"""Below the grid, an activation that is not its Taylor series near 0 is refused, naming why.

The promise (``initconv._meanfield.line_end``'s docstring and ``critical``'s Raises): a point on
the line below :math:`q = 2^{-24}` comes from the one-sided Taylor series at 0 "only after it
agrees with the quadrature there: an activation that is not its Taylor series near 0 (a
breakpoint close to 0) is refused, not solved wrongly", with the message that its series "does
not match the activation there (a kink or breakpoint near 0)".

Theory, derived here, at :math:`q_0 = 2^{-24}` (:math:`\sqrt{q_0} = 2^{-12}`), for two
continuous activations with :math:`\phi(0) = 0`, :math:`G = \mathbb{E}[\phi'(\sqrt q z)^2]` and
:math:`D = q G - \mathbb{E}[\phi^2]`; the line's point solves :math:`D(q) = \sigma_b^2 G(q)`, and
lies below :math:`q_0` where :math:`D(q_0) > \sigma_b^2 G(q_0)`.

* tanh with its slope halved within :math:`\varepsilon = 2^{-60}` of 0,
  :math:`\phi = \tanh x - \frac12 \mathrm{clamp}(x, -\varepsilon, \varepsilon)`: autograd's
  series has :math:`G(0) = 1/4`, but :math:`|u| < \varepsilon` has probability
  :math:`< 2\varepsilon/\sqrt{2\pi q_0} < 10^{-14}`, so at :math:`q_0` the activation is tanh
  plus a step of :math:`\varepsilon/2` and :math:`G(q_0) = 1 - O(q_0)`: a factor 4 off, while
  :math:`D/(qG)` is ~1e-14 for both (tanh's :math:`\frac43 q^2` and the step's
  :math:`\varepsilon \mathbb{E}|u| / q`), within any absolute precision. A series answer would be
  :math:`\sigma_w = 2`, where the line has :math:`\sigma_w \approx 1`. With
  :math:`\sigma_b = 10^{-12}`, :math:`\sigma_b^2 / q_0 \approx 1.7 \cdot 10^{-17}` is below
  :math:`D/(qG) \ge \varepsilon \sqrt{2/\pi}/(2\sqrt{q_0}) \approx 1.4 \cdot 10^{-15}` (the step's
  share, tanh's is positive too): the point lies below the grid.
* the identity clipped at :math:`k = 6 \sqrt{q_0}` (a hardtanh of width :math:`k`): the series is
  :math:`\phi = x`, :math:`D = 0`, but with :math:`a = k/\sqrt{q_0} = 6`,
  :math:`G(q_0) = 1 - 2(1 - \Phi(6)) = 1 - 2.0 \cdot 10^{-9}` (agreeing to 1e-7) and
  :math:`D(q_0)/(q_0 G) = 2(n(a)/a - (1 - \Phi(a)))/G \approx 1.9 \cdot 10^{-9}` (Gaussian
  integration by parts on :math:`|u| < k`), against the series' 0: a 100% mismatch of the
  deficit, far above its ~1e-15 rounding. At :math:`\sigma_b = 10^{-10}`,
  :math:`\sigma_b^2/q_0 = 1.7 \cdot 10^{-13}` is below it: the point lies below the grid.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import initconv

_EPSILON = 2.0**-60
_KINK = 6 * 2.0**-12
_REFUSAL = r"does not match the activation there \(a kink or breakpoint near 0\)"


def tanh_halved_next_to_zero(x: Tensor) -> Tensor:
    return torch.tanh(x) - 0.5 * x.clamp(-_EPSILON, _EPSILON)


def identity_clipped_near_zero(x: Tensor) -> Tensor:
    return x.clamp(-_KINK, _KINK)


def test_a_slope_at_zero_that_holds_only_within_2_to_the_minus_60_is_refused() -> None:
    with pytest.raises(ValueError, match=_REFUSAL):
        initconv.critical(tanh_halved_next_to_zero, 1e-12)


def test_a_kink_six_standard_deviations_out_at_the_grids_first_q_is_refused() -> None:
    with pytest.raises(ValueError, match=_REFUSAL):
        initconv.critical(identity_clipped_near_zero, 1e-10)
