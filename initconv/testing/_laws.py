"""The laws of the statistics the kit uses: bands, their power, and the sample sizes they need."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from initconv._maths.sampling import DISTRIBUTIONS, Distribution
from initconv._validate import check_choice, check_int, check_probability

__all__ = [
    "ALPHA_CHECK",
    "DETECTABLE",
    "POWER",
    "cumulant_band",
    "detectable_error",
    "min_sample_size",
    "standard_moments",
    "variance_band",
    "variance_power",
]

#: The default false-alarm rate of every check. initconv's own suite runs about 2 x 10^4
#: statistical checks per run (tests/conftest.py counts them), so by the union bound its
#: false-alarm probability per run stays below 1e-4; a band's width grows only like
#: sqrt(log(1 / alpha)), so a small alpha costs little power.
ALPHA_CHECK = 1e-9

#: The relative variance error :func:`check_scheme` is sure to see: 5%.
DETECTABLE = 0.05

#: The power :func:`check_layer` states its resolution at, and pools to: 95%.
POWER = 0.95


def standard_moments(distribution: Distribution) -> tuple[float, float]:
    r"""The 4th and 6th standardised moments :math:`(\mu_4, \mu_6)` of ``distribution``.

    Normal: (3, 15). Uniform: (9/5, 27/7). Normal truncated at :math:`\pm c = \pm 2` of its own
    standard deviation, from the recursion for :math:`Z \sim \mathcal{N}(0, 1)` given
    :math:`|Z| \le c`, with :math:`P = 2\Phi(c) - 1`:

    .. math::
        M_0 = P, \qquad M_k = -2 c^{k-1} \varphi(c) + (k - 1) M_{k-2}, \qquad
        \operatorname{E} Z^k = M_k / P.

    Examples:
        >>> standard_moments("uniform")
        (1.8, 3.857142857142857)
    """
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution == "normal":
        return 3.0, 15.0
    if distribution == "uniform":
        return 9 / 5, 27 / 7
    raw = _truncated_normal_raw_moments(2.0, 6)
    return raw[4] / raw[2] ** 2, raw[6] / raw[2] ** 3


def _truncated_normal_raw_moments(c: float, order: int) -> list[float]:
    """E[Z^k | |Z| <= c] for k = 0..order, Z ~ N(0, 1) (odd ones are 0)."""
    mass = math.erf(c / math.sqrt(2))
    density = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
    m = [mass, 0.0]
    for k in range(2, order + 1):
        m.append(-2 * c ** (k - 1) * density + (k - 1) * m[k - 2] if k % 2 == 0 else 0.0)
    return [value / mass for value in m]


@dataclass(frozen=True)
class ShiftedGamma:
    """loc + scale * Gamma(shape): the law of a sum matched to its first three cumulants."""

    loc: float
    scale: float
    shape: float

    @classmethod
    def fit(cls, k1: float, k2: float, k3: float) -> ShiftedGamma:
        # A gamma with shape a and scale s has cumulants a s, a s^2, 2 a s^3: skew = 2 / sqrt(a).
        skew = k3 / k2**1.5
        shape = 4 / skew**2
        scale = math.sqrt(k2) * skew / 2
        return cls(k1 - shape * scale, scale, shape)

    def interval(self, alpha: float) -> tuple[float, float]:
        lo = self.loc + self.scale * float(stats.gamma.ppf(alpha / 2, self.shape))
        hi = self.loc + self.scale * float(stats.gamma.isf(alpha / 2, self.shape))
        return lo, hi

    def cdf(self, x: float) -> float:
        return float(stats.gamma.cdf((x - self.loc) / self.scale, self.shape))


def cumulant_band(
    k1: float, k2: float, k3: float, alpha: float = ALPHA_CHECK
) -> tuple[float, float]:
    r"""The central ``1 - alpha`` interval of a statistic with cumulants ``k1``, ``k2``, ``k3``.

    From the shifted gamma with those three cumulants (Pearson, 1959): exact for a chi-square, and
    the law behind :func:`variance_band`; use it for a sum of independent squares of another kind,
    such as a Gaussian quadratic form :math:`\sum_i \lambda_i \chi^2_1` with cumulants
    :math:`k_r = 2^{r-1} (r-1)! \sum_i \lambda_i^r`. ``k3`` must be positive.

    Examples:
        >>> [round(x / 100, 4) for x in cumulant_band(100, 200, 800, alpha=1e-6)]  # chi-square_100
        [0.4536, 1.8503]
    """
    alpha = check_probability("alpha", alpha)
    if not (k2 > 0 and k3 > 0):
        raise ValueError(f"cumulants k2 and k3 must be > 0, got k2={k2!r}, k3={k3!r}")
    return ShiftedGamma.fit(k1, k2, k3).interval(alpha)


def sum_of_squares_law(n: int, mu4: float, mu6: float) -> ShiftedGamma:
    # T = sum X_i^2 of n iid standardised symmetric X: cumulants n, n (mu4 - 1), n (mu6 - 3 mu4 + 2).
    return ShiftedGamma.fit(n, n * (mu4 - 1), n * (mu6 - 3 * mu4 + 2))


def _largest_density(distribution: Distribution) -> float:
    """The largest density of a standardised weight, at 0."""
    if distribution == "normal":
        return 1 / math.sqrt(2 * math.pi)
    if distribution == "uniform":
        return 1 / (2 * math.sqrt(3))
    # w = Z / s for Z ~ N(0, 1) given |Z| <= 2, s^2 = E[Z^2 | |Z| <= 2]: density s phi(0) / P.
    spread = math.sqrt(_truncated_normal_raw_moments(2.0, 2)[2])
    return spread / (math.sqrt(2 * math.pi) * math.erf(2.0 / math.sqrt(2)))


def _small_ball_quantile(n: int, distribution: Distribution, alpha: float) -> float:
    # P(T <= t) is at most the n-ball of radius sqrt(t) times the largest density to the n:
    # V_n t^(n/2) f0^n, with V_n = pi^(n/2) / Gamma(n/2 + 1) (exact for uniform weights while the
    # ball lies in their cube, t <= 3). Where that is alpha / 2, F(t) <= alpha / 2.
    log_ball = (n / 2) * math.log(math.pi) - math.lgamma(n / 2 + 1)
    log_density = math.log(_largest_density(distribution))
    return math.exp((2 / n) * (math.log(alpha / 2) - log_ball - n * log_density))


def _interval(
    n: int, distribution: Distribution, alpha: float
) -> tuple[ShiftedGamma, float, float]:
    law = sum_of_squares_law(n, *standard_moments(distribution))
    lo, hi = law.interval(alpha)
    # A few uniform or truncated-normal weights are far from the gamma in the lower tail (its
    # lower end is negative below n = 12, so all-zero weights would pass): the small-ball bound
    # on the exact lower tail is the higher, and sure, lower end there.
    return law, max(lo, _small_ball_quantile(n, distribution, alpha)), hi


def variance_band(
    n: int, distribution: Distribution, alpha: float = ALPHA_CHECK
) -> tuple[float, float]:
    r"""The acceptance band for :math:`R = \overline{(w - m)^2} / v` from ``n`` iid weights.

    The sum :math:`T = nR` of standardised squares has cumulants :math:`K_1 = n`,
    :math:`K_2 = n(\mu_4 - 1)`, :math:`K_3 = n(\mu_6 - 3\mu_4 + 2)`; a shifted gamma with those
    cumulants (exactly :math:`\chi^2_n` for normal weights) gives

    .. math::
        \left[\frac{F^{-1}(\alpha/2)}{n}, \frac{F^{-1}(1 - \alpha/2)}{n}\right].

    Its lower end is raised, where it is lower, to where the exact lower tail is surely below
    :math:`\alpha/2`: :math:`P(T \le t) \le V_n t^{n/2} f_0^n`, the ball of radius
    :math:`\sqrt t` (volume :math:`V_n = \pi^{n/2} / \Gamma(n/2 + 1)`) times the largest
    density :math:`f_0` to the :math:`n` (exact for uniform weights up to :math:`t = 3`). It
    decides below 96 uniform and 55 truncated-normal weights at the default ``alpha``, where
    the gamma misses the lower tail (its lower end is negative below 12: all zeros would pass).

    Examples:
        >>> [round(x, 4) for x in variance_band(10_000, "normal", alpha=1e-6)]
        [0.9323, 1.0707]
    """
    n, alpha = check_int("n", n, minimum=1), check_probability("alpha", alpha)
    _, lo, hi = _interval(n, distribution, alpha)
    return lo / n, hi / n


def variance_power(
    n: int, ratio: float, distribution: Distribution, alpha: float = ALPHA_CHECK
) -> float:
    r"""The probability that :func:`assert_variance_matches` rejects weights whose true variance is
    ``ratio`` times the claimed one.

    Scaling the spread by :math:`\sqrt r` scales :math:`R` by :math:`r`, so with :math:`F_0` the law
    of :math:`R` under the claim and :math:`[l, h]` its band,
    :math:`\text{power} = F_0(l / r) + 1 - F_0(h / r)`.

    Examples:
        >>> round(variance_power(53_334, 1.05, "normal", alpha=1e-6), 3)
        0.999
    """
    n, alpha = check_int("n", n, minimum=1), check_probability("alpha", alpha)
    if not (isinstance(ratio, (int, float)) and ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a finite float > 0, got {ratio!r}")
    law, lo, hi = _interval(n, distribution, alpha)
    return law.cdf(lo / ratio) + 1 - law.cdf(hi / ratio)


def min_sample_size(
    distribution: Distribution,
    detectable: float = DETECTABLE,
    alpha: float = ALPHA_CHECK,
    power: float | None = None,
    *,
    ratios: Sequence[float] | None = None,
) -> int:
    r"""The least ``n`` at which the variance check rejects a variance off by a factor
    :math:`1 \pm` ``detectable`` (or by each factor in ``ratios``) with probability at least
    ``power`` (``1 - alpha`` by default, so that missing the error is as unlikely as a false alarm).

    Roughly :math:`(\mu_4 - 1)\,((z_{\alpha/2} + z_{1-\text{power}}) / \delta)^2`
    (the normal approximation); this searches the exact power (:func:`variance_power`).

    Examples:
        >>> min_sample_size("normal", 0.05, alpha=1e-6, power=0.999)
        53334
    """
    alpha = check_probability("alpha", alpha)
    target = 1 - alpha if power is None else check_probability("power", power)
    detectable = check_probability("detectable", detectable)
    factors = (1 + detectable, 1 - detectable) if ratios is None else tuple(ratios)
    if ratios is None and factors[0] == 1:
        # 1 + detectable rounds to 1 below 2^-53: no sample size sees an error float64 cannot hold.
        raise ValueError(
            f"detectable must be at least 2**-53 (1 + detectable must differ from 1 in float64), "
            f"got {detectable!r}"
        )
    if not factors or any(not (r > 0 and r != 1 and math.isfinite(r)) for r in factors):
        raise ValueError(f"ratios must be finite floats > 0 other than 1, got {ratios!r}")

    def enough(n: int) -> bool:
        return all(variance_power(n, r, distribution, alpha) >= target for r in factors)

    # Doubling from 1 tests every lo it leaves behind, so the bisection starts from "lo fails,
    # hi meets" (lo = 0 when n = 1 already meets the target).
    hi = 1
    while not enough(hi):
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


def detectable_error(
    n: int,
    distribution: Distribution,
    alpha: float = ALPHA_CHECK,
    power: float = POWER,
) -> float:
    r"""The smallest relative variance error that the variance check on ``n`` weights sees with
    probability at least ``power``: the least :math:`\delta` such that :func:`variance_power` is
    at least ``power`` at both :math:`r = 1 + \delta` and :math:`r = 1 - \delta`.

    Power rises with :math:`|r - 1|` on each side (scaling the spread by :math:`\sqrt r` scales
    the statistic by :math:`r`, which moves the band's tails monotonically), so each side is a
    bisection. ``inf`` where one side never reaches ``power``: so few weights that even an
    all-zero or an unbounded variance passes the band that often.

    Examples:
        >>> round(detectable_error(864, "normal"), 3)  # a 3 -> 32 channel 3x3 convolution
        0.434
    """
    n, alpha = check_int("n", n, minimum=1), check_probability("alpha", alpha)
    power = check_probability("power", power)

    def detects(ratio: float) -> bool:
        return variance_power(n, ratio, distribution, alpha) >= power

    # Too large a variance: double until seen (up to a ratio of 1e12, the last one tried, as 1e-12
    # is below), then bisect on (1, r].
    high = 2.0
    while not detects(high):
        if high == 1e12:
            return math.inf
        high = min(2 * high, 1e12)
    low = 1.0
    while high - low > 1e-9 * high:
        middle = (low + high) / 2
        low, high = (low, middle) if detects(middle) else (middle, high)
    up = high - 1
    # Too small a variance: the ratio r in (0, 1).
    if not detects(1e-12):
        return math.inf
    low, high = 1e-12, 1.0
    while high - low > 1e-12:
        middle = (low + high) / 2
        low, high = (middle, high) if detects(middle) else (low, middle)
    down = 1 - low
    return max(up, down)
