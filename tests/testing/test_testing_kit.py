"""initconv.testing's own tests: its laws are right, it has the power it claims, and it is usable."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _markdown import example
from _support import slow_except
from conftest import CI_EXAMPLES, SUITE_ALPHA, suite_false_alarm_bound
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from torch import Tensor, nn

import initconv
from initconv import Scheme
from initconv._layers.pairing import served_kinds
from initconv._maths.sampling import TRUNCATED_NORMAL_STD
from initconv.testing import (
    ALPHA_CHECK,
    DEFAULT_SHAPES,
    LowPowerWarning,
    assert_channels_uncorrelated,
    assert_distribution,
    assert_mean_zero,
    assert_orthogonal,
    assert_variance_matches,
    check_layer,
    check_scheme,
    detectable_error,
    iid_view,
    min_sample_size,
    standard_moments,
    variance_band,
    variance_power,
)
from initconv.testing.strategies import activations, layer_configs

DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")
EXTENDING = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _standard(distribution: str, n: int, seed: int) -> Tensor:
    """n iid float64 draws of ``distribution`` with mean 0 and variance 1, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.empty(n, dtype=torch.float64)
    initconv._maths.sampling.draw_zero_mean_(x, 1.0, distribution, generator)
    return x


# --- The laws ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 10, 1_000, 100_000])
def test_the_normal_band_is_exactly_chi_square(n: int) -> None:
    lo, hi = variance_band(n, "normal", alpha=1e-6)
    # The shifted gamma's location, n - shape * scale, is 0 for a chi-square but cancels to within
    # a few ulps of n: an absolute error of a few eps in R = T / n, which at n = 1 is 6e-4 of the
    # lower quantile (4e-13) and nowhere else visible.
    eps = sys.float_info.epsilon
    assert lo == pytest.approx(stats.chi2.ppf(5e-7, n) / n, rel=1e-9, abs=4 * eps)
    assert hi == pytest.approx(stats.chi2.isf(5e-7, n) / n, rel=1e-9, abs=0)


@pytest.mark.parametrize(
    ("n", "distribution", "band"),
    [
        (1_000, "uniform", (0.8638, 1.1405)),
        (10_000, "truncated_normal", (0.9435, 1.0578)),
        (1_000_000, "normal", (0.9931, 1.0069)),
    ],
)
def test_bands_are_the_ones_stats_md_tabulates(
    n: int, distribution: str, band: tuple[float, float]
) -> None:
    lo, hi = variance_band(n, distribution, alpha=1e-6)  # type: ignore[arg-type]
    assert (round(lo, 4), round(hi, 4)) == band


def test_truncated_normal_moments_follow_from_the_recursion() -> None:
    # The recursion gives E[Z^2] = 0.7737413035 at c = 2 (the correction constant squared) and
    # mu4 = 2.36554.
    mu4, mu6 = standard_moments("truncated_normal")
    assert pytest.approx(0.7737413035, abs=1e-10) == TRUNCATED_NORMAL_STD**2
    assert mu4 == pytest.approx(2.36554, abs=1e-5)
    # The moments of scipy's truncnorm, standardised.
    z = stats.truncnorm(-2, 2)
    var = z.moment(2)
    assert (mu4, mu6) == pytest.approx((z.moment(4) / var**2, z.moment(6) / var**3), rel=1e-9)


@pytest.mark.parametrize(
    ("distribution", "ratio", "n"),
    [
        ("normal", 1.05, 53_334),
        ("normal", 0.95, 48_620),
        ("uniform", 1.05, 21_238),
        ("truncated_normal", 1.05, 36_322),
        ("normal", 2.0, 254),
        ("uniform", 0.5, 126),
    ],
)
def test_minimum_sample_sizes_are_the_ones_stats_md_tabulates(
    distribution: str, ratio: float, n: int
) -> None:
    found = min_sample_size(distribution, alpha=1e-6, power=0.999, ratios=(ratio,))  # type: ignore[arg-type]
    assert found == n


@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal"])
def test_uniform_and_truncated_normal_are_strictly_sub_gaussian(distribution: str) -> None:
    # The mean check's Chernoff bound needs E[X^2k] <= (2k - 1)!! for standardised X, every k (then
    # E exp(tX) <= exp(t^2 / 2) term by term). X is bounded by c (sqrt 3, or 2 / 0.8796), and once
    # (2k + 1) >= c^2 the right side grows faster than c^2k, so k up to 40 covers every k.
    bound = math.sqrt(3) if distribution == "uniform" else 2 / TRUNCATED_NORMAL_STD
    truncated = stats.truncnorm(-2, 2, scale=1 / TRUNCATED_NORMAL_STD)

    def moment(order: int) -> float:
        # U(-b, b): E[X^2k] = b^2k / (2k + 1).
        if distribution == "uniform":
            return float(bound**order / (order + 1))
        return float(truncated.moment(order))

    double_factorial = 1.0
    for k in range(1, 41):
        double_factorial *= 2 * k - 1
        assert moment(2 * k) <= double_factorial * (1 + 1e-9)
    assert bound**2 <= 2 * 40 + 1


# --- Power: a check that cannot fail is a defect ------------------------------------------------


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_at_check_schemes_n_a_five_percent_error_is_missed_no_more_often_than_alpha(
    distribution: str,
) -> None:
    n = min_sample_size(distribution)  # type: ignore[arg-type]
    for ratio in (1.05, 0.95):
        assert variance_power(n, ratio, distribution) >= 1 - ALPHA_CHECK  # type: ignore[arg-type]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("ratio", [1.05, 0.95])
def test_each_assertion_rejects_a_five_percent_variance_error_at_check_schemes_n(
    distribution: str, ratio: float
) -> None:
    n = min_sample_size(distribution)  # type: ignore[arg-type]
    x = _standard(distribution, n, seed=11)
    assert_variance_matches(x, 1.0, distribution)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=rf"variance does not match.*n = {n} "):
        assert_variance_matches(x * math.sqrt(ratio), 1.0, distribution)  # type: ignore[arg-type]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("ratio", [0.5, 2.0, 1 / 3, 0.7737])
def test_mutated_variances_are_rejected_where_the_power_is_one_minus_alpha(
    distribution: str, ratio: float
) -> None:
    # Mutations of the claim: claimed x r for r in {0.5, 2, 1/3, 0.7737} (0.7737: the missing
    # truncated-normal correction).
    n = min_sample_size(distribution, ratios=(ratio,))  # type: ignore[arg-type]
    x = _standard(distribution, n, seed=12)
    assert_variance_matches(x, 1.0, distribution)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_variance_matches(x, 1.0 / ratio, distribution)  # type: ignore[arg-type]


def _mutant(cls: type[Scheme], ratio: float) -> type[Scheme]:
    """``cls`` with every weight's spread about its mean scaled by sqrt(ratio): Var x ratio."""

    class Mutant(cls):  # type: ignore[valid-type, misc]
        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            super().init_weight(weight, generator)
            mean = self.expected_mean()
            weight.sub_(mean).mul_(math.sqrt(ratio)).add_(mean)

    Mutant.__name__ = f"{cls.__name__}x{ratio}"
    return Mutant


def _has_variance(name: str) -> bool:
    cls = initconv.layer_class(name, torch.nn.Conv2d)
    shape = next(shape for shape in DEFAULT_SHAPES[torch.nn.Conv2d] if cls.serves(**shape))
    return bool(cls(**shape).expected_variance() > 0)


# Every scheme but those with nothing to scale (zero: Var = 0).
VARIED = tuple(name for name in initconv.schemes() if _has_variance(name))


# A normal draw, a uniform one and an orthogonal one in the default run; every scheme when slow.
@pytest.mark.parametrize(
    "name", slow_except(VARIED, keep=["kaiming_normal", "xavier_uniform", "orthogonal"])
)
@pytest.mark.parametrize("ratio", [1.05, 0.95])
def test_every_scheme_with_its_variance_off_by_five_percent_fails_check_scheme(
    name: str, ratio: float
) -> None:
    with pytest.raises(AssertionError, match=r"variance|orthogonal|differ|Dirac|mean"):
        check_scheme(_mutant(initconv.schemes()[name], ratio))


# --- Each assertion, right and wrong -------------------------------------------------------------


def test_mean_check_rejects_a_shift_of_a_tenth_of_a_standard_deviation() -> None:
    x = _standard("uniform", 50_000, seed=3)
    assert_mean_zero(x, 1.0, "uniform")
    with pytest.raises(AssertionError, match=r"mean is not zero.*n = 50000 uniform"):
        assert_mean_zero(x + 0.1, 1.0, "uniform")


def test_ks_check_tells_uniform_from_normal_weights_of_the_same_variance() -> None:
    # Uniform vs normal separates at ~2-4k samples in a KS test; 50k leaves no doubt at ALPHA_CHECK.
    x = _standard("uniform", 50_000, seed=4)
    assert_distribution(x, "uniform", 1.0)
    with pytest.raises(AssertionError, match=r"do not follow normal.*Kolmogorov-Smirnov"):
        assert_distribution(x, "normal", 1.0)


def test_ks_check_tells_a_truncated_normal_from_a_plain_one() -> None:
    x = _standard("truncated_normal", 200_000, seed=5)
    assert_distribution(x, "truncated_normal", 1.0)
    with pytest.raises(AssertionError, match="do not follow normal"):
        assert_distribution(x, "normal", 1.0)


def test_channel_check_rejects_output_channels_that_repeat() -> None:
    conv = initconv.KaimingNormalConv2d(64, 64, 3, seed=6)
    weight = conv.weight.detach()
    assert_channels_uncorrelated(weight, conv.expected_variance(), "normal")
    # Two channels at a time copy each other: same variance, same KS, pairwise correlation 1.
    repeated = weight.clone()
    repeated[1::2] = repeated[0::2]
    assert_variance_matches(repeated[::2], conv.expected_variance(), "normal")
    with pytest.raises(AssertionError, match="output channels are correlated"):
        assert_channels_uncorrelated(repeated, conv.expected_variance(), "normal")


def test_orthogonal_check_accepts_torch_orthogonal_and_rejects_a_scaled_one() -> None:
    generator = torch.Generator().manual_seed(7)
    weight = torch.nn.init.orthogonal_(torch.empty(32, 16, 3, 3), 2.0, generator=generator)
    assert_orthogonal(weight, 2.0)
    with pytest.raises(AssertionError, match=r"group 0 \(32 x 144\) is not orthogonal"):
        assert_orthogonal(weight * 1.001, 2.0)


def test_a_claimed_zero_variance_means_every_weight_equals_the_mean() -> None:
    assert_variance_matches(torch.zeros(10), 0.0, "normal")
    with pytest.raises(AssertionError, match="variance 0 claimed, but 1 of 10"):
        assert_variance_matches(
            torch.zeros(10).index_fill_(0, torch.tensor([3]), 1e-30), 0.0, "normal"
        )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: variance_band(0, "normal"), ValueError, r"n must be >= 1, got 0"),
        (lambda: variance_band(10, "gaussian"), ValueError, r"distribution must be one of"),
        (lambda: variance_band(10, "normal", alpha=1.5), ValueError, r"alpha must be in \(0, 1\)"),
        (
            lambda: assert_variance_matches([], 1.0, "normal"),
            ValueError,
            "weights must not be empty",
        ),
        (
            lambda: assert_variance_matches([1.0, math.nan], 1.0, "normal"),
            ValueError,
            r"weights must be finite, got 1 NaN/inf",
        ),
        (
            lambda: assert_variance_matches([1.0], -1.0, "normal"),
            ValueError,
            "expected_variance must be finite and >= 0",
        ),
        (lambda: assert_mean_zero([1.0], "1", "normal"), TypeError, "variance must be a float"),
        (
            lambda: check_scheme(torch.nn.Conv2d),
            TypeError,
            "scheme must be a Scheme or layer class",
        ),
        (
            lambda: min_sample_size("normal", ratios=(1.0,)),
            ValueError,
            "ratios must be finite floats > 0 other than 1",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


# --- Usability -----------------------------------------------------------------------------------


@pytest.mark.slow  # a fresh interpreter
def test_importing_the_kit_needs_neither_hypothesis_nor_makes_initconv_import_scipy() -> None:
    code = (
        "import sys; import initconv; assert 'scipy' not in sys.modules; "
        "import initconv.testing; assert 'hypothesis' not in sys.modules; "
        "from initconv.testing import conv2d_configs; assert 'hypothesis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_scheme_passes_its_options_and_reports_what_it_checked() -> None:
    report = check_scheme(initconv.VarianceScalingConv2d, distribution="uniform", mode="fan_avg")
    assert report.n >= min_sample_size("uniform")
    assert report.checks[-5:] == (
        "variance",
        "mean",
        "distribution (KS)",
        "uncorrelated output channels",
        "seeds",
    )


def test_check_scheme_checks_icnrs_variance_on_its_independent_sub_kernel() -> None:
    layer = initconv.ICNRConv2d(16, 32, 3, seed=0)
    view = iid_view(layer)
    assert view is not None
    assert view[1] == "normal"
    assert torch.equal(view[0], layer.weight[::4])
    assert check_layer(layer, detectable=None)[1] == "variance"


def test_a_scheme_that_serves_no_shape_says_why() -> None:
    with pytest.raises(ValueError, match="ICNR needs out_channels divisible"):
        check_scheme(initconv.ICNRConv2d, upscale_factor=5)


@given(data=st.data())
def test_drawn_configurations_are_ones_the_scheme_serves(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(initconv.schemes())))
    scheme = initconv.schemes()[name]
    kind = data.draw(st.sampled_from(served_kinds(scheme)))
    config = data.draw(layer_configs(scheme, kind))
    if "groups" in config:
        assert config["in_channels"] % config["groups"] == 0
        assert config["out_channels"] % config["groups"] == 0
    initconv.layer_class(scheme, kind)(**config)


@given(activations())
def test_drawn_activations_all_resolve_to_a_positive_gain(spec: object) -> None:
    assert initconv.gain(spec) > 0  # type: ignore[arg-type]


def test_the_suite_false_alarm_budget_per_ci_run_is_below_one_in_ten_thousand() -> None:
    assert suite_false_alarm_bound(CI_EXAMPLES) < SUITE_ALPHA


# --- The documented example stays true ----------------------------------------------------------


def _readme_code(label: str) -> str:
    return example(EXTENDING, label)


@pytest.mark.slow  # a pytest run in a fresh interpreter, with its own Hypothesis sweep
def test_readme_testing_your_own_scheme_example_runs_and_catches_a_broken_scheme(
    clean_schemes: None, tmp_path: Path
) -> None:
    (tmp_path / "my_schemes.py").write_text(_readme_code("my scheme"), encoding="utf-8")
    test_file = tmp_path / "test_my_scheme.py"
    test_file.write_text(_readme_code("my scheme test"), encoding="utf-8")
    code_lines = [line for line in _readme_code("my scheme test").splitlines() if line.strip()]
    assert len(code_lines) <= 10
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    passed = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # The same test file fails the scheme once its variance is off by 5%.
    broken = _readme_code("my scheme").replace(
        "math.sqrt(self.depth * self.fan_in)", "math.sqrt(self.depth * self.fan_in * 0.95)"
    )
    assert broken != _readme_code("my scheme")
    (tmp_path / "my_schemes.py").write_text(broken, encoding="utf-8")
    failed = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 1
    quoted = re.search(r"`(variance does not match: .*?)`", EXTENDING.read_text(encoding="utf-8"))
    assert quoted is not None
    assert quoted.group(1) in failed.stdout


def test_the_kit_takes_numpy_scalars_as_the_layers_do() -> None:
    import numpy as np

    n, alpha = np.int64(10_000), np.float64(1e-6)
    assert variance_band(n, "normal", alpha) == variance_band(10_000, "normal", 1e-6)
    assert min_sample_size("normal", np.float64(0.05), alpha=alpha) == min_sample_size(
        "normal", 0.05, alpha=1e-6
    )
    weights = torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    assert_variance_matches(weights, np.float64(1.0), "normal", alpha=alpha)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, 2.0, math.nan])
def test_the_kit_refuses_a_false_alarm_rate_outside_zero_to_one_by_name(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha must be"):
        variance_band(1000, "normal", alpha)


# --- The kit knows its power --------------------------------------------------------------------


class _Inflated(initconv.KaimingNormal):
    """Draws a variance 1.2 times what it claims: an error one small layer cannot see."""

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        super().init_weight(weight, generator)
        weight.mul_(math.sqrt(1.2))


def _inflated() -> initconv.InitConv2d:
    layer: initconv.InitConv2d = initconv.layer_class(_Inflated, "conv2d")(3, 32, 3, seed=0)
    return layer


def test_check_layer_on_one_small_layer_says_what_error_it_can_see() -> None:
    # 864 weights passed a 20% variance error in silence: their power against 5% is 1.4e-7.
    layer = _inflated()
    with pytest.warns(
        LowPowerWarning,
        match=r"its 864 independent weights see a variance off by 43\.4% with 95% power at "
        r"alpha = 1e-09, not the 5% it is for \(its power against 5%: 1\.4e-07; n = 50048 would "
        r"see it\)\. Pass pool=True",
    ):
        ran = check_layer(layer)
    assert ran[1] == "variance"


def test_the_stated_resolution_is_the_chi_square_root_for_normal_weights() -> None:
    # Normal weights: n R ~ chi-square_n, so R >= hi has probability 0.95 at r = hi n / q_0.05
    # and R <= lo at r = lo n / q_0.95 (the far tail adds below 1e-9). detectable_error bisects
    # on variance_power instead; both must name the same error.
    n = 864
    lo, hi = variance_band(n, "normal")
    up = hi * n / stats.chi2.ppf(0.05, n) - 1
    down = 1 - lo * n / stats.chi2.ppf(0.95, n)
    assert detectable_error(n, "normal") == pytest.approx(max(up, down), rel=1e-6)
    assert round(detectable_error(n, "normal"), 3) == 0.434  # the docstrings' 43%
    assert variance_power(n, 1.05, "normal") < 3e-7  # check_layer's docstring: below 3e-7
    assert min_sample_size("normal", 0.05, power=0.95) == 50048


def test_the_stated_resolution_is_what_the_variance_check_does_by_simulation() -> None:
    # At r = 1 +- delta the real check rejects with probability >= 0.95, = 0.95 on the side that
    # decides delta. 20,000 layers of 864 normal weights each side; the counts' exact binomial
    # band at ALPHA_CHECK (both assertions: 2 checks).
    n, layers = 864, 20_000
    delta = detectable_error(n, "normal")
    lo, hi = variance_band(n, "normal")
    generator = torch.Generator().manual_seed(7)
    rates = {}
    for ratio in (1 + delta, 1 - delta):
        draws = torch.randn(layers, n, generator=generator, dtype=torch.float64)
        statistic = draws.pow(2).mean(dim=1) * ratio
        rates[ratio] = int(((statistic < lo) | (statistic > hi)).sum())
    floor = stats.binom.ppf(ALPHA_CHECK / 2, layers, 0.95)
    ceiling = stats.binom.isf(ALPHA_CHECK / 2, layers, 0.95)
    assert min(rates.values()) >= floor
    assert min(rates.values()) <= ceiling


def test_check_layer_pools_fresh_draws_until_it_sees_the_error_and_leaves_the_layer() -> None:
    layer = _inflated()
    weight = layer.weight.detach().clone()
    with pytest.raises(
        AssertionError,
        match=r"check_layer\(_InflatedConv2d\), fresh draws of its scheme pooled: variance does "
        r"not match: observed / expected = 1\.1",
    ):
        check_layer(layer, pool=True)
    assert torch.equal(layer.weight, weight)
    assert layer.seed == 0


def test_check_layer_pooled_on_a_right_scheme_names_the_pool_it_checked() -> None:
    layer = initconv.KaimingNormalConv2d(3, 32, 3, bias_init="normal", bias_std=0.1, seed=0)
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    ran = check_layer(layer, pool=True)
    pooled = [check for check in ran if check.startswith("pooled")]
    assert pooled[0].startswith("pooled variance (n = ")
    assert int(pooled[0].rstrip(")").split("= ")[1]) >= 50048
    assert "pooled bias variance" in ran
    assert torch.equal(layer.weight, weight)
    assert torch.equal(layer.bias, bias)


def test_check_layer_says_when_its_biases_cannot_see_their_error() -> None:
    layer = initconv.KaimingNormalConv2d(64, 32, 3, bias_init="normal", bias_std=0.1, seed=0)
    # 18,432 weights see 8.9%, so the weights alone would warn too; the biases' line is the one
    # asserted.
    with pytest.warns(LowPowerWarning, match=r"biases: its 32 biases see a variance off by"):
        check_layer(layer)


def test_check_layer_that_claims_no_power_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_layer(_inflated(), detectable=None)[1] == "variance"


def test_check_layer_of_a_large_enough_layer_does_not_warn() -> None:
    import warnings

    # 256 x 256 x 3 x 3 = 589,824 weights see well under 5% with 95% power.
    assert detectable_error(589_824, "normal") < 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_layer(initconv.KaimingNormalConv2d(256, 256, 3, seed=0))


@pytest.mark.parametrize(
    ("layer", "kwargs", "error", "match"),
    [
        (
            lambda: nn.Conv2d(3, 8, 3),
            {},
            TypeError,
            r"check_layer needs an initconv layer .* got Conv2d, which has none",
        ),
        (
            lambda: initconv.KaimingNormalConv2d,
            {},
            TypeError,
            r"check_layer needs a built initconv layer, got the class KaimingNormalConv2d",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 8, 3, device="meta"),
            {},
            ValueError,
            r"KaimingNormalConv2d's weight is on the meta device",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 8, 3),
            {"detectable": 2.0},
            ValueError,
            r"detectable must be in \(0, 1\), got 2\.0",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 8, 3),
            {"pool": "yes"},
            TypeError,
            r"pool must be a bool, got str 'yes'",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 8, 3),
            {"power": 1.0},
            ValueError,
            r"power must be in \(0, 1\), got 1\.0",
        ),
    ],
)
def test_check_layer_refuses_what_it_cannot_check_by_name(
    layer: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    # A plain nn.Conv2d raised AttributeError: 'Conv2d' object has no attribute 'check_invariants'.
    with pytest.raises(error, match=match):
        check_layer(layer(), **kwargs)  # type: ignore[operator, arg-type]


def test_check_layer_refuses_an_lsuv_calibrated_layer() -> None:
    layer = initconv.KaimingNormalConv2d(3, 8, 3, seed=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initconv.lsuv_(layer, torch.randn(4, 3, 8, 8))
    with pytest.raises(ValueError, match=r"replays an LSUV calibration \(calibrated_scale="):
        check_layer(layer)
    layer.calibrated_scale = None
    layer.reset_parameters()
    check_layer(layer, detectable=None)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        # A negative root reached a layer as seed -16777216; a large one past 2**64; True ran.
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 2**50}, ValueError, r"seed must be below 2\*\*40 .* got 1125899906842624"),
        ({"seed": True}, TypeError, r"seed must be an int, got bool True"),
        # An IndexError, a TypeError from deep inside, and a min() of nothing.
        ({"shapes": []}, ValueError, r"shapes must be a non-empty sequence of constructor keyword"),
        ({"shapes": [3]}, ValueError, r"shapes must be a non-empty sequence .* got \[3\]"),
        ({"kinds": []}, ValueError, r"kinds must name at least one layer kind, got \[\]"),
        # torch's NotImplementedError for torch.equal on meta tensors.
        ({"device": "meta"}, ValueError, r"check_scheme draws real weights to check"),
        ({"detectable": 1.5}, ValueError, r"detectable must be in \(0, 1\), got 1\.5"),
    ],
)
def test_check_scheme_refuses_bad_arguments_by_name(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    arguments: dict[str, object] = {"kinds": ["linear"], **kwargs}
    with pytest.raises(error, match=match):
        check_scheme(initconv.KaimingNormal, **arguments)  # type: ignore[arg-type]


def test_check_scheme_takes_one_kind_by_name() -> None:
    # "linear" was iterated as the kinds 'l', 'i', ...
    report = check_scheme(initconv.Orthogonal, kinds="linear")
    assert report.kinds == (nn.Linear,)


def test_check_layer_of_a_layer_without_weights_says_so() -> None:
    with pytest.warns(UserWarning, match=r"Initializing zero-element tensors is a no-op"):
        layer = initconv.KaimingNormalLinear(4, 0)
    with pytest.raises(
        ValueError, match=r"KaimingNormalLinear has no weights to check: .*\(0, 4\)"
    ):
        check_layer(layer)


def test_check_layer_fails_non_finite_weights_as_a_broken_scheme() -> None:
    # A scheme that draws NaN fails its theory: an AssertionError, not a ValueError about input.
    layer = initconv.KaimingNormalConv2d(3, 4, 3, seed=0)
    with torch.no_grad():
        layer.weight[0, 0, 0, 0] = math.nan
    with pytest.raises(AssertionError, match=r"1 of the weight's 108 values are not finite"):
        check_layer(layer)


# --- What a pool can hold --------------------------------------------------------------------------


def test_a_detectable_error_that_needs_more_weights_than_a_pool_holds_is_refused_before_drawing() -> (
    None
):
    # 1e-6 needs ~3e14 pooled weights (petabytes of float64): drawing towards it would run the
    # machine out of memory, so the check must say so up front, naming the option and its value.
    layer = initconv.KaimingNormalConv2d(3, 32, 3, seed=0)
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError, match=r"detectable=1e-06.*smallest detectable"):
        check_layer(layer, detectable=1e-6, pool=True)
    assert torch.equal(layer.weight, before)
    with pytest.raises(ValueError, match=r"detectable=1e-06.*smallest detectable"):
        check_scheme(initconv.KaimingNormal, kinds=["linear"], detectable=1e-6)


def test_a_detectable_error_below_float_resolution_is_named_as_detectable() -> None:
    # 1 + 1e-300 == 1: the message must name the option the caller passed, not `ratios`.
    with pytest.raises(ValueError, match=r"^detectable must be at least 2\*\*-53.*got 1e-300$"):
        min_sample_size("normal", 1e-300)
