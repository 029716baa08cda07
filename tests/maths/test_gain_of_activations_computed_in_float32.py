"""An activation computed in float32 gets the gain of its float64 self, to float32's precision.

The derived gain integrates phi^2 to a relative ``4 eps`` of the dtype phi computes in (a float32
phi cannot be integrated more finely than its values; initconv/_maths/derived_gain.py). A float32
phi may be much noisier than its own ulp where it cancels: gelu's ``x (1 + erf(x / sqrt 2)) / 2``
for x < -3, where ``1 + erf`` loses every digit it had. Such noise is absolute, tiny beside
E[phi^2], and must not stop the integral converging (it once did: gelu in float32 was refused as
"too rough to integrate"). The mean-field maps, which need 1e-12, still refuse such a phi
(tests/meanfield/test_critical_line.py).

The theory: phi32 = phi (1 + d) with |d| <= a few eps32 wherever phi is not tiny, so
E[phi32^2] = E[phi^2] (1 + O(eps32)) plus the quadrature's 4 eps32 of E[phi^2]; the gain, its
inverse square root, is within half of that: 2.5 eps32 = 3e-7. The float64 gains are held to
mpmath elsewhere (tests/maths/test_derived_gain.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import initconv

EPS32 = torch.finfo(torch.float32).eps
ALLOWED = (4 + 1) / 2 * EPS32  # the quadrature's 4 eps, the values' 1 eps, halved by the root

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": F.softplus,
    "elu": F.elu,
}


@pytest.mark.parametrize("phi", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_the_gain_of_an_activation_computed_in_float32_is_its_float64_gain(
    phi: Callable[[Tensor], Tensor],
) -> None:
    in_float32 = initconv.gain(lambda x: phi(x.to(torch.float32)))
    assert in_float32 == pytest.approx(initconv.gain(phi), rel=ALLOWED)
