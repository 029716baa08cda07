r"""Where the critical line ends: the one-sided slopes of an activation at 0 and the limit of its
slope moment there.

As q -> 0+, half of sqrt(q) z lies on each side of 0 and phi'(sqrt(q) z) tends to that side's slope,
so E[phi'(sqrt(q) z)^2] -> (phi'(0-)^2 + phi'(0+)^2) / 2, and at zero bias the critical line ends
at sigma_w = 1 / sqrt of it (selu: sqrt(2 / (lambda^2 (1 + alpha^2))) = 0.6905). The slopes on
either side are known in closed form for each activation here (relu 0 and 1, leaky relu and elu
their negative-side slope and 1, selu lambda alpha and lambda, a piecewise one tanh's 1 on the
right and 0.25 cos(0) on the left). An activation that computes in float32 or bfloat16 (the float64
input cast down) must get the same two slopes, rounded to its dtype: the points the slopes are
taken at must stay on their side of 0 after the cast. Autograd's value at a kink is one of the two
slopes, not the limit, so these are checks of the limit itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from initconv._meanfield.gaussian import end_slope_moment, slope_moment
from initconv._meanfield.slopes import one_sided_slopes

# selu's constants as torch has them (float64).
_LAMBDA = 1.0507009873554804934193349852946
_ALPHA = 1.6732632423543772848170429916717


def _piecewise(x: Tensor) -> Tensor:
    return torch.where(x > 0, torch.tanh(x), 0.25 * torch.sin(x))


_KINKED: list[tuple[str, Callable[[Tensor], Tensor], float, float]] = [
    ("relu", F.relu, 0.0, 1.0),
    ("leaky relu 0.2", lambda x: F.leaky_relu(x, 0.2), 0.2, 1.0),
    ("elu 0.5", lambda x: F.elu(x, 0.5), 0.5, 1.0),
    ("selu", torch.selu, _LAMBDA * _ALPHA, _LAMBDA),
    ("tanh right, 0.25 sin left", _piecewise, 0.25, 1.0),
    ("negative slope on the left", lambda x: F.leaky_relu(x, -0.5), -0.5, 1.0),
]
# Every slope here is a product of at most three float64 constants and exp or cos at 2^-100
# (exactly 1 in float64): a few ulps.
_REL = 8 * torch.finfo(torch.float64).eps


@pytest.mark.parametrize(("name", "phi", "left", "right"), _KINKED, ids=[k[0] for k in _KINKED])
def test_the_slope_moment_at_zero_is_the_mean_of_the_squared_one_sided_slopes(
    name: str, phi: Callable[[Tensor], Tensor], left: float, right: float
) -> None:
    found_left, found_right = one_sided_slopes(phi)
    assert found_left == pytest.approx(left, rel=_REL, abs=0.0)
    assert found_right == pytest.approx(right, rel=_REL, abs=0.0)
    end = (left * left + right * right) / 2
    assert end_slope_moment(phi) == pytest.approx(end, rel=_REL, abs=0.0)
    assert slope_moment(phi, 0.0) == pytest.approx(end, rel=_REL, abs=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    ("name", "phi", "left", "right"), _KINKED[1:4], ids=[k[0] for k in _KINKED[1:4]]
)
def test_an_activation_in_a_narrower_dtype_has_the_same_one_sided_slopes(
    dtype: torch.dtype, name: str, phi: Callable[[Tensor], Tensor], left: float, right: float
) -> None:
    def narrow(x: Tensor) -> Tensor:
        return phi(x.to(dtype))

    # Each slope is the dtype's rounding of the float64 one (half an ulp: eps / 2 relative), or
    # the product of the rounded constants (selu: lambda and alpha each rounded, then multiplied
    # and rounded): at most 2 eps relative.
    rel = 2 * torch.finfo(dtype).eps
    found_left, found_right = one_sided_slopes(narrow)
    assert found_left == pytest.approx(left, rel=rel, abs=0.0)
    assert found_right == pytest.approx(right, rel=rel, abs=0.0)
    end = (left * left + right * right) / 2
    # Squares of slopes within rel: within 2 rel, and so is their mean.
    assert end_slope_moment(narrow) == pytest.approx(end, rel=2 * rel + rel * rel, abs=0.0)
