"""``check_layer`` and ``check_scheme`` hold schemes with a non-zero mean or a zero variance to
their theory, no more and no less.

Promises (their docstrings): iid weights are checked about ``expected_mean()``, pooled ones
standardised by it; a structured scheme's mean square about its mean must equal
``expected_variance()`` to float rounding, the 1e-5-relative QR allowance on the entries' mean
square ``E[w^2] = Var + mean^2``; a constant (zero-variance) weight or bias is checked exactly, so
no power is claimed for it and no ``LowPowerWarning`` is due; ``SchemeReport.n`` counts the
weights pooled for the statistical checks (none for a constant scheme); and two seeds must give
different weights only where the weights are random.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import initconv
from initconv.testing import LowPowerWarning, check_layer, check_scheme


def test_iid_weights_with_a_non_zero_mean_pass_alone_and_pooled() -> None:
    # N(0.5, 0.1^2): checked about the wrong point (w + 0.5), the mean would be 10 std off.
    # Each check's false-alarm rate is ALPHA_CHECK = 1e-9.
    layer = initconv.NormalLinear(64, 32, mean=0.5, std=0.1, seed=0)
    assert "variance" in check_layer(layer, detectable=None)
    pooled = check_layer(layer, detectable=0.25, pool=True)
    assert any(check.startswith("pooled variance") for check in pooled)


class _ClaimsSlightlyTooMuch(initconv.IdentityLinear):
    """The identity, claiming a variance 1.5 times the float allowance above its true one."""

    def expected_variance(self) -> float:
        mean, variance = super().expected_mean(), super().expected_variance()
        # The allowance is 1e-5 of E[w^2] = variance + mean^2 (float64: 2 eps is far below).
        return variance + 1.5e-5 * (variance + mean**2)


def test_a_structured_variance_claim_beyond_float_rounding_of_the_mean_square_is_rejected() -> None:
    layer = _ClaimsSlightlyTooMuch(8, 8, seed=0, dtype=torch.float64)
    assert layer.expected_mean() != 0  # the identity's ones give it a mean: 1/8 here
    with pytest.raises(AssertionError, match="float rounding"):
        check_layer(layer, detectable=None)
    exact = initconv.IdentityLinear(8, 8, seed=0, dtype=torch.float64)
    assert "exact second moment" in check_layer(exact, detectable=None)


def test_constant_weights_and_biases_claim_no_power_and_warn_of_none() -> None:
    layer = initconv.NormalLinear(64, 32, std=0.0, bias=True, bias_init="normal", bias_std=0.0)
    assert layer.expected_bias_distribution() is not None  # a normal family, at variance 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowPowerWarning)
        checks = check_layer(layer)  # the default detectable: a power claim where one is due
    assert "bias constant" in checks


def test_a_constant_scheme_passes_check_scheme_pooling_no_weights() -> None:
    report = check_scheme(
        initconv.NormalLinear,
        std=0.0,
        mean=0.25,
        kinds="linear",
        shapes=[{"in_features": 3, "out_features": 2}, {"in_features": 5, "out_features": 4}],
    )
    assert report.n == 0  # nothing random was pooled
    assert "zero variance: constant" in report.checks


def test_a_constant_scheme_checked_on_a_single_shape_reports_no_pooled_weights() -> None:
    report = check_scheme(
        initconv.NormalLinear,
        std=0.0,
        kinds="linear",
        shapes=[{"in_features": 3, "out_features": 2}],
    )
    assert report.n == 0
    assert report.layers == 1


class _ConstantWhenNarrow(initconv.NormalLinear):
    """N(mean, std^2), except that layers with 3 inputs are the constant ``mean``."""

    def init_weight(self, weight: torch.Tensor, generator: torch.Generator | None) -> None:
        if weight.shape[1] == 3:
            weight.fill_(self.mean)
        else:
            super().init_weight(weight, generator)

    def expected_variance(self) -> float:
        return 0.0 if self.weight.shape[1] == 3 else super().expected_variance()


def test_seeds_need_not_differ_where_the_scheme_is_constant() -> None:
    # The first shape is the constant one: two seeds rightly give the same weights there.
    # detectable=0.5 keeps the pool small; every check still runs at ALPHA_CHECK.
    report = check_scheme(
        _ConstantWhenNarrow,
        std=0.1,
        kinds="linear",
        detectable=0.5,
        shapes=[{"in_features": 3, "out_features": 2}, {"in_features": 64, "out_features": 32}],
    )
    assert "seeds" in report.checks
