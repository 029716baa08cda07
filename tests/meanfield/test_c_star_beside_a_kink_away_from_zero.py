"""In the chaotic phase, c* of an activation with a kink away from 0 is the correlation map's
root below 1, not 1.

Theory (Schoenholz et al. 2017): C(c) = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q* is convex
in c with C(1) = 1 and C'(1) = chi_1, so for chi_1 > 1 it has exactly one fixed point c* < 1, the
stable one. The reference C here is computed without initconv: E over z2 of the kink's part
|x - k| has a closed form (the folded normal's mean), the tanh part and the outer integral are
composite Gauss-Legendre sums, the outer one with the kink on a panel edge. The
two-dimensional grid once put C(1) 1e-6 above 1 for such a kink, ten times C's gap to c at
1 - 1e-6, and reported c* = 1.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from initconv.diagnostics import correlation_map

KINK = 0.3


def _phi(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x) + 0.1 * (x - KINK).abs()


def _composite(edges: list[float], panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of 8-point Gauss-Legendre on ``panels`` equal panels between each pair
    of consecutive ``edges``: exact to rounding for a smooth integrand, and for one with a kink
    placed on an edge."""
    base, weights = np.polynomial.legendre.leggauss(8)
    nodes, all_weights = [], []
    for a, b in itertools.pairwise(edges):
        cuts = np.linspace(a, b, panels + 1)
        half = np.diff(cuts)[:, None] / 2
        nodes.append(((cuts[:-1, None] + cuts[1:, None]) / 2 + half * base).ravel())
        all_weights.append((half * weights).ravel())
    return np.concatenate(nodes), np.concatenate(all_weights)


def _reference_map(c: float, q: float, sigma_w: float, sigma_b: float) -> float:
    """C(c) at q by E over z1 of phi(u1) E[phi(u2) | z1]: the inner mean of |x - k| is the folded
    normal's, s sqrt(2/pi) exp(-d^2 / 2s^2) + d (1 - 2 Phi(-d/s)) with d = c x - k, and that of
    tanh a smooth quadrature; the outer quadrature has the kink z1 = k / sqrt(q) on a panel edge."""
    root = math.sqrt(q)
    s = root * math.sqrt(1 - c * c)
    z1, w1 = _composite([-12.0, KINK / root, 12.0], 100)
    z2, w2 = _composite([-12.0, 12.0], 200)
    x = root * z1
    d = c * x - KINK
    folded = s * math.sqrt(2 / math.pi) * np.exp(-(d**2) / (2 * s**2)) + d * (
        1 - 2 * stats.norm.cdf(-d / s)
    )
    smooth = np.tanh(c * x[:, None] + s * z2[None, :]) @ (w2 * stats.norm.pdf(z2))
    phi = np.tanh(x) + 0.1 * np.abs(x - KINK)
    value = float(np.sum(w1 * stats.norm.pdf(z1) * phi * (smooth + 0.1 * folded)))
    return (sigma_w**2 * value + sigma_b**2) / q


# Each case solves c* on the two-dimensional grid (~3 s of CPU): kept out of the default budget.
@pytest.mark.slow
@pytest.mark.parametrize("sigma_b", [0.05, 0.0])
def test_chaotic_c_star_beside_a_kink_is_the_reference_maps_root_below_one(
    sigma_b: float,
) -> None:
    sigma_w = 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = correlation_map(_phi, sigma_w, sigma_b)
    assert found.phase == "chaotic"
    q = found.q_star
    # The reference root, by Brent on [0, 0.9]: C(0) >= 0 = c there, and C(0.9) < 0.9 (chi_1 ~
    # 1.1 leaves c* far below 0.9).
    reference = optimize.brentq(
        lambda c: _reference_map(c, q, sigma_w, sigma_b) - c, 0.0, 0.9, xtol=1e-9
    )
    assert 0.05 < reference < 0.8  # the case is the one meant: c* well inside (0, 1)
    # The stated accuracy of c* where a kink lies away from 0: ~1e-3.
    assert found.c_star == pytest.approx(reference, abs=1e-3)


def test_a_c_star_too_near_one_to_resolve_beside_a_kink_is_nan_with_a_warning_saying_where() -> (
    None
):
    # Just past the critical line of bias_std 0.05 (sigma_w = 1.235344), chi_1 = 1.0002: C's gap
    # to c near 1 is ~2e-4 (1 - c), below what the grid's miss at the kink lets one resolve.
    sigma_w, sigma_b = 1.235962081233777, 0.05
    with pytest.warns(RuntimeWarning, match=r"c\* within about \S+ of 1") as caught:
        found = correlation_map(_phi, sigma_w, sigma_b)
    assert found.phase == "chaotic"
    assert math.isnan(found.c_star)
    assert math.isnan(found.chi_c)
    assert math.isnan(found.depth_c)
    (message,) = [str(w.message) for w in caught]
    depth = float(message.split("c* within about ")[1].split(" ")[0])
    # The warning's distance holds the reference map's root: C(0.9) > 0.9 and C(1 - 1e-6) < 1 -
    # 1e-6 by the reference (whose error, ~1e-12, is far below its gap there, ~2e-10). "About":
    # the grid's miss near 1 is estimated, so within twice the distance stated.
    q = found.q_star
    reference = optimize.brentq(
        lambda c: _reference_map(c, q, sigma_w, sigma_b) - c, 0.9, 1 - 1e-6, xtol=1e-9
    )
    assert 0.0 < 1.0 - reference <= 2 * depth
