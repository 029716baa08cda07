"""check_layer's exact second-moment check allows each entry's rounding to the layer's dtype.

Promise (check_layer's docstring and second_moment_atol's comment): a structured scheme's
mean((w - m)^2) "must equal expected_variance() to second_moment_atol", a float tolerance on
the second moment E[w^2] = Var(w) + m^2 that covers each entry's rounding to the dtype (relative
eps / 2). Theory: a 1 x 1 identity layer holds the single weight fl(g) = g (1 + d), |d| <= eps / 2;
its scheme claims mean g and variance 0, so the check measures (fl(g) - g)^2 = g^2 d^2
<= g^2 eps^2 / 4, far inside max(1e-5, 2 eps) E[w^2] = max(1e-5, 2 eps) g^2. The gains are set
0.49 of a spacing above a power of two, so fl(g) is as far from g as rounding goes (d ~ 0.49 eps),
at magnitudes from 2^-40 to 2^10 (each a normal number of the dtype): a correct layer must pass
at every one.
"""

from __future__ import annotations

import pytest
import torch

import initconv
from initconv.testing import check_layer

# (dtype, exponents k of the gains 2^k (1 + 0.49 eps)), each 2^k a normal number of the dtype.
CASES = [
    (torch.bfloat16, (-40, -20, -12, 0, 10)),
    (torch.float16, (-12, -4, 0, 10)),
    (torch.float32, (-40, -30, -12, 0, 10)),
]


@pytest.mark.parametrize(("dtype", "exponents"), CASES)
def test_a_one_by_one_identity_passes_whatever_its_gain_rounds_to(
    dtype: torch.dtype, exponents: tuple[int, ...]
) -> None:
    eps = torch.finfo(dtype).eps
    for k in exponents:
        gain = 2.0**k * (1 + 0.49 * eps)
        layer = initconv.IdentityLinear(1, 1, gain=gain, bias=False, dtype=dtype, seed=0)
        stored = float(layer.weight.detach()[0, 0])
        assert stored == 2.0**k  # the premise: rounded down by 0.49 of a spacing
        assert check_layer(layer, detectable=None) == ("invariants", "exact second moment")
