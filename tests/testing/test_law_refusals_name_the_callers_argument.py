"""The laws' refusals are ValueErrors that name the argument the caller gave.

Promises (initconv/testing/_laws.py): variance_power needs "a finite float > 0" as ``ratio``
(a ratio of variances; 0 is an all-zero weight, whose power the formula F0(lo / r) cannot give);
min_sample_size refuses a ``detectable`` below 2^-53, where ``1 + detectable`` rounds to 1 and no
sample size can see the error, saying that it is ``detectable`` that is too small; and refuses
``ratios`` that are not finite floats > 0 other than 1, naming ``ratios``. A refusal that names
another parameter, or an arithmetic error from inside the search, does not tell the caller what
to change.
Theory of the rounding: float64 has spacing 2^-52 above 1 and 2^-53 below it, so for
2^-54 < d < 2^-53, ``1 + d`` rounds to 1 while ``1 - d`` rounds to 1 - 2^-53: the refusal must
come from the 1 + d side.
"""

from __future__ import annotations

import pytest

from initconv.testing import min_sample_size, variance_power


@pytest.mark.parametrize("ratio", [0.0, 0, -1.0])
def test_a_ratio_that_is_not_positive_is_refused_as_a_value_error(ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio must be a finite float > 0"):
        variance_power(1000, ratio, "normal")


def test_a_detectable_lost_only_above_one_is_refused_by_name() -> None:
    detectable = 2**-53 * 0.75  # between 2^-54 and 2^-53
    assert 1 + detectable == 1  # the premise, in float64
    assert 1 - detectable != 1
    with pytest.raises(ValueError, match="detectable must be at least 2"):
        min_sample_size("normal", detectable)


@pytest.mark.parametrize("ratios", [[0.0], [2.0, 0.0], [1.0], [float("inf")], []])
def test_bad_ratios_are_refused_by_name(ratios: list[float]) -> None:
    with pytest.raises(ValueError, match="ratios must be finite floats > 0 other than 1"):
        min_sample_size("normal", ratios=ratios)
