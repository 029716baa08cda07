r"""A line that is marginal everywhere, M'(q*) = 1 exactly, counts as stable; without a bias it has
no point at all.

Theory, derived here for phi(x) = relu(x - c), c > 0 (a relu whose kink sits at phi = 0). With
u ~ N(0, q), sigma = sqrt(q), a = c / sigma, n and Phi-bar the normal density and upper tail:

    G(q) = E[phi'(u)^2] = Phi-bar(a),
    F(q) = E[phi(u)^2]  = q ((1 + a^2) Phi-bar(a) - a n(a)),
    D(q) / G(q) = q - F / G = c^2 (n(a) / (a Phi-bar(a)) - 1).

The critical line (Poole et al. 2016; Schoenholz et al. 2017) is sigma_w^2 = 1 / G(q*) with
q* = F(q*) / G(q*) + sigma_b^2, i.e. D / G = sigma_b^2. Its variance map's slope is
M'(q*) = sigma_w^2 F'(q*), and by the heat equation d/dq E[h(u)] = E[h''(u)] / 2 with
h = phi^2, F' = E[phi'^2] + E[phi phi''] = G, since phi'' is a delta at c where phi(c) = 0. So
M'(q*) = 1 exactly at every point of the line: marginal, and the docs count a point as unstable only
where M'(q*) > 1 (docs/deep.md, "The critical line"). critical() must return the point, which the
closed forms above place (solved here by mpmath at 30 digits).

Without a bias the line's points solve D(q) = 0, but D / G > 0 at every q > 0 by the Mills-ratio
bound Phi-bar(a) < n(a) / a, and at the line's end G -> Phi-bar(inf) = 0 (both one-sided slopes at
0 are 0), so sigma_w -> inf: there is no point, and critical() must say so with a ValueError.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from torch import Tensor

import initconv

_C = 1.0


def _shifted_relu(x: Tensor) -> Tensor:
    return torch.relu(x - _C)


def _line_by_closed_form(bias_std: float) -> tuple[float, float]:
    """(sigma_w, q*) on relu(x - c)'s line at bias_std, from D / G = sigma_b^2."""
    with mpmath.workdps(30):
        c, bias2 = mpmath.mpf(_C), mpmath.mpf(bias_std) ** 2

        def gap(log_q: mpmath.mpf) -> mpmath.mpf:
            a = c / mpmath.sqrt(mpmath.exp(log_q))
            return c**2 * (mpmath.npdf(a) / (a * mpmath.ncdf(-a)) - 1) - bias2

        q = mpmath.exp(mpmath.findroot(gap, mpmath.log(bias2 + c**2 / 4)))
        return float(1 / mpmath.sqrt(mpmath.ncdf(-c / mpmath.sqrt(q)))), float(q)


def test_a_line_with_the_variance_slope_exactly_one_is_counted_stable() -> None:
    weight_std, q_star = _line_by_closed_form(0.5)
    point = initconv.critical(_shifted_relu, 0.5)
    # The package's moments are good to ~1e-12 relative; q* moves by 1 / 0.77 of D/G's relative
    # error (d ln(D/G) / d ln q = 0.77 at this q*) and sigma_w by 0.85 of q*'s
    # (d ln G / d ln q = a n(a) / (2 Phi-bar(a)) = 1.7, halved by the square root): 1e-9 is a
    # 1000-fold margin over both.
    assert point.q_star == pytest.approx(q_star, rel=1e-9, abs=0)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-9, abs=0)
    # M'(q*) = F'/G = 1 exactly; the package's F' and G carry ~1e-12 each.
    assert point.variance_slope == pytest.approx(1.0, abs=1e-9)


def test_without_a_bias_a_line_whose_end_has_no_slope_has_no_point() -> None:
    with pytest.raises(ValueError, match=r"'_shifted_relu' has no critical point at bias_std=0\.0"):
        initconv.critical(_shifted_relu, 0.0)
