r"""Statistical checks that hold an initialisation scheme to its own theory.

Every check computes its acceptance band from the sampling distribution of its statistic at a stated
false-alarm rate ``alpha``; none has a hand-picked tolerance. For iid weights :math:`w_1, \dots, w_n`
with claimed mean :math:`m` and variance :math:`v`, the variance statistic is the mean-known ratio

.. math::
    R = \frac{1}{n v} \sum_i (w_i - m)^2, \qquad \operatorname{E} R = 1,

whose law is exactly :math:`\chi^2_n / n` for normal weights. For uniform and truncated normal
weights the sum is fitted by a shifted gamma with the same first three cumulants (Pearson, 1959,
"Note on an approximation to the distribution of non-central chi-squared"), which exact FFT
convolution shows to be conservative for :math:`n \ge 1000`. Scaling the weights' spread by
:math:`\sqrt r` scales :math:`R` by exactly :math:`r`, so the power to see a variance off by a factor
:math:`r` is known in closed form (:func:`variance_power`), and :func:`check_scheme` draws until it is
at least ``1 - alpha`` for a 5% error, in every layer kind the scheme serves.

The kit holds the laws of the statistics (bands, power, sample sizes), assertions on bare
weights, checks of whole layers and schemes, and checks of random biases. It needs numpy and scipy
(the ``test`` extra); :mod:`initconv` itself does not. The Hypothesis strategies live in
:mod:`initconv.testing.strategies` and are re-exported here lazily, so this module imports without
Hypothesis.

Examples:
    >>> import initconv
    >>> from initconv.testing import assert_variance_matches, check_scheme
    >>> conv = initconv.KaimingNormalConv2d(64, 64, 3, seed=0)
    >>> assert_variance_matches(conv.weight, conv.expected_variance(), "normal")
    >>> report = check_scheme(initconv.KaimingUniformConv2d, activation="gelu")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from initconv.testing._assertions import (
    assert_channels_uncorrelated,
    assert_distribution,
    assert_mean_zero,
    assert_orthogonal,
    assert_variance_matches,
    orthogonality_atol,
)
from initconv.testing._bias import BIAS_DETECTABLE, bias_view
from initconv.testing._checks import (
    DEFAULT_SHAPES,
    SchemeReport,
    check_layer,
    check_scheme,
    iid_view,
    second_moment_atol,
)
from initconv.testing._laws import (
    ALPHA_CHECK,
    DETECTABLE,
    cumulant_band,
    min_sample_size,
    standard_moments,
    variance_band,
    variance_power,
)

if TYPE_CHECKING:
    from initconv.testing.strategies import (
        activations,
        bias_options,
        conv2d_configs,
        layer_configs,
        layer_options,
        scheme_options,
    )

__all__ = [
    "ALPHA_CHECK",
    "BIAS_DETECTABLE",
    "DEFAULT_SHAPES",
    "DETECTABLE",
    "SchemeReport",
    "activations",
    "assert_channels_uncorrelated",
    "assert_distribution",
    "assert_mean_zero",
    "assert_orthogonal",
    "assert_variance_matches",
    "bias_options",
    "bias_view",
    "check_layer",
    "check_scheme",
    "conv2d_configs",
    "cumulant_band",
    "iid_view",
    "layer_configs",
    "layer_options",
    "min_sample_size",
    "orthogonality_atol",
    "scheme_options",
    "second_moment_atol",
    "standard_moments",
    "variance_band",
    "variance_power",
]

_STRATEGIES = (
    "activations",
    "bias_options",
    "conv2d_configs",
    "layer_configs",
    "layer_options",
    "scheme_options",
)


def __getattr__(name: str) -> Any:
    # The strategies need Hypothesis, which only the tests have; import them on first use.
    if name in _STRATEGIES:
        from initconv.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
