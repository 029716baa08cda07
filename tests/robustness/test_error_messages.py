"""Bad input is a ValueError or TypeError that names the parameter and shows the value; numpy's
scalars are accepted wherever Python's numbers are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import initconv

Conv = initconv.KaimingNormalConv2d


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: Conv(4, 4, 3, bias_init=1e300), ValueError, "bias_init must be at most"),
        (
            lambda: initconv.UniformConv2d(4, 4, 3, low=-1e5, high=1e5, dtype=torch.float16),
            ValueError,
            r"low must be at most 65504",
        ),
        (lambda: Conv(4, 4, 3, gain=10**400), ValueError, r"gain must be finite.*\(401 char"),
        (
            lambda: Conv(4, 4, 3, activation=nn.LeakyReLU(float("nan"))),
            ValueError,
            "LeakyReLU's negative_slope must be finite, got nan",
        ),
        (
            lambda: Conv(4, 4, 3, activation=nn.LeakyReLU(1e200)),
            ValueError,
            r"gain=1\.414.*e-200 .*the weights would have .*std 2\.357",
        ),
        (
            lambda: initconv.ICNRConv2d(8, 16, 3, base="delta_orthogonal"),
            ValueError,
            r"ICNR with out_channels=16 .* out_channels=4 = 16 / 4 with base 'delta_orthogonal'",
        ),
        (lambda: initconv.conv2d(["x"], 4, 4, 3), TypeError, r"scheme must be .*, got list"),
    ],
)
def test_a_bad_value_gives_a_value_or_type_error_naming_the_parameter(
    build: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("scalar", [np.float16, np.float32, np.float64])
def test_numpy_float_scalars_are_accepted_wherever_floats_are(scalar: type) -> None:
    assert Conv(4, 4, 3, gain=scalar(0.5), bias_init=scalar(0.25)).gain == 0.5
    assert initconv.NormalConv2d(4, 4, 3, mean=scalar(0.5), std=scalar(0.5)).std == 0.5
    assert initconv.VarianceScalingConv2d(4, 4, 3, scale=scalar(2.0)).scale == 2.0
    assert initconv.IdentityConv2d(4, 4, 3, identity_gain=scalar(0.5)).gain == 0.5


@pytest.mark.parametrize("scalar", [np.int64, np.uint64])
def test_numpy_integer_scalars_are_accepted_as_seeds_and_counts(scalar: type) -> None:
    assert Conv(4, 4, 3, seed=scalar(7)).seed == 7
    assert initconv.ICNRConv2d(4, 8, 3, upscale_factor=scalar(2)).upscale_factor == 2
    assert initconv.seed_modules(nn.Sequential(Conv(4, 4, 3)), scalar(3))
