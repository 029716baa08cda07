"""The variance band of a few weights refuses weights that are all zero, and its lower end keeps
the false-alarm rate within alpha / 2.

For T = n R, the sum of n standardised squares, P(T <= t) is the integral of the weights' joint
density over the ball |w|^2 <= t. That density is at most f0^n, f0 the largest density of one
standardised weight (at 0), so P(T <= t) <= V_n t^(n/2) f0^n, V_n = pi^(n/2) / Gamma(n/2 + 1) the
unit n-ball's volume; for uniform weights U(-sqrt 3, sqrt 3) the density is f0 = 1 / (2 sqrt 3) on
the whole cube, so the bound is the exact P(T <= t) while the ball lies in the cube (t <= 3). The
shifted gamma behind variance_band matches three cumulants and misses this lower tail for a few
uniform or truncated-normal weights: its lower end is negative below n = 12, where a layer of all
zeros would pass. Checked here with mpmath, apart from the kit: the band's lower end has
P(R <= lo) <= alpha / 2 (to 1e-9 relative, the kit's float64 evaluation of the same closed form),
with equality where the bound decides for uniform weights; all-zero weights are refused.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch

from initconv.testing import ALPHA_CHECK, assert_variance_matches, variance_band

_F0 = {"uniform": 1 / (2 * mpmath.sqrt(3))}


def _uniform_lower_tail(n: int, r: float) -> mpmath.mpf:
    """P(R <= r) for n uniform weights of unit variance, exact while n r <= 3."""
    with mpmath.workdps(30):
        t = mpmath.mpf(n) * r
        assert t <= 3, "the ball must lie in the cube for the closed form"
        volume = mpmath.pi ** (mpmath.mpf(n) / 2) / mpmath.gamma(mpmath.mpf(n) / 2 + 1)
        return volume * t ** (mpmath.mpf(n) / 2) * _F0["uniform"] ** n


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20])
@pytest.mark.parametrize("alpha", [ALPHA_CHECK, 0.05])
def test_the_lower_end_for_a_few_uniform_weights_is_the_exact_alpha_half_point(
    n: int, alpha: float
) -> None:
    lo, _ = variance_band(n, "uniform", alpha=alpha)
    assert lo > 0
    if n * lo <= 3:  # where the closed form is exact: the bound decides, with equality
        assert float(_uniform_lower_tail(n, lo)) == pytest.approx(alpha / 2, rel=1e-9)


@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal"])
@pytest.mark.parametrize("n", [1, 3, 10, 11])
def test_weights_that_are_all_zero_are_refused_however_few(distribution: str, n: int) -> None:
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_variance_matches(
            torch.zeros(n, dtype=torch.float64),
            1.0,
            distribution=distribution,  # type: ignore[arg-type]
        )
