"""Signal propagation through one layer, for every built-in activation.

Mean-field theory (Poole et al. 2016, "Exponential expressivity in deep neural networks through
transient chaos"): a pre-activation of second moment q, through phi and a layer with
Var(W) = g^2 / fan_in, gives the next pre-activation the second moment

    M(q) = g^2 E[phi(sqrt(q) z)^2],  z ~ N(0, 1),

and the derived gain g = 1 / sqrt(E[phi(z)^2]) makes q = 1 a fixed point: M(1) = 1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _support import slow_except
from conftest import BUILTIN_ACTIVATIONS
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import initconv
from initconv._activations import builtin
from initconv._maths.quadrature import gaussian_expectation
from initconv.testing import ALPHA_CHECK, cumulant_band

# These keep torch.nn.init.calculate_gain's value, which is not the fixed-point gain
# (tanh 5/3 gives q* = 1.18, sigmoid 1 gives q* = 0.26); every other built-in gain is.
TORCH_TABLE_NOT_FIXED_POINT = ("sigmoid", "tanh")

# An activation with a nonzero mean gives every input patch a common direction, one eigenvalue of
# the patches' Gram matrix that carries a share mu^2 / E[phi^2] of its trace (85% for sigmoid), so
# each output channel adds only ~1.4 degrees of freedom however wide the input. 512 outputs keep
# the band within a factor 1.5 for every built-in activation (asserted below).
OUT_CHANNELS = 512

# A small space (width, kernel, side, seed) per activation: a quarter of the profile's examples
# covers it (tests/conftest.py counts them so).
EXAMPLES = max(10, settings.default.max_examples // 4)


def _phi(name: str) -> Callable[[Tensor], Tensor]:
    record = builtin(name)
    assert record is not None
    return functools.partial(record.phi, **dict(record.defaults))


def _variance_map(phi: Callable[[Tensor], Tensor], gain: float, q: float) -> float:
    return gain**2 * gaussian_expectation(lambda z: phi(math.sqrt(q) * z) ** 2)


# A kink, two smooth curves and a saturating one in the default run; every built-in when slow.
@pytest.mark.parametrize(
    "name", slow_except(BUILTIN_ACTIVATIONS, keep=["relu", "gelu", "silu", "tanh"])
)
@settings(max_examples=EXAMPLES)
@given(
    width=st.integers(64, 96),
    kernel=st.integers(1, 3),
    side=st.integers(6, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_layer_gives_the_next_pre_activation_the_second_moment_theory_predicts(
    name: str, width: int, kernel: int, side: int, seed: int
) -> None:
    phi = _phi(name)
    generator = torch.Generator().manual_seed(seed)
    # Unit-variance pre-activations, through the activation, into the layer under test.
    x = torch.randn(2, width, side, side, generator=generator, dtype=torch.float64)
    inputs = phi(x)
    layer = initconv.KaimingNormalConv2d(
        width, OUT_CHANNELS, kernel, bias=False, activation=name, seed=seed, dtype=torch.float64
    )
    with torch.no_grad():
        out = layer(inputs)
    # Given the input, output channel c is P w_c with P the patch matrix and w_c ~ N(0, s2 I), so
    # sum(out^2) = sum_c w_c^T G w_c, G = P^T P: a Gaussian quadratic form, sum_i s2 lambda_i chi2_1
    # per channel, with cumulants k_r = C 2^(r-1) (r-1)! s2^r tr(G^r). Its law is therefore exact
    # given the input, and its mean is g^2 times the patches' mean square of phi(x).
    patches = F.unfold(inputs, kernel).transpose(0, 1).reshape(int(layer.fan_in), -1)
    # P P^T and P^T P share their nonzero eigenvalues, so tr(G^r) comes from the smaller one.
    gram = patches.t() @ patches if patches.shape[1] < patches.shape[0] else patches @ patches.t()
    s2 = layer.expected_variance()
    traces = [
        float(torch.trace(gram)),
        float((gram * gram).sum()),
        float((gram * (gram @ gram)).sum()),
    ]
    k1, k2, k3 = (
        OUT_CHANNELS * 2 ** (r - 1) * math.factorial(r - 1) * s2**r * traces[r - 1]
        for r in (1, 2, 3)
    )
    lo, hi = cumulant_band(k1, k2, k3, alpha=ALPHA_CHECK)
    observed = float((out**2).sum())
    positions = out.numel()
    assert lo <= observed <= hi, (
        f"{name}: next pre-activation second moment {observed / positions:.5f}, expected "
        f"{k1 / positions:.5f} for this input (M(1) = {_variance_map(phi, layer.gain, 1.0):.5f}), band "
        f"[{lo / positions:.5f}, {hi / positions:.5f}] at alpha = {ALPHA_CHECK:g}"
    )
    # The band has power: a layer whose variance were off by a factor 1.5 would fall outside it.
    assert hi < 1.5 * k1
    assert lo > k1 / 1.5


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_the_derived_gain_makes_unit_variance_a_fixed_point_of_the_variance_map(name: str) -> None:
    phi = _phi(name)
    derived = initconv.gain(lambda x: phi(x))
    assert abs(_variance_map(phi, derived, 1.0) - 1.0) <= 1e-6
    table = initconv.gain(name)
    if name in TORCH_TABLE_NOT_FIXED_POINT:
        assert abs(_variance_map(phi, table, 1.0) - 1.0) > 1e-2
    else:
        assert table == pytest.approx(derived, rel=1e-6, abs=0.0)
        assert abs(_variance_map(phi, table, 1.0) - 1.0) <= 1e-6
