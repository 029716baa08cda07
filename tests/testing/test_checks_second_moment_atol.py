"""``second_moment_atol`` is sound and tight for the float errors it is documented to absorb.

A structured scheme's exact check compares the mean square of its stored weights with the theory
to ``second_moment_atol(dtype, m)``; the comment states the error model: each entry good to
1e-5 relative (the QR allowance; one unit in the last place is at most ``eps`` relative, below
it), and, below the normal range, off by up to one subnormal spacing ``s``. The bound follows
from ``y^2 - x^2 = (y - x)(y + x)``: an entry moved by one spacing moves its square by at most
``2 |x| s + s^2``, and the mean of ``|x|`` is at most ``sqrt(mean(x^2))`` (Cauchy-Schwarz), so
the mean square moves by at most ``2 sqrt(m) s + s^2``. Sound: every such perturbation is
within the tolerance. Tight: the tolerance still sees a 0.01% error of the mean square in the
normal range and a 1% one for weights a thousand spacings in size, so the exact check keeps its
meaning. ``s`` is read from numpy (its smallest subnormal), independently of ``torch.finfo``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from initconv.testing import second_moment_atol


def _subnormal_spacing(dtype: torch.dtype) -> float:
    if dtype == torch.float32:
        return float(np.finfo(np.float32).smallest_subnormal)
    return float(np.finfo(np.float64).smallest_subnormal)


def test_entries_moved_by_one_unit_in_the_last_place_stay_within_the_tolerance() -> None:
    rng = np.random.default_rng(0)
    for dtype, np_dtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
        for scale in (1e-30, 1e-3, 1.0, 1e3):
            x = (rng.standard_normal(4096) * scale).astype(np_dtype)
            away = np.where(rng.random(4096) < 0.5, np_dtype(np.inf), np_dtype(-np.inf))
            y = np.nextafter(x, away)  # one ulp, at most eps relative in the normal range
            m = float(np.mean(x.astype(np.float64) ** 2))
            moved = abs(float(np.mean(y.astype(np.float64) ** 2)) - m)
            assert moved <= second_moment_atol(dtype, m)


def test_subnormal_entries_moved_by_one_spacing_stay_within_the_tolerance() -> None:
    # float32 only: float64's spacing squared (2^-2148) underflows in the float64 arithmetic.
    s = _subnormal_spacing(torch.float32)
    rng = np.random.default_rng(1)
    for size in (0, 1, 3, 100, 10_000):  # entries of `size` spacings, including exact zeros
        x = rng.integers(-size, size + 1, 2048).astype(np.float64) * s
        for step in (s, -s):
            y = x + np.sign(x + step / 2) * abs(step)  # each entry one spacing further from 0
            m = float(np.mean(x**2))
            moved = abs(float(np.mean(y**2)) - m)
            assert moved <= second_moment_atol(torch.float32, m)
    # All zeros read back as one spacing each: the whole s^2 of the bound is needed.
    assert s**2 <= second_moment_atol(torch.float32, 0.0)


def test_the_tolerance_still_sees_a_small_error_of_the_mean_square() -> None:
    for dtype in (torch.float32, torch.float64):
        for m in (1e-12, 1e-4, 1e-2, 1.0, 1e4):  # normal-range weights
            assert second_moment_atol(dtype, m) < 1e-4 * m
        s = _subnormal_spacing(dtype)
        if s**2 > 0:
            m = (1000 * s) ** 2  # entries about a thousand spacings: the model allows 0.2%
            assert second_moment_atol(dtype, m) < 1e-2 * m
        assert math.isfinite(second_moment_atol(dtype, 1e30))
