r"""variance_map calls a fixed point marginal where its slope is within 1e-6 of 1, and stable or
unstable only beyond.

The promise (``VarianceMap.verdict``, and the comment on ``_MARGINAL``): ``"marginal"`` is
:math:`M'(q^*) = 1`, where deviations random-walk; a slope within 1e-6 of 1 changes a deviation
by less than 1e-3 over 1000 layers (:math:`(1 - 10^{-6})^{1000} > 1 - 10^{-3}`) and is marginal;
farther from 1 the verdict is ``"stable"`` (:math:`M' < 1`) or ``"unstable"``.

Theory, exact for hardtanh (clip to [-1, 1]) at gain g, with :math:`t = 1/\sqrt{q}`,
:math:`\Phi, \varphi` the normal cdf and density, and :math:`A(t) = \mathbb{E}[z^2; |z| < t] =
2\Phi(t) - 1 - 2t\varphi(t)`:

.. math::
    M(q) = g^2 \big(q A(t) + 2(1 - \Phi(t))\big), \qquad
    M'(q) = g^2 \mathbb{E}[\phi(\sqrt q z) \phi'(\sqrt q z) z] / \sqrt q = g^2 A(t).

:math:`M(q)/q = g^2(A(t) + 2 t^2 (1 - \Phi(t)))` falls from :math:`g^2` (q -> 0) to 0, so for
:math:`g > 1` there is one fixed point, solved here with mpmath at 40 digits; there
:math:`M'(q^*) = 1 - 2 g^2 t^2 (1 - \Phi(t))`, just below 1 when g is just above 1 (the clipped
tails are all that bends the map). At :math:`g = 1 + 10^{-8}` the slope is :math:`1 - 3.4
\times 10^{-7}`, three times inside the band (2.97); at :math:`g = 1 + 10^{-6}`, :math:`1 - 2.5 \times
10^{-5}`, 25 times outside. The code's moments are exact to ~1e-12, far inside both margins.
"""

from __future__ import annotations

import mpmath  # type: ignore[import-untyped]
import pytest

from initconv import diagnostics


def _exact_slope(gain: float) -> float:
    """M'(q*) of hardtanh at ``gain``, from the closed form above, at 40 digits."""
    with mpmath.workdps(40):
        return _slope_at_the_fixed_point(gain)


def _slope_at_the_fixed_point(gain: float) -> float:
    g2 = mpmath.mpf(gain) ** 2

    def tail(t: mpmath.mpf) -> mpmath.mpf:
        return 1 - mpmath.ncdf(t)

    def excess(log_q: mpmath.mpf) -> mpmath.mpf:
        t = mpmath.exp(-log_q / 2)
        area = 1 - 2 * tail(t) - 2 * t * mpmath.npdf(t)
        return g2 * (area + 2 * t * t * tail(t)) - 1

    # M(q)/q - 1 is positive at q = 1e-4 (t = 100) and negative at q = 1 for these gains, and
    # falls in between: bisection on log q, 120 halvings of a bracket of width 9.3 (to 1e-35).
    low, high = mpmath.log(mpmath.mpf("1e-4")), mpmath.mpf(0)
    assert excess(low) > 0 > excess(high)
    for _ in range(120):
        middle = (low + high) / 2
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    t = mpmath.exp(-low / 2)
    return float(1 - 2 * g2 * t * t * tail(t))


@pytest.mark.parametrize(("gain", "verdict"), [(1 + 1e-8, "marginal"), (1 + 1e-6, "stable")])
def test_a_slope_within_a_millionth_of_one_is_marginal_and_beyond_it_is_not(
    gain: float, verdict: str
) -> None:
    slope = _exact_slope(gain)
    # The band's edge is 1e-6; each case is at least a factor 2 away from it (2.97 and 25).
    assert (abs(slope - 1) < 1e-6 / 2) == (verdict == "marginal")
    assert (abs(slope - 1) > 2e-6) == (verdict != "marginal")
    result = diagnostics.variance_map("hardtanh", gain)
    # The moments are exact to ~1e-12 (relative_expectation); 1e-9 leaves room for the fixed
    # point's own 1e-13 in log q.
    assert result.slope == pytest.approx(slope, abs=1e-9)
    assert result.verdict == verdict
