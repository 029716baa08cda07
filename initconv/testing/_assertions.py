"""Assertions on bare weights: variance, mean, shape, channel independence, orthogonality."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import stats
from torch import Tensor

from initconv._maths.orthogonality import assert_orthogonal_blocks
from initconv._maths.orthogonality import orthogonality_atol as _atol
from initconv._maths.sampling import DISTRIBUTIONS, TRUNCATED_NORMAL_STD, Distribution
from initconv._validate import check_choice, check_int, check_nonnegative, check_probability
from initconv.testing._laws import (
    ALPHA_CHECK,
    ShiftedGamma,
    standard_moments,
    variance_band,
)

__all__ = [
    "assert_channels_uncorrelated",
    "assert_distribution",
    "assert_mean_zero",
    "assert_orthogonal",
    "assert_variance_matches",
    "orthogonality_atol",
]

Array = NDArray[np.float64]


def values(weights: Tensor | NDArray[Any] | Sequence[float], parameter: str = "weights") -> Array:
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


def assert_constant(x: Array, mean: float, what: str) -> None:
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
    x = values(weights)
    v = check_nonnegative("expected_variance", expected_variance)
    alpha = check_probability("alpha", alpha)
    if v == 0:
        assert_constant(x, mean, "assert_variance_matches")
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


def mean_threshold(n: int, distribution: Distribution, alpha: float) -> float:
    """t such that P(|mean of n standardised iid values| > t) <= alpha."""
    if distribution == "normal":
        return float(stats.norm.isf(alpha / 2)) / math.sqrt(n)
    # Uniform and the symmetric truncated normal are strictly sub-Gaussian (their even moments are
    # at most (2k - 1)!! times the variance's k-th power, tests/testing/test_testing_kit.py checks this), so
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
    x = values(weights)
    v = check_nonnegative("variance", variance)
    alpha = check_probability("alpha", alpha)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if v == 0:
        assert_constant(x, 0.0, "assert_mean_zero")
        return
    n = x.size
    observed = float(np.mean(x))
    bound = mean_threshold(n, distribution, alpha) * math.sqrt(v)
    if not abs(observed) <= bound:
        raise AssertionError(
            f"mean is not zero: |mean| = {abs(observed):.4g} > {bound:.4g} "
            f"= {bound / math.sqrt(v / n):.3f} standard errors, for n = {n} {distribution} "
            f"weights of variance {v:.6g} at alpha = {alpha:.3g}"
        )


def frozen_law(distribution: Distribution, variance: float, mean: float) -> Any:
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
    x = values(weights)
    v = check_nonnegative("variance", variance)
    alpha = check_probability("alpha", alpha)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if v == 0:
        assert_constant(x, mean, "assert_distribution")
        return
    result = stats.kstest(x, frozen_law(distribution, v, mean).cdf)
    if not result.pvalue > alpha:
        raise AssertionError(
            f"weights do not follow {distribution}(mean={mean:.6g}, variance={v:.6g}): "
            f"Kolmogorov-Smirnov D = {result.statistic:.4g}, p = {result.pvalue:.3g} <= "
            f"alpha = {alpha:.3g}, n = {x.size}"
        )


def channel_sum_cumulants(out: int, mu4: float, mu6: float) -> tuple[float, float, float]:
    """Cumulants K1, K2, K3 of Y^2, Y the sum of ``out`` iid standardised symmetric values / sqrt(out)."""
    # Cumulants of a sum add, so Y's 4th and 6th cumulants are X's divided by out and out^2.
    k4 = (mu4 - 3) / out
    k6 = (mu6 - 15 * mu4 + 30) / out**2
    y4 = k4 + 3
    y6 = k6 + 15 * k4 + 15
    return 1.0, y4 - 1, y6 - 3 * y4 + 2


def channel_sums(weight: Tensor, mean: float, variance: float) -> Array:
    """Per input position, the standardised weights summed over output channels, / sqrt(out)."""
    x = (values(weight).reshape(weight.shape[0], -1) - mean) / math.sqrt(variance)
    sums: Array = x.sum(axis=0) / math.sqrt(weight.shape[0])
    return sums


def assert_channel_law(
    square_sum: float, k1: float, k2: float, k3: float, count: int, alpha: float
) -> None:
    lo, hi = ShiftedGamma.fit(k1, k2, k3).interval(alpha)
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
    v = check_nonnegative("variance", variance)
    alpha = check_probability("alpha", alpha)
    if not isinstance(weight, Tensor) or weight.dim() < 2:
        raise ValueError(f"weight must be a Tensor of at least 2 dimensions, got {weight!r}")
    if v == 0:
        assert_constant(values(weight), mean, "assert_channels_uncorrelated")
        return
    y = channel_sums(weight, mean, v)
    k1, k2, k3 = channel_sum_cumulants(weight.shape[0], *standard_moments(distribution))
    assert_channel_law(float(np.sum(y**2)), k1 * y.size, k2 * y.size, k3 * y.size, y.size, alpha)


def orthogonality_atol(dtype: torch.dtype, gain: float) -> float:
    r"""The tolerance :func:`assert_orthogonal` allows on each entry of the Gram matrix of a
    single-entry block: :math:`g^2 \max(10^{-5}, 2\epsilon) + 2 g s + s^2`, with :math:`s` the
    dtype's smallest normal times :math:`\epsilon`. A block of :math:`r \times c` entries is
    allowed :math:`s \sqrt{\max(r, c)}` in place of :math:`s` (its entries' subnormal roundings
    add up): a few spacings more, which matter only for gains near the subnormal range."""
    return _atol(dtype, gain)


def assert_orthogonal(weight: Tensor, gain: float, *, groups: int = 1) -> None:
    r"""Assert that each group's flattened ``weight`` is orthogonal up to ``gain``.

    Each group's :math:`r \times c` block along dim 0 must satisfy :math:`W W^\top = g^2 I`
    (:math:`r \le c`) or :math:`W^\top W = g^2 I` (:math:`r > c`), Saxe, A. et al. (2013), "Exact
    solutions to the nonlinear dynamics of learning in deep linear neural networks"; the tolerance
    is :math:`g^2 \max(10^{-5}, 2\epsilon)` per entry for the weight's dtype :math:`\epsilon`
    (plus the subnormal spacing where entries are that small), the same as the structured schemes'
    own :meth:`~initconv.Scheme.check_invariants`.

    Examples:
        >>> w = torch.nn.init.orthogonal_(torch.empty(32, 16, 3, 3), gain=2.0)
        >>> assert_orthogonal(w, 2.0)
    """
    if not isinstance(weight, Tensor) or weight.dim() < 2:
        raise ValueError(f"weight must be a Tensor of at least 2 dimensions, got {weight!r}")
    groups = check_int("groups", groups, minimum=1)
    if weight.shape[0] % groups:
        raise ValueError(f"groups must divide weight.shape[0] = {weight.shape[0]}, got {groups!r}")
    gain = check_nonnegative("gain", gain)
    blocks = weight.detach().reshape(groups, weight.shape[0] // groups, -1)
    assert_orthogonal_blocks(blocks, gain, "the weight")
