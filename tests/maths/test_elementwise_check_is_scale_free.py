"""Whether a callable is elementwise does not depend on its units: ``initconv.gain`` refuses a
layout-dependent activation and accepts one whose layouts differ only by rounding, at every scale.

The promise is the probe's (``initconv/_maths/derived_gain.py``): an activation whose outputs for
the same values in another order and shape differ is refused as not elementwise, while outputs
that differ by a few units in the last place (a vectorised loop body against its scalar tail) are
not a dependence on the layout. Both are statements about relative size: multiplying an
activation by k = 2^e changes every output and every difference between outputs by exactly the
factor k (no rounding, away from overflow and subnormals), so the verdict on k phi must be the
verdict on phi, and the gain of k phi is gain(phi) / k (E[(k phi)^2] = k^2 E[phi^2]).

The activations here are k tanh(x), multiplied by 1 + delta when the input has 3 dimensions (the
shape the probe first evaluates in) and by 1 otherwise: delta = 4 eps is rounding, delta = 1e-4
is a real dependence on the input's shape, a thousand times float32's eps and 10^11 times
float64's, which no elementwise float64 function shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import initconv

EPS = torch.finfo(torch.float64).eps
# Scales from 2^-40 to 2^40: k tanh stays far from float64's overflow (2^1024) and subnormals
# (2^-1022) on the probe's [-8, 8].
EXPONENTS = [-40, -20, 0, 20, 40]


def _shape_dependent(k: float, delta: float) -> Callable[[Tensor], Tensor]:
    def phi(x: Tensor) -> Tensor:
        return k * torch.tanh(x) * (1.0 + delta if x.dim() == 3 else 1.0)

    return phi


def _tanh(x: Tensor) -> Tensor:
    return torch.tanh(x)


@pytest.mark.parametrize("exponent", EXPONENTS)
def test_outputs_that_differ_by_rounding_between_layouts_are_elementwise_at_every_scale(
    exponent: int,
) -> None:
    k = 2.0**exponent
    value = initconv.gain(_shape_dependent(k, 4 * EPS))
    # gain(k phi) = gain(phi) / k exactly in theory; the activation differs from k tanh by at most
    # 4 eps relative, so its gain by as much, and the quadrature answers to ~1e-12 relative
    # (initconv/_maths/quadrature.py): 1e-10 bounds both with a hundredfold margin.
    assert math.isclose(value * k, initconv.gain(_tanh), rel_tol=1e-10)


@pytest.mark.parametrize("exponent", EXPONENTS)
def test_outputs_that_depend_on_the_layout_are_refused_at_every_scale(exponent: int) -> None:
    with pytest.raises(ValueError, match="is not elementwise"):
        initconv.gain(_shape_dependent(2.0**exponent, 1e-4))
