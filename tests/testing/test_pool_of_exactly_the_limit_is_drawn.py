"""A detectable error that needs exactly 2^24 pooled weights is checked, not refused.

Promise (check_layer's and check_scheme's docstrings): "a ``detectable`` that needs more than
2^24 pooled weights is a ``ValueError``"; the refusal says it needs "more than the 16,777,216 a
pool holds". A pool holds 2^24 weights, so needing exactly that many is allowed and the pool
starts drawing. "Needs" is min_sample_size's answer. The boundary is reachable: as detectable
shrinks, min_sample_size steps through every n (the least detectable seen at n falls by about
1 / (2n) of itself per unit of n, ~3e-8 relative at 2^24, far above float64's resolution and the
~1e-15 noise of the power), and detectable = 0.004188307233768791 gives exactly 2^24 at the
default alpha and power (found by bisection on min_sample_size; the test bisects again in a
bracket of 1e-6 relative should another scipy round it differently). The pool's first draw
raises a marker here, so the test stops there, before drawing 128 MiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import initconv
from initconv._layers.base import InitLayer
from initconv.testing import ALPHA_CHECK, min_sample_size
from initconv.testing._checks import _check_iid

LIMIT = 2**24  # the documented most pooled weights


class StartedDrawing(Exception):
    """The pool asked for its first fresh layer."""


def _mark_the_first_draw(_: Mapping[str, Any]) -> InitLayer:
    raise StartedDrawing


def _detectable_needing_exactly(n: int) -> float:
    detectable = 0.004188307233768791
    low, high = detectable * (1 - 1e-6), detectable * (1 + 1e-6)  # needs > n, needs <= n
    for _ in range(40):  # the bracket holds ~70 values of n: a few halvings find one
        needed = min_sample_size("normal", detectable)
        if needed == n:
            return detectable
        low, high = (detectable, high) if needed > n else (low, detectable)
        detectable = (low + high) / 2
    raise AssertionError(f"no detectable near {detectable!r} needs exactly {n} weights")


def test_needing_exactly_the_pool_limit_starts_the_pool() -> None:
    detectable = _detectable_needing_exactly(LIMIT)
    assert min_sample_size("normal", detectable, ALPHA_CHECK) == LIMIT
    layer = initconv.KaimingNormalLinear(16, 8, seed=0)
    with pytest.raises(StartedDrawing):
        _check_iid([layer], _mark_the_first_draw, [{}], "normal", ALPHA_CHECK, detectable, [])
    # A detectable a millionth smaller needs more (about 33 more weights): refused before drawing.
    smaller = detectable * (1 - 1e-6)
    assert min_sample_size("normal", smaller, ALPHA_CHECK) > LIMIT
    with pytest.raises(ValueError, match="more than the 16,777,216 a pool holds"):
        _check_iid([layer], _mark_the_first_draw, [{}], "normal", ALPHA_CHECK, smaller, [])
