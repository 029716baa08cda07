r"""Statistical checks that hold an initialisation scheme to its own theory.

Every check computes its acceptance band from the sampling distribution of its statistic at a stated
false-alarm rate ``alpha``; none has a hand-picked tolerance. For iid weights :math:`w_1, \dots, w_n`
with claimed mean :math:`m` and variance :math:`v`, the variance statistic is the mean-known ratio

.. math::
    R = \frac{1}{n v} \sum_i (w_i - m)^2, \qquad \operatorname{E} R = 1,

whose law is exactly :math:`\chi^2_n / n` for normal weights. For uniform and truncated normal
weights the sum is fitted by a shifted gamma with the same first three cumulants (Pearson, 1959,
"Note on an approximation to the distribution of non-central chi-squared"), which exact FFT
convolution shows to be conservative for :math:`n \ge 1000` (``shared/STATS.md``). Scaling the weights'
spread by :math:`\sqrt r` scales :math:`R` by exactly :math:`r`, so the power to see a variance off by
a factor :math:`r` is known in closed form (:func:`variance_power`), and :func:`check_scheme` draws
until it is at least ``1 - alpha`` for a 5% error.

Needs numpy and scipy (the ``test`` extra); :mod:`initconv` itself does not. The Hypothesis
strategies live in :mod:`initconv.testing.strategies` and are re-exported here lazily, so this
module imports without Hypothesis.

Examples:
    >>> import initconv
    >>> from initconv.testing import assert_variance_matches, check_scheme
    >>> conv = initconv.KaimingNormalConv2d(64, 64, 3, seed=0)
    >>> assert_variance_matches(conv.weight, conv.expected_variance(), "normal")
    >>> report = check_scheme(initconv.KaimingUniformConv2d, activation="gelu")
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import stats
from torch import Tensor

from initconv._base import InitConv2d
from initconv._functional import DISTRIBUTIONS, TRUNCATED_NORMAL_STD, Distribution, check_choice

if TYPE_CHECKING:
    from initconv.testing.strategies import activations, conv2d_configs, scheme_options

__all__ = [
    "ALPHA_CHECK",
    "DEFAULT_SHAPES",
    "DETECTABLE",
    "SchemeReport",
    "activations",
    "assert_channels_uncorrelated",
    "assert_distribution",
    "assert_mean_zero",
    "assert_orthogonal",
    "assert_variance_matches",
    "check_layer",
    "check_scheme",
    "conv2d_configs",
    "cumulant_band",
    "iid_view",
    "min_sample_size",
    "orthogonality_atol",
    "scheme_options",
    "second_moment_atol",
    "standard_moments",
    "variance_band",
    "variance_power",
]

#: The default false-alarm rate of every check. initconv's own suite runs about 2 x 10^4
#: statistical checks per run (tests/conftest.py counts them), so by the union bound its
#: false-alarm probability per run stays below 1e-4; a band's width grows only like
#: sqrt(log(1 / alpha)), so a small alpha costs little power.
ALPHA_CHECK = 1e-9

#: The relative variance error :func:`check_scheme` is sure to see: 5%, issue 3.
DETECTABLE = 0.05

#: The layers :func:`check_scheme` builds, as constructor keywords: plain, wide, narrow, strided,
#: rectangular and even kernels, grouped and depthwise. A scheme is checked on those it serves.
DEFAULT_SHAPES: tuple[Mapping[str, Any], ...] = (
    {"in_channels": 16, "out_channels": 32, "kernel_size": 3},
    {"in_channels": 32, "out_channels": 16, "kernel_size": (1, 5), "stride": 2},
    {"in_channels": 24, "out_channels": 48, "kernel_size": 2, "groups": 3},
    {"in_channels": 32, "out_channels": 32, "kernel_size": 3, "groups": 32},
    {"in_channels": 8, "out_channels": 64, "kernel_size": (3, 2), "groups": 2},
    {"in_channels": 12, "out_channels": 36, "kernel_size": 1},
)

_Array = NDArray[np.float64]


def __getattr__(name: str) -> Any:
    # The strategies need Hypothesis, which only the tests have; import them on first use.
    if name in ("activations", "conv2d_configs", "scheme_options"):
        from initconv.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- The laws of the statistics ------------------------------------------------------------------


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
class _ShiftedGamma:
    """loc + scale * Gamma(shape): the law of a sum matched to its first three cumulants."""

    loc: float
    scale: float
    shape: float

    @classmethod
    def fit(cls, k1: float, k2: float, k3: float) -> _ShiftedGamma:
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
    alpha = _check_alpha(alpha)
    if not (k2 > 0 and k3 > 0):
        raise ValueError(f"cumulants k2 and k3 must be > 0, got k2={k2!r}, k3={k3!r}")
    return _ShiftedGamma.fit(k1, k2, k3).interval(alpha)


def _sum_of_squares_law(n: int, mu4: float, mu6: float) -> _ShiftedGamma:
    # T = sum X_i^2 of n iid standardised symmetric X: cumulants n, n (mu4 - 1), n (mu6 - 3 mu4 + 2).
    return _ShiftedGamma.fit(n, n * (mu4 - 1), n * (mu6 - 3 * mu4 + 2))


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha must be a float, got {type(alpha).__name__} {alpha!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return n


def variance_band(
    n: int, distribution: Distribution, alpha: float = ALPHA_CHECK
) -> tuple[float, float]:
    r"""The acceptance band for :math:`R = \overline{(w - m)^2} / v` from ``n`` iid weights.

    The sum :math:`T = nR` of standardised squares has cumulants :math:`K_1 = n`,
    :math:`K_2 = n(\mu_4 - 1)`, :math:`K_3 = n(\mu_6 - 3\mu_4 + 2)`; a shifted gamma with those
    cumulants (exactly :math:`\chi^2_n` for normal weights) gives

    .. math::
        \left[\frac{F^{-1}(\alpha/2)}{n}, \frac{F^{-1}(1 - \alpha/2)}{n}\right].

    Examples:
        >>> [round(x, 4) for x in variance_band(10_000, "normal", alpha=1e-6)]
        [0.9323, 1.0707]
    """
    n, alpha = _check_n(n), _check_alpha(alpha)
    lo, hi = _sum_of_squares_law(n, *standard_moments(distribution)).interval(alpha)
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
    n, alpha = _check_n(n), _check_alpha(alpha)
    if not (isinstance(ratio, (int, float)) and ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a finite float > 0, got {ratio!r}")
    law = _sum_of_squares_law(n, *standard_moments(distribution))
    lo, hi = law.interval(alpha)
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
    (``shared/STATS.md``); this searches the exact power (:func:`variance_power`).

    Examples:
        >>> min_sample_size("normal", 0.05, alpha=1e-6, power=0.999)
        53334
    """
    alpha = _check_alpha(alpha)
    target = 1 - alpha if power is None else _check_alpha(power)
    if not (isinstance(detectable, (int, float)) and 0 < detectable < 1):
        raise ValueError(f"detectable must be a float in (0, 1), got {detectable!r}")
    factors = (1 + detectable, 1 - detectable) if ratios is None else tuple(ratios)
    if not factors or any(not (r > 0 and r != 1 and math.isfinite(r)) for r in factors):
        raise ValueError(f"ratios must be finite floats > 0 other than 1, got {ratios!r}")

    def enough(n: int) -> bool:
        return all(variance_power(n, r, distribution, alpha) >= target for r in factors)

    hi = 64
    while not enough(hi):
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


# --- The assertions ------------------------------------------------------------------------------


def _values(weights: Tensor | NDArray[Any] | Sequence[float], parameter: str = "weights") -> _Array:
    if isinstance(weights, Tensor):
        array = weights.detach().to("cpu", torch.float64).numpy().ravel()
    else:
        try:
            array = np.asarray(weights, dtype=np.float64).ravel()
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{parameter} must be a Tensor or an array of floats, got {type(weights).__name__}"
            ) from error
    if array.size == 0:
        raise ValueError(f"{parameter} must not be empty, got shape {tuple(np.shape(weights))}")
    if not np.isfinite(array).all():
        raise ValueError(
            f"{parameter} must be finite, got {int((~np.isfinite(array)).sum())} NaN/inf"
        )
    return array


def _check_variance(variance: object, parameter: str = "expected_variance") -> float:
    if isinstance(variance, bool) or not isinstance(variance, (int, float)):
        raise TypeError(f"{parameter} must be a float, got {type(variance).__name__} {variance!r}")
    if not (math.isfinite(variance) and variance >= 0):
        raise ValueError(f"{parameter} must be finite and >= 0, got {variance!r}")
    return float(variance)


def _constant(x: _Array, mean: float, what: str) -> None:
    """For a claimed variance of 0: every value must equal ``mean`` exactly."""
    off = int((x != mean).sum())
    if off:
        raise AssertionError(
            f"{what}: variance 0 claimed, but {off} of {x.size} values differ from {mean!r}"
        )


def assert_variance_matches(
    weights: Tensor | NDArray[Any] | Sequence[float],
    expected_variance: float,
    distribution: Distribution,
    *,
    mean: float = 0.0,
    alpha: float = ALPHA_CHECK,
) -> None:
    r"""Assert that iid ``weights`` have variance ``expected_variance``.

    Rejects when :math:`R = \overline{(w - m)^2} / v` (``m`` the claimed ``mean``) falls outside
    :func:`variance_band`, which a correct scheme does with probability ``alpha``. The message gives
    the observed ratio, the band, ``n`` and ``alpha``.

    Examples:
        >>> w = torch.empty(64, 64, 3, 3).normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
        >>> assert_variance_matches(w, 0.01, "normal")
    """
    x = _values(weights)
    v = _check_variance(expected_variance)
    alpha = _check_alpha(alpha)
    if v == 0:
        _constant(x, mean, "assert_variance_matches")
        return
    n = x.size
    ratio = float(np.mean((x - mean) ** 2)) / v
    lo, hi = variance_band(n, distribution, alpha)
    if not lo <= ratio <= hi:
        raise AssertionError(
            f"variance does not match: observed / expected = {ratio:.5f} (expected {v:.6g}), "
            f"outside the band [{lo:.5f}, {hi:.5f}] for n = {n} {distribution} weights at "
            f"alpha = {alpha:.3g}"
        )


def _mean_threshold(n: int, distribution: Distribution, alpha: float) -> float:
    """t such that P(|mean of n standardised iid values| > t) <= alpha."""
    if distribution == "normal":
        return float(stats.norm.isf(alpha / 2)) / math.sqrt(n)
    # Uniform and the symmetric truncated normal are strictly sub-Gaussian (their even moments are
    # at most (2k - 1)!! times the variance's k-th power, tests/test_testing_kit.py checks this), so
    # Chernoff gives P(|mean| > t) <= 2 exp(-n t^2 / 2) for every n.
    return math.sqrt(2 * math.log(2 / alpha) / n)


def assert_mean_zero(
    weights: Tensor | NDArray[Any] | Sequence[float],
    variance: float,
    distribution: Distribution = "normal",
    *,
    alpha: float = ALPHA_CHECK,
) -> None:
    r"""Assert that iid ``weights`` of variance ``variance`` have mean zero.

    Rejects when :math:`|\bar w| > t \sqrt{v / n}`, with :math:`t = z_{1-\alpha/2}` for normal
    weights (exact) and :math:`t = \sqrt{2 \ln(2/\alpha)}` for uniform and truncated normal ones
    (Chernoff's bound; both are strictly sub-Gaussian). For a scheme with mean :math:`m`, pass
    ``weights - m``.

    Examples:
        >>> w = torch.empty(10_000).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
        >>> assert_mean_zero(w, 1 / 3, "uniform")
    """
    x = _values(weights)
    v = _check_variance(variance, "variance")
    alpha = _check_alpha(alpha)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if v == 0:
        _constant(x, 0.0, "assert_mean_zero")
        return
    n = x.size
    observed = float(np.mean(x))
    bound = _mean_threshold(n, distribution, alpha) * math.sqrt(v)
    if not abs(observed) <= bound:
        raise AssertionError(
            f"mean is not zero: |mean| = {abs(observed):.4g} > {bound:.4g} "
            f"= {bound / math.sqrt(v / n):.3f} standard errors, for n = {n} {distribution} "
            f"weights of variance {v:.6g} at alpha = {alpha:.3g}"
        )


def _frozen(distribution: Distribution, variance: float, mean: float) -> Any:
    std = math.sqrt(variance)
    if distribution == "normal":
        return stats.norm(loc=mean, scale=std)
    if distribution == "uniform":
        bound = math.sqrt(3) * std
        return stats.uniform(loc=mean - bound, scale=2 * bound)
    return stats.truncnorm(-2.0, 2.0, loc=mean, scale=std / TRUNCATED_NORMAL_STD)


def assert_distribution(
    weights: Tensor | NDArray[Any] | Sequence[float],
    distribution: Distribution,
    variance: float,
    *,
    mean: float = 0.0,
    alpha: float = ALPHA_CHECK,
) -> None:
    r"""Assert that iid ``weights`` follow ``distribution`` with the given ``mean`` and ``variance``.

    A fully specified one-sample Kolmogorov-Smirnov test (``scipy.stats.kstest``) against
    :math:`\mathcal{N}(m, v)`, :math:`\mathcal{U}(m - \sqrt{3v}, m + \sqrt{3v})`, or the normal cut
    at two of its standard deviations and scaled to variance :math:`v`; rejects when
    :math:`p \le \alpha`. It checks the shape: a 5% error in the scale needs ~2e5 values to show
    here, so pair it with :func:`assert_variance_matches`.

    Examples:
        >>> w = torch.empty(4096).uniform_(-3, 3, generator=torch.Generator().manual_seed(0))
        >>> assert_distribution(w, "uniform", 3.0)
    """
    x = _values(weights)
    v = _check_variance(variance, "variance")
    alpha = _check_alpha(alpha)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if v == 0:
        _constant(x, mean, "assert_distribution")
        return
    result = stats.kstest(x, _frozen(distribution, v, mean).cdf)
    if not result.pvalue > alpha:
        raise AssertionError(
            f"weights do not follow {distribution}(mean={mean:.6g}, variance={v:.6g}): "
            f"Kolmogorov-Smirnov D = {result.statistic:.4g}, p = {result.pvalue:.3g} <= "
            f"alpha = {alpha:.3g}, n = {x.size}"
        )


def _channel_sum_cumulants(out: int, mu4: float, mu6: float) -> tuple[float, float, float]:
    """Cumulants K1, K2, K3 of Y^2, Y the sum of ``out`` iid standardised symmetric values / sqrt(out)."""
    # Cumulants of a sum add, so Y's 4th and 6th cumulants are X's divided by out and out^2.
    k4 = (mu4 - 3) / out
    k6 = (mu6 - 15 * mu4 + 30) / out**2
    y4 = k4 + 3
    y6 = k6 + 15 * k4 + 15
    return 1.0, y4 - 1, y6 - 3 * y4 + 2


def _channel_sums(weight: Tensor, mean: float, variance: float) -> _Array:
    """Per input position, the standardised weights summed over output channels, / sqrt(out)."""
    x = (_values(weight).reshape(weight.shape[0], -1) - mean) / math.sqrt(variance)
    sums: _Array = x.sum(axis=0) / math.sqrt(weight.shape[0])
    return sums


def _assert_channel_law(
    square_sum: float, k1: float, k2: float, k3: float, count: int, alpha: float
) -> None:
    lo, hi = _ShiftedGamma.fit(k1, k2, k3).interval(alpha)
    if not lo <= square_sum <= hi:
        raise AssertionError(
            "output channels are correlated: summed over output channels, the weights' variance is "
            f"{square_sum / k1:.5f} times that of independent channels, outside the band "
            f"[{lo / k1:.5f}, {hi / k1:.5f}] for {count} input positions at alpha = {alpha:.3g}"
        )


def assert_channels_uncorrelated(
    weight: Tensor,
    variance: float,
    distribution: Distribution,
    *,
    mean: float = 0.0,
    alpha: float = ALPHA_CHECK,
) -> None:
    r"""Assert that the output channels (dim 0) of an iid ``weight`` are uncorrelated.

    For each input position :math:`k` (input channel and tap) let
    :math:`y_k = \sum_c (w_{ck} - m) / \sqrt{C v}` over the :math:`C` output channels. Independent
    channels give :math:`\operatorname{E} y_k^2 = 1`; an average pairwise correlation
    :math:`\bar\rho` gives :math:`1 + (C - 1)\bar\rho`. The band for :math:`\overline{y^2}` is
    :func:`variance_band`'s construction with :math:`y`'s moments, which follow from the weights'
    cumulants (a sum's cumulants add).

    Examples:
        >>> import initconv
        >>> conv = initconv.XavierUniformConv2d(16, 32, 3, seed=0)
        >>> assert_channels_uncorrelated(conv.weight, conv.expected_variance(), "uniform")
    """
    v = _check_variance(variance, "variance")
    alpha = _check_alpha(alpha)
    if not isinstance(weight, Tensor) or weight.dim() < 2:
        raise ValueError(f"weight must be a Tensor of at least 2 dimensions, got {weight!r}")
    if v == 0:
        _constant(_values(weight), mean, "assert_channels_uncorrelated")
        return
    y = _channel_sums(weight, mean, v)
    k1, k2, k3 = _channel_sum_cumulants(weight.shape[0], *standard_moments(distribution))
    _assert_channel_law(float(np.sum(y**2)), k1 * y.size, k2 * y.size, k3 * y.size, y.size, alpha)


def orthogonality_atol(dtype: torch.dtype, gain: float) -> float:
    """The tolerance :func:`assert_orthogonal` allows on each entry of the Gram matrix."""
    # STATS.md: float32 QR errors are <= 1.6e-7, so 1e-5 g^2; a weight stored in a narrower dtype is
    # rounded by eps / 2 per entry, which moves a Gram entry by at most (eps + eps^2 / 4) g^2 by
    # Cauchy-Schwarz.
    eps = torch.finfo(dtype).eps
    return gain**2 * max(1e-5, 2 * eps)


def assert_orthogonal(weight: Tensor, gain: float, *, groups: int = 1) -> None:
    r"""Assert that each group's flattened ``weight`` is orthogonal up to ``gain``.

    Each group's :math:`r \times c` block must satisfy :math:`W W^\top = g^2 I` (:math:`r \le c`) or
    :math:`W^\top W = g^2 I` (:math:`r > c`), Saxe, A. et al. (2013), "Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks"; the tolerance is
    :math:`g^2 \max(10^{-5}, 2\epsilon)` per entry, for the weight's dtype :math:`\epsilon`.

    Examples:
        >>> w = torch.nn.init.orthogonal_(torch.empty(32, 16, 3, 3), gain=2.0)
        >>> assert_orthogonal(w, 2.0)
    """
    if not isinstance(weight, Tensor) or weight.dim() < 2:
        raise ValueError(f"weight must be a Tensor of at least 2 dimensions, got {weight!r}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if weight.shape[0] % groups:
        raise ValueError(f"groups must divide weight.shape[0] = {weight.shape[0]}, got {groups!r}")
    gain = _check_variance(gain, "gain")
    blocks = weight.detach().to("cpu", torch.float64).reshape(groups, weight.shape[0] // groups, -1)
    atol = orthogonality_atol(weight.dtype, gain)
    for index, block in enumerate(blocks):
        gram = block @ block.t() if block.shape[0] <= block.shape[1] else block.t() @ block
        error = float((gram - gain**2 * torch.eye(gram.shape[0], dtype=torch.float64)).abs().max())
        if not error <= atol:
            product = "W W^T" if block.shape[0] <= block.shape[1] else "W^T W"
            raise AssertionError(
                f"group {index} ({block.shape[0]} x {block.shape[1]}) is not orthogonal up to the "
                f"gain {gain:.6g}: max |{product} - g^2 I| = {error:.3g} > {atol:.3g}"
            )


# --- Whole schemes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeReport:
    """What :func:`check_scheme` checked.

    Attributes:
        scheme: the class checked.
        layers: how many layers were built and checked.
        n: weights pooled for the statistical checks (0 for a structured scheme).
        checks: the names of the checks that ran and passed.
    """

    scheme: type[InitConv2d]
    layers: int
    n: int
    checks: tuple[str, ...]


def iid_view(layer: InitConv2d) -> tuple[Tensor, Distribution] | None:
    """The layer's independent weights and their family, or ``None`` for a structured scheme.

    :meth:`~initconv.InitConv2d.independent_weights` with
    :meth:`~initconv.InitConv2d.expected_distribution`: the whole weight for an iid scheme, the
    sub-kernel for :class:`~initconv.ICNRConv2d` over an iid base.
    """
    distribution = layer.expected_distribution()
    if distribution is None:
        return None
    return layer.independent_weights(), distribution


def second_moment_atol(dtype: torch.dtype, second_moment: float) -> float:
    r"""Float tolerance on the exact :math:`\overline{(w - m)^2}` of a structured scheme."""
    # Each entry is the exact value rounded to dtype (relative eps / 2, so eps on its square) after a
    # float32/float64 computation good to the 1e-5 that STATS.md allows QR; below the normal range
    # an entry is off by up to the subnormal spacing s, moving the mean square by 2 sqrt(.) s + s^2.
    info = torch.finfo(dtype)
    spacing = info.smallest_normal * info.eps
    return (
        max(1e-5, 2 * info.eps) * second_moment
        + 2 * math.sqrt(second_moment) * spacing
        + spacing**2
    )


def _second_moment(layer: InitConv2d) -> float:
    return float(np.mean((_values(layer.independent_weights()) - layer.expected_mean()) ** 2))


def check_layer(layer: InitConv2d, *, alpha: float = ALPHA_CHECK) -> tuple[str, ...]:
    r"""Check one built layer against its scheme's theory; raise ``AssertionError`` if it fails.

    Runs :meth:`~initconv.InitConv2d.check_invariants`, then, on the :func:`iid_view` when there is
    one, :func:`assert_variance_matches`, :func:`assert_mean_zero`, :func:`assert_distribution` and
    :func:`assert_channels_uncorrelated` about :meth:`~initconv.InitConv2d.expected_mean`, each at
    ``alpha``. A structured scheme's :math:`\overline{(w - m)^2}` over its
    :meth:`~initconv.InitConv2d.independent_weights` must equal
    :meth:`~initconv.InitConv2d.expected_variance` to :func:`second_moment_atol`.

    Returns:
        The names of the checks that ran.

    Examples:
        >>> import initconv
        >>> check_layer(initconv.OrthogonalConv2d(16, 32, 3, seed=0))
        ('invariants', 'exact second moment')
    """
    alpha = _check_alpha(alpha)
    layer.check_invariants()
    mean, variance = layer.expected_mean(), layer.expected_variance()
    view = iid_view(layer)
    if view is None:
        measured = _second_moment(layer)
        atol = second_moment_atol(layer.weight.dtype, variance + mean**2)
        if not abs(measured - variance) <= atol:
            raise AssertionError(
                f"{type(layer).__name__}: mean((w - expected_mean)^2) = {measured:.8g}, "
                f"expected_variance() = {variance:.8g}; they must agree to {atol:.3g} "
                "(float rounding)"
            )
        return ("invariants", "exact second moment")
    weight, distribution = view
    centred = weight.detach().to(torch.float64) - mean
    assert_variance_matches(centred, variance, distribution, alpha=alpha)
    assert_mean_zero(centred, variance, distribution, alpha=alpha)
    assert_distribution(centred, distribution, variance, alpha=alpha)
    assert_channels_uncorrelated(centred, variance, distribution, alpha=alpha)
    return ("invariants", "variance", "mean", "distribution (KS)", "uncorrelated output channels")


def _check_reset_keeps_the_parameter(layer: InitConv2d) -> None:
    weight = layer.weight
    before = (weight.dtype, weight.device, weight.shape, weight.requires_grad, weight.data_ptr())
    drawn = weight.detach().clone()
    layer.reset_parameters()
    after = (weight.dtype, weight.device, weight.shape, weight.requires_grad, weight.data_ptr())
    if layer.weight is not weight or after != before:
        raise AssertionError(
            f"reset_parameters() changed the weight's (dtype, device, shape, requires_grad, "
            f"storage) from {before[:4]} to {after[:4]}"
        )
    if layer.seed is not None and not torch.equal(weight.detach(), drawn):
        raise AssertionError(
            f"reset_parameters() with seed={layer.seed} did not reproduce the same weights"
        )


def _shapes(
    layer_cls: type[InitConv2d], shapes: Sequence[Mapping[str, Any]], options: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    served = [shape for shape in shapes if layer_cls.serves(**shape, **options)]
    if not served:
        # Build the first one for real: the scheme's own error says what it needs.
        layer_cls(**shapes[0], **options)
        raise ValueError(f"{layer_cls.__name__} serves none of the shapes {list(shapes)!r}")
    return served


def check_scheme(
    layer_cls: type[InitConv2d],
    *,
    alpha: float = ALPHA_CHECK,
    detectable: float = DETECTABLE,
    seed: int = 0,
    shapes: Sequence[Mapping[str, Any]] = DEFAULT_SHAPES,
    dtype: torch.dtype = torch.float32,
    **options: Any,
) -> SchemeReport:
    r"""Hold ``layer_cls`` to its own theory over many shapes; raise ``AssertionError`` if it fails.

    Builds ``layer_cls(**shape, seed=..., dtype=dtype, **options)`` for every shape in ``shapes``
    that the scheme serves (:meth:`~initconv.InitConv2d.serves`), round after round with fresh
    seeds derived from ``seed``. Every layer must keep its exact invariants
    (:meth:`~initconv.InitConv2d.check_invariants`), and ``reset_parameters()`` must keep the
    parameter (dtype, device, shape, ``requires_grad``) and, seeded, its values. Then:

    - **iid weights** (:func:`iid_view`): standardised by each layer's
      :meth:`~initconv.InitConv2d.expected_mean` and :meth:`~initconv.InitConv2d.expected_variance`,
      they are pooled until there are :func:`min_sample_size` of them: enough to reject a variance
      off by a factor :math:`1 \pm` ``detectable`` with probability at least ``1 - alpha``. On the
      pool: :func:`assert_variance_matches`, :func:`assert_mean_zero`, :func:`assert_distribution`
      and :func:`assert_channels_uncorrelated`; and two seeds must give different weights.
    - **structured schemes**: :math:`\overline{(w - m)^2}` must equal ``expected_variance()`` to
      float rounding on every layer (:func:`check_layer`).

    Every check runs at false-alarm rate ``alpha``.

    Args:
        layer_cls: the scheme's class; it need not be registered.
        alpha: the false-alarm rate of each check.
        detectable: the relative variance error the pooled sample must be able to see.
        seed: the root of every layer's seed.
        shapes: constructor keywords of the layers to build.
        dtype: the layers' dtype.
        **options: the scheme's keyword options (``activation``, ``mode``, ...).

    Returns:
        A :class:`SchemeReport` of what was checked.

    Examples:
        >>> import initconv
        >>> report = check_scheme(initconv.KaimingNormalConv2d, activation="gelu", mode="fan_out")
        >>> report.n >= min_sample_size("normal")
        True
    """
    alpha = _check_alpha(alpha)
    if not (isinstance(layer_cls, type) and issubclass(layer_cls, InitConv2d)):
        raise TypeError(f"layer_cls must be an InitConv2d subclass, got {layer_cls!r}")
    served = _shapes(layer_cls, shapes, {"dtype": dtype, **options})
    # Disjoint seed streams for different roots; every layer gets its own seed.
    seeds = itertools.count(seed << 24)

    def build(shape: Mapping[str, Any]) -> InitConv2d:
        layer = layer_cls(**shape, dtype=dtype, seed=next(seeds), **options)
        layer.check_invariants()
        return layer

    first = [build(shape) for shape in served]
    for layer in first:
        _check_reset_keeps_the_parameter(layer)
    checks = ["invariants", "reset keeps dtype, device, shape, requires_grad and seeded values"]
    views = [iid_view(layer) for layer in first]
    if all(view is None for view in views):
        ran = {check_layer(layer, alpha=alpha)[1] for layer in first}
        return SchemeReport(layer_cls, len(first), 0, (*checks, *sorted(ran)))
    families = {None if view is None else view[1] for view in views}
    if len(families) > 1:
        raise AssertionError(
            f"{layer_cls.__name__}: the weights' family changes with the shape: {families!r}"
        )
    distribution = views[0][1] if views[0] is not None else "normal"
    return _check_iid(first, build, served, distribution, alpha, detectable, checks)


def _check_iid(
    first: list[InitConv2d],
    build: Callable[[Mapping[str, Any]], InitConv2d],
    shapes: Sequence[Mapping[str, Any]],
    distribution: Distribution,
    alpha: float,
    detectable: float,
    checks: list[str],
) -> SchemeReport:
    needed = min_sample_size(distribution, detectable, alpha)
    mu4, mu6 = standard_moments(distribution)
    pooled: list[_Array] = []
    channel_sum, channel_k = 0.0, np.zeros(3)
    channel_count, n, layers, built = 0, 0, list(first), len(first)
    while True:
        for layer in layers:
            view = iid_view(layer)
            if view is None or view[1] != distribution:
                raise AssertionError(
                    f"{type(layer).__name__}: the weights' family changed with the shape, from "
                    f"{distribution!r} to {None if view is None else view[1]!r}"
                )
            mean, variance = layer.expected_mean(), layer.expected_variance()
            if variance == 0:
                _constant(_values(view[0]), mean, type(layer).__name__)
                continue
            pooled.append((_values(view[0]) - mean) / math.sqrt(variance))
            y = _channel_sums(view[0], mean, variance)
            channel_sum += float(np.sum(y**2))
            channel_k += np.array(_channel_sum_cumulants(view[0].shape[0], mu4, mu6)) * y.size
            channel_count += y.size
            n += pooled[-1].size
        if n >= needed or not pooled:
            break
        layers = [build(shape) for shape in shapes]
        built += len(layers)
    if not pooled:
        return SchemeReport(type(first[0]), built, 0, (*checks, "zero variance: constant"))
    x = np.concatenate(pooled)
    assert_variance_matches(x, 1.0, distribution, alpha=alpha)
    assert_mean_zero(x, 1.0, distribution, alpha=alpha)
    assert_distribution(x, distribution, 1.0, alpha=alpha)
    k1, k2, k3 = (float(k) for k in channel_k)
    _assert_channel_law(channel_sum, k1, k2, k3, channel_count, alpha)
    _check_seeds_differ(first[0], build, shapes[0])
    checks += ["variance", "mean", "distribution (KS)", "uncorrelated output channels", "seeds"]
    return SchemeReport(type(first[0]), built, x.size, tuple(checks))


def _check_seeds_differ(
    layer: InitConv2d,
    build: Callable[[Mapping[str, Any]], InitConv2d],
    shape: Mapping[str, Any],
) -> None:
    other = build(shape)
    if layer.expected_variance() > 0 and torch.equal(layer.weight, other.weight):
        raise AssertionError(
            f"{type(layer).__name__}: seeds {layer.seed} and {other.seed} gave the same weights"
        )
