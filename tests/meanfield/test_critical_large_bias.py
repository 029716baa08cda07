"""critical() serves every bias whose point lies in the searched range, up to the largest one the
range allows, and refuses the rest by name.

Theory, derived here. critical() searches q* in [2^-24, 2^12] (named in its errors). On the line
(Poole et al. 2016; Schoenholz et al. 2017) q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2 with
sigma_w^2 > 0, so q* >= sigma_b^2: a bias_std at or above sqrt(2^12) = 64 has no point in the range,
and below it nothing excludes one. tanh at bias_std 40 has q* = 1675 (there E[tanh^2] / E[sech^4]
is about (3/4) sqrt(2 pi q) = 77, as the integral of sech^4 is 4/3, so q* = 1600 + 75), inside the
range: critical() must return it.

The check is of the two equations of the line at the returned point, by mpmath's quadrature at 20
digits, sharing nothing with the package:

    chi_1 = sigma_w^2 E[sech^4(u)] = 1,    q* = sigma_w^2 (1 - E[sech^2(u)]) + sigma_b^2,

u ~ N(0, q*), written with tanh^2 = 1 - sech^2 so that both integrands live on |u| < 80 (beyond,
sech^2 < 4 e^-160), split where sech's decay changes scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest

import initconv


def _moment(f: Callable[[Any], Any], q: float) -> Any:
    """E[f(u)], u ~ N(0, q), for an even f negligible beyond |u| = 80."""
    root = mpmath.sqrt(mpmath.mpf(q))
    return 2 * mpmath.quad(lambda u: f(u) * mpmath.npdf(u, 0, root), [0, 1, 3, 10, 40, 80])


def test_a_bias_below_the_largest_searchable_is_solved_on_the_line() -> None:
    bias_std = 40.0
    point = initconv.critical("tanh", bias_std)
    with mpmath.workdps(20):
        sech4 = _moment(lambda u: mpmath.sech(u) ** 4, point.q_star)
        sech2 = _moment(lambda u: mpmath.sech(u) ** 2, point.q_star)
        weight2 = mpmath.mpf(point.weight_std) ** 2
        chi_1 = float(weight2 * sech4)
        mapped = float(weight2 * (1 - sech2) + mpmath.mpf(bias_std) ** 2)
    # The package's moments are good to ~1e-12 relative and its root in log q to 1e-13; chi_1 and
    # the map's residual (slope M' - 1 = -1 there) inherit about that. 1e-9 is a 1000-fold margin.
    assert chi_1 == pytest.approx(1.0, rel=1e-9, abs=0)
    assert mapped == pytest.approx(point.q_star, rel=1e-9, abs=0)
    assert bias_std**2 < point.q_star < 2.0**12


@pytest.mark.parametrize("bias_std", [64.0, 100.0])
def test_a_bias_at_or_above_the_largest_searchable_is_refused_by_name(bias_std: float) -> None:
    with pytest.raises(ValueError, match=r"'tanh' has no critical point .* must be below 64"):
        initconv.critical("tanh", bias_std)
