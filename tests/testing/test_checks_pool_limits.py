"""The pools behind ``check_scheme`` and ``check_layer(pool=True)`` keep their documented limits.

Promises (docstrings of ``check_scheme``, ``check_layer`` and ``_bias``): a ``detectable`` that
needs more than 2^24 pooled weights is a ``ValueError``, raised before anything is drawn, whose
message states the memory (float64: 8 bytes a weight); the seed root must be below 2**40 because
each layer's seed is ``seed << 24 + i`` and seeds live in [0, 2**64); pooled biases are tested
for mean zero at their standardised variance 1: the mean's band is the exact normal one,
``z_{1 - alpha/2} / sqrt(n)`` (scipy), so a bias whose variance is exactly right and whose mean
sits 1.2 such bands off must fail, with certainty (the values are set, not drawn).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
import torch
from scipy import stats

import initconv
from initconv._layers.base import InitLayer
from initconv.testing import ALPHA_CHECK, check_scheme, min_sample_size
from initconv.testing._bias import BIAS_DETECTABLE, check_bias_pool
from initconv.testing._checks import _check_iid

_LIMIT = 2**24  # the documented largest pool


def _never_build(_: Mapping[str, Any]) -> InitLayer:
    raise RuntimeError("drew a layer for a pool that is too large to draw")


def test_a_detectable_needing_more_than_the_pool_limit_is_refused_before_drawing() -> None:
    detectable = 0.004
    needed = min_sample_size("normal", detectable, ALPHA_CHECK)
    assert needed > _LIMIT  # this detectable is beyond the limit: the refusal is due
    layer = initconv.KaimingNormalLinear(16, 8, seed=0)
    with pytest.raises(ValueError, match="more than the") as raised:
        _check_iid([layer], _never_build, [{}], "normal", ALPHA_CHECK, detectable, [])
    message = str(raised.value)
    count = int(re.search(r"needs ([\d,]+) pooled", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    gib = float(re.search(r"\(([\d.e+-]+) GiB as float64\)", message).group(1))  # type: ignore[union-attr]
    assert count == needed
    # 8 bytes a float64 weight; the message rounds to 3 significant figures.
    assert gib == pytest.approx(count * 8 / 2**30, rel=5e-3)


def test_the_seed_root_is_refused_from_2_to_the_40_and_accepted_just_below() -> None:
    constant: dict[str, Any] = {
        "std": 0.0,
        "kinds": "linear",
        "shapes": [{"in_features": 3, "out_features": 2}],
    }
    with pytest.raises(ValueError, match=r"below 2\*\*40"):
        check_scheme(initconv.NormalLinear, seed=2**40, **constant)
    # The largest root: its layers' seeds (2**40 - 1) * 2**24 + i are still below 2**64.
    assert check_scheme(initconv.NormalLinear, seed=2**40 - 1, **constant).layers == 1


def test_pooled_biases_with_the_right_variance_and_a_shifted_mean_are_rejected() -> None:
    std, out = 0.1, 64
    needed = min_sample_size("normal", BIAS_DETECTABLE, ALPHA_CHECK)
    pooled = out * math.ceil(needed / out)  # whole layers are pooled until `needed` is reached
    band = float(stats.norm.isf(ALPHA_CHECK / 2)) / math.sqrt(pooled)
    shift = 1.2 * band  # outside the band at variance 1; inside sqrt(2) times it
    spread = math.sqrt(1 - shift**2)  # mean square of the standardised biases exactly 1
    pattern = torch.tensor([shift + spread, shift - spread], dtype=torch.float64).repeat(out // 2)

    def build(_: Mapping[str, Any]) -> InitLayer:
        layer = initconv.KaimingNormalLinear(
            8, out, bias=True, bias_init="normal", bias_std=std, dtype=torch.float64, seed=0
        )
        with torch.no_grad():
            layer.bias.copy_(std * pattern)
        return layer

    with pytest.raises(AssertionError, match="mean is not zero"):
        check_bias_pool([build({})], build, [{}], ALPHA_CHECK)


def test_the_pool_holds_at_least_the_sample_size_its_power_needs() -> None:
    # A layer of k weights with k dividing needed - 1: a count off by one would stop one
    # weight short of min_sample_size, below the stated power.
    detectable = 0.5
    needed = min_sample_size("normal", detectable, ALPHA_CHECK)
    k = next(k for k in range(2, needed) if (needed - 1) % k == 0)
    shape = {"in_features": k, "out_features": 1}
    report = check_scheme(
        initconv.NormalLinear, std=0.1, kinds="linear", detectable=detectable, shapes=[shape]
    )
    assert report.n >= needed
