"""initconv.critical() finds the critical line, the 'critical' scheme draws on it, and the kit checks
random biases.

The independent computation here shares no code with the package: scipy's adaptive quadrature with
closed-form derivatives, and Brent's method on the line's equation.
"""

from __future__ import annotations

import doctest
import math
from collections.abc import Callable
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from _support import slow_except
from scipy import integrate, optimize, special
from torch import nn

import initconv
from initconv import diagnostics
from initconv.testing import (
    ALPHA_CHECK,
    BIAS_DETECTABLE,
    check_layer,
    check_scheme,
    min_sample_size,
    variance_power,
)

Real = Callable[[float], float]


def _normal_pdf(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _gelu(x: float) -> float:
    return x * 0.5 * (1 + special.erf(x / math.sqrt(2)))


def _gelu_slope(x: float) -> float:
    return 0.5 * (1 + special.erf(x / math.sqrt(2))) + x * _normal_pdf(x)


def _silu(x: float) -> float:
    return float(x * special.expit(x))


def _silu_slope(x: float) -> float:
    s = float(special.expit(x))
    return s * (1 + x * (1 - s))


def _elu(x: float) -> float:
    return x if x > 0 else math.expm1(x)


def _elu_slope(x: float) -> float:
    return 1.0 if x > 0 else math.exp(x)


CLOSED_FORMS: dict[str, tuple[Real, Real]] = {
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "gelu": (_gelu, _gelu_slope),
    "silu": (_silu, _silu_slope),
    "elu": (_elu, _elu_slope),
}


def _expect(f: Real, q: float) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), by scipy's QUADPACK, split at 0 for kinks."""
    root = math.sqrt(q)
    total = 0.0
    for lo, hi in ((-np.inf, 0.0), (0.0, np.inf)):
        value, _ = integrate.quad(
            lambda z: f(root * z) * _normal_pdf(z), lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200
        )
        total += value
    return total


def independent_critical(name: str, bias_std: float) -> tuple[float, float]:
    """(sigma_w, q*) on the line chi_1 = 1: q = E[phi^2] / E[phi'^2] + sigma_b^2, by Brent's method
    on the bracket where the stable root lies, sigma_w^2 = 1 / E[phi'^2]."""
    phi, slope = CLOSED_FORMS[name]

    def excess(log_q: float) -> float:
        q = math.exp(log_q)
        ratio = _expect(lambda x: phi(x) ** 2, q) / _expect(lambda x: slope(x) ** 2, q)
        return math.log((ratio + bias_std**2) / q)

    grid = np.linspace(math.log(2.0**-20), math.log(2.0**10), 61)
    values = [excess(x) for x in grid]
    roots = [
        optimize.brentq(excess, a, b, xtol=1e-14, rtol=1e-14)
        for a, b, fa, fb in zip(grid[:-1], grid[1:], values[:-1], values[1:], strict=True)
        if (fa > 0) != (fb > 0)
    ]
    assert len(roots) == 1, f"{name} at {bias_std}: the line meets the fixed points {roots}"
    q = math.exp(roots[0])
    return 1 / math.sqrt(_expect(lambda x: slope(x) ** 2, q)), q


@pytest.mark.parametrize(
    ("name", "bias_std"),
    [("tanh", 0.05), ("tanh", 0.1), ("tanh", math.sqrt(1e-3)), ("elu", 0.2), ("gelu", 0.65)],
)
def test_critical_matches_an_independent_computation_to_1e_6(name: str, bias_std: float) -> None:
    point = initconv.critical(name, bias_std)
    weight_std, q_star = independent_critical(name, bias_std)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-6)
    assert point.q_star == pytest.approx(q_star, rel=1e-6)
    assert point.bias_std == bias_std


def test_the_tanh_probe_that_trained_100_layers_sits_on_the_line() -> None:
    # sigma_b^2 = 1e-3: sigma_w = 1.0905, q* = 0.107, as the probe that trained 100 tanh layers.
    point = initconv.critical("tanh", math.sqrt(1e-3))
    assert (round(point.weight_std, 4), round(point.q_star, 3)) == (1.0905, 0.107)


def test_relu_is_critical_at_sigma_w_squared_two_without_bias() -> None:
    point = initconv.critical("relu", 0.0)
    assert point.weight_std**2 == pytest.approx(2.0, rel=1e-12)
    assert point.variance_slope == pytest.approx(1.0, rel=1e-12)


def test_tanh_without_bias_ends_the_line_at_sigma_w_one_and_q_star_zero() -> None:
    point = initconv.critical("tanh", 0.0)
    assert point.weight_std == pytest.approx(1.0, rel=1e-12)
    assert point.q_star == 0.0
    assert point.input_gain() == 0.0


@pytest.mark.parametrize(("name", "bias_std"), [("tanh", 0.05), ("gelu", 0.65), ("silu", 0.8)])
def test_the_correlation_map_is_critical_at_the_critical_point(name: str, bias_std: float) -> None:
    point = initconv.critical(name, bias_std)
    phase = diagnostics.correlation_map(name, point.weight_std, bias_std, q0=point.q_star)
    assert phase.chi_1 == pytest.approx(1.0, abs=1e-9)
    assert phase.phase == "critical"
    assert phase.q_star == pytest.approx(point.q_star, rel=1e-9)


def test_an_input_layer_at_the_input_gain_starts_at_q_star() -> None:
    point = initconv.critical("tanh", 0.05)
    gain = point.input_gain(4.0)
    assert gain**2 * 4.0 + point.bias_std**2 == pytest.approx(point.q_star, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "bias_std", "match"),
    [
        ("relu", 0.1, r"no critical point at bias_std=0\.1: it is positively homogeneous"),
        ("linear", 0.05, r"the variance map is q \+ sigma_b\^2 and has no fixed point"),
        ("gelu", 0.1, r"fixed point is unstable .* stable from bias_std = 0\.41\d+ on"),
        ("silu", 0.0, r"fixed point is unstable .* stable from bias_std = 0\.74\d+ on"),
        ("softplus", 0.1, r"no sigma_w makes chi_1 = 1 at a fixed point"),
    ],
)
def test_an_activation_without_a_critical_point_is_a_value_error_that_says_why(
    name: str, bias_std: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        initconv.critical(name, bias_std)


@pytest.mark.parametrize("bias_std", [-0.1, math.nan, "0.1"])
def test_a_bad_bias_std_names_the_parameter(bias_std: object) -> None:
    error = TypeError if isinstance(bias_std, str) else ValueError
    with pytest.raises(error, match="bias_std must be"):
        initconv.critical("tanh", bias_std)  # type: ignore[arg-type]


# --- Kinks, tiny biases, changed and hostile activations -----------------------------------------

# selu's slopes at 0: lambda on the right, lambda alpha on the left (Klambauer et al. 2017).
SELU_LAMBDA, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def test_at_selus_kink_the_line_ends_at_the_mean_of_the_squared_one_sided_slopes() -> None:
    # E[phi'(sqrt(q) z)^2] -> (phi'(0-)^2 + phi'(0+)^2) / 2 as q -> 0: half of sqrt(q) z lies on
    # each side. Autograd's slope at 0 is the left one alone, which gave sigma_w = 0.5688.
    expected = math.sqrt(2 / (SELU_LAMBDA**2 * (1 + SELU_ALPHA**2)))
    point = initconv.critical("selu", 0.0)
    assert point.q_star == 0.0
    assert point.weight_std == pytest.approx(expected, rel=1e-12)
    assert round(point.weight_std, 4) == 0.6905
    # The limit by scipy at q = 1e-16, where selu' differs from its one-sided limits by 1e-8.
    assert point.weight_std**2 * _expect(_selu_slope_squared, 1e-16) == pytest.approx(1, rel=1e-7)


def _selu_slope_squared(x: float) -> float:
    return SELU_LAMBDA**2 if x > 0 else (SELU_LAMBDA * SELU_ALPHA * math.exp(x)) ** 2


def test_the_correlation_map_calls_selu_critical_only_at_the_kinks_sigma_w() -> None:
    right = initconv.critical("selu", 0.0).weight_std
    assert diagnostics.correlation_map("selu", right).phase == "critical"
    # Autograd's one-sided sigma_w gives chi_1 = (1 + alpha^2) / (2 alpha^2) = 0.679: ordered.
    wrong = diagnostics.correlation_map("selu", 1 / (SELU_LAMBDA * SELU_ALPHA))
    assert wrong.chi_1 == pytest.approx((1 + SELU_ALPHA**2) / (2 * SELU_ALPHA**2), rel=1e-12)
    assert wrong.phase == "ordered"


class _ScaledTanh(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * torch.tanh(x)


def test_critical_solves_a_module_again_when_its_parameter_changes() -> None:
    # k tanh has tanh's q* and sigma_w / k: E[phi^2] and E[phi'^2] both scale by k^2.
    module = _ScaledTanh()
    tanh = initconv.critical("tanh", 0.05)
    assert initconv.critical(module, 0.05).weight_std == pytest.approx(tanh.weight_std, rel=1e-9)
    with torch.no_grad():
        module.k.fill_(2.0)
    point = initconv.critical(module, 0.05)
    assert point.weight_std == pytest.approx(tanh.weight_std / 2, rel=1e-9)
    assert point.q_star == pytest.approx(tanh.q_star, rel=1e-9)


def test_critical_and_the_maps_work_under_the_meta_device() -> None:
    # The documented large-model path builds under torch.device("meta"); the quadrature must
    # still run, on the CPU. A fresh callable, so nothing is served from a cache.
    def softsign(x: torch.Tensor) -> torch.Tensor:
        return x / (1 + x.abs())

    with torch.device("meta"):
        point = initconv.critical(softsign, 0.1)
        variance = diagnostics.variance_map("softsign")
        correlation = diagnostics.correlation_map("softsign", 1.5, 0.1)
    assert point.weight_std == initconv.critical("softsign", 0.1).weight_std
    assert variance == diagnostics.variance_map("softsign")
    assert correlation == diagnostics.correlation_map("softsign", 1.5, 0.1)


def _step(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).double()


def _shifted_step(x: torch.Tensor) -> torch.Tensor:
    return x + (x > 0.3).double()


@pytest.mark.parametrize(
    ("activation", "match"),
    [
        (_step, r"activation '_step' has no slope: its output is not connected to its input"),
        # Autograd sees slope 1 on both sides and would give a finite chi_1 for an infinite one.
        (_shifted_step, r"activation '_shifted_step' jumps by 1 near x = 0\.3"),
        (torch.sign, r"activation '.*sign' jumps by 1 near x = 0"),
    ],
)
def test_an_activation_without_a_usable_slope_is_a_value_error_naming_it(
    activation: Callable[[torch.Tensor], torch.Tensor], match: str
) -> None:
    for call in (
        lambda: initconv.critical(activation, 0.1),
        lambda: diagnostics.variance_map(activation),
        lambda: diagnostics.correlation_map(activation, 1.0, 0.1),
    ):
        with pytest.raises(ValueError, match=match):
            call()


# tanh's line near its end, independently of the package: E[tanh(u)^2] and E[sech(u)^4] as series
# in q = Var(u), from the Taylor series of tanh^2 and sech^4 with E[u^2n] = (2n - 1)!! q^n (sympy
# prints them; the terms to q^8 leave an error below q^9, 1e-55 at q = 1e-6).
_TANH_SQUARED = [Fraction(c) for c in
                 ("0", "1", "-2", "17/3", "-62/3", "1382/15", "-21844/45", "929569/315",
                  "-6404582/315")]  # fmt: skip
_SECH_FOURTH = [Fraction(c) for c in
                ("1", "-2", "7", "-94/3", "502/3", "-15484/15", "324419/45", "-17698598/315",
                 "21746206/45")]  # fmt: skip


def _tanh_line_by_series(bias_std: float) -> tuple[float, float]:
    """(sigma_w, q*) of tanh's line at a small bias: q G(q) - F(q) = sigma_b^2 G(q), with the
    series of q G - F formed in exact fractions (its terms in q and q^2 cancel), solved at 50
    digits."""
    deficit = [_SECH_FOURTH[n - 1] - _TANH_SQUARED[n] for n in range(1, len(_TANH_SQUARED))]
    assert deficit[:3] == [0, 0, Fraction(4, 3)]  # D = 4/3 q^3 + ...

    def series(coefficients: list[Fraction], q: mpmath.mpf, start: int = 0) -> mpmath.mpf:
        return mpmath.fsum(
            mpmath.mpf(c.numerator) / c.denominator * q ** (n + start)
            for n, c in enumerate(coefficients)
        )

    with mpmath.workdps(50):
        sb2 = mpmath.mpf(bias_std) ** 2

        def gap(log_q: mpmath.mpf) -> mpmath.mpf:
            q = mpmath.exp(log_q)
            return mpmath.log(series(deficit, q, start=1)) - mpmath.log(
                sb2 * series(_SECH_FOURTH, q)
            )

        guess = mpmath.log((mpmath.mpf(3) / 4 * sb2) ** (mpmath.mpf(1) / 3))
        q = mpmath.exp(mpmath.findroot(gap, (guess - 1, guess + 1), solver="anderson"))
        return float(1 / mpmath.sqrt(series(_SECH_FOURTH, q))), float(q)


@pytest.mark.parametrize(
    "bias_std",
    [
        1e-10,
        1e-150,
        *(pytest.param(b, marks=pytest.mark.slow) for b in (1e-4, 1e-8, 1e-12, 1e-20, 1e-300)),
    ],
)
def test_a_tiny_bias_finds_tanhs_point_near_the_end_of_the_line(bias_std: float) -> None:
    # q* ~ (3/4)^(1/3) sigma_b^(2/3): 1e-150 puts it near 1e-100, where no quadrature of tanh
    # resolves the line; at 1e-10 (q* = 2e-7) the difference of the two moments put it 4% off.
    weight_std, q_star = _tanh_line_by_series(bias_std)
    point = initconv.critical("tanh", bias_std)
    assert point.q_star == pytest.approx(q_star, rel=1e-9, abs=0.0)
    assert point.weight_std == pytest.approx(weight_std, rel=1e-12)
    assert point.variance_slope <= 1


def test_a_tiny_bias_on_an_unstable_end_is_still_refused() -> None:
    # gelu's line is unstable near its end, by O(q*): at bias_std=1e-30 too, however small.
    with pytest.raises(ValueError, match=r"unstable \(q\* = 1\.25\d*e-30 with M'\(q\*\) = 1\.0+ "):
        initconv.critical("gelu", 1e-30)


def test_an_activation_autograd_cannot_follow_is_a_value_error_naming_it() -> None:
    def through_numpy(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.tanh(x.numpy()))

    # Its gain is fine (no slope needed); its line needs phi', which autograd cannot take.
    assert initconv.gain(through_numpy) == pytest.approx(1.5925, rel=1e-4)
    with pytest.raises(ValueError, match=r"'.*through_numpy' has no slope: it fails on an input"):
        initconv.critical(through_numpy, 0.1)


def test_an_activation_computed_in_float32_is_refused_with_the_reason() -> None:
    # Its slopes are float32 rounding noise where tanh saturates: no moment of them converges.
    def tanh32(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x.float())

    with pytest.raises(
        ValueError, match=r"'.*tanh32': its Gaussian moments .* compute it in float64"
    ):
        initconv.critical(tanh32, 0.1)


@pytest.mark.parametrize("size", [1e-200, 1e200])
def test_an_activation_of_extreme_size_has_its_line_scaled(size: float) -> None:
    # k phi has phi's q* and sigma_w / k; its squared slopes underflowed (or overflowed).
    def scaled(x: torch.Tensor) -> torch.Tensor:
        return size * torch.tanh(x)

    tanh = initconv.critical("tanh", 0.05)
    point = initconv.critical(scaled, 0.05)
    assert point.weight_std == pytest.approx(tanh.weight_std / size, rel=1e-9, abs=0)
    assert point.q_star == pytest.approx(tanh.q_star, rel=1e-9)
    assert "weight_std 1.12254e" in str(point)


def test_a_negative_zero_bias_std_is_zero() -> None:
    point = initconv.critical("tanh", -0.0)
    assert math.copysign(1.0, point.bias_std) == 1.0
    assert "bias_std 0:" in str(point)


def test_the_docstring_examples_print_what_the_function_prints() -> None:
    globs = {"critical": initconv.critical}
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(initconv.critical, "critical", globs=globs):
        runner.run(test)
    assert runner.failures == 0
    assert runner.tries >= 3


# --- The scheme -----------------------------------------------------------------------------------


def test_the_critical_scheme_takes_its_gain_from_the_line() -> None:
    conv = initconv.CriticalConv2d(16, 16, 3, padding=1, activation="tanh", bias_std=0.1, seed=0)
    assert conv.gain == initconv.critical("tanh", 0.1).weight_std
    assert conv.bias_init == "normal"
    assert conv.expected_variance() == pytest.approx(conv.gain**2 / (16 * 9), rel=1e-12)
    assert conv.expected_bias_variance() == pytest.approx(0.01, rel=1e-12)
    assert "bias_std=0.1" in repr(conv)


def test_a_layer_with_more_outputs_keeps_each_units_second_moment() -> None:
    # Delta-orthogonal scaled to sigma_w^2 / fan_in: the mean square per output unit is
    # sigma_w^2 times the input's, not the input's norm spread over more units.
    conv = initconv.CriticalConv2d(4, 64, 1, gain=1.0, bias=False, seed=3, dtype=torch.float64)
    x = torch.randn(1, 4, 1, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = conv(x)
    assert float(y.pow(2).mean()) == pytest.approx(float(x.pow(2).mean()), rel=1e-12)


@pytest.mark.parametrize(
    "base", slow_except(["delta_orthogonal", "orthogonal", "normal"], keep="normal")
)
def test_every_base_passes_the_kit_on_every_kind_it_serves(base: str) -> None:
    report = check_scheme(initconv.Critical, base=base, kinds=["conv2d", "linear"])
    assert {"bias variance", "bias mean"} <= set(report.checks)


@pytest.mark.slow
@pytest.mark.parametrize("base", ["delta_orthogonal", "orthogonal", "normal"])
def test_every_base_passes_the_kit_on_all_seven_kinds(base: str) -> None:
    # A linear layer is a 1x1 kernel, so its delta-orthogonal base is the orthogonal one.
    report = check_scheme(initconv.Critical, base=base, activation="elu", bias_std=0.2)
    assert set(report.kinds) == {
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
        nn.Linear,
    }


def test_a_scheme_without_a_critical_point_falls_back_with_a_warning_that_says_why() -> None:
    with pytest.warns(UserWarning, match=r"'relu' has no critical point at bias_std=0\.3.*"):
        conv = initconv.CriticalLinear(8, 8, activation="relu", bias_std=0.3)
    # chi_1 = 1 at unit variance: 1 / sqrt(E[relu'(z)^2]) = sqrt 2.
    assert conv.gain == pytest.approx(math.sqrt(2), rel=1e-9)


def test_a_delta_orthogonal_base_refuses_fewer_outputs_than_inputs() -> None:
    assert not initconv.CriticalConv2d.serves(8, 4, 3)
    assert initconv.CriticalConv2d.serves(8, 4, 3, base="orthogonal")


def test_a_bad_base_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"base must be one of .*'delta_orthogonal'.*got 'he'"):
        initconv.CriticalConv2d(4, 4, 3, base="he")


# --- Random biases in the kit ---------------------------------------------------------------------


def test_the_kit_checks_a_normal_bias_on_every_scheme_that_takes_one() -> None:
    report = check_scheme(
        initconv.KaimingNormal, bias_init="normal", bias_std=0.3, kinds=["conv2d"]
    )
    assert {"bias variance", "bias mean"} <= set(report.checks)


def test_bias_init_normal_needs_bias_std_and_bias_std_needs_normal() -> None:
    with pytest.raises(ValueError, match=r"bias_init='normal' draws the bias .* needs bias_std"):
        initconv.KaimingNormalConv2d(4, 4, 3, bias_init="normal")
    with pytest.raises(ValueError, match=r"bias_std is the standard deviation of bias_init="):
        initconv.KaimingNormalConv2d(4, 4, 3, bias_std=0.1)
    with pytest.raises(ValueError, match=r"bias_std must be finite and >= 0, got -1"):
        initconv.KaimingNormalConv2d(4, 4, 3, bias_init="normal", bias_std=-1)


class _MisstatedBias(initconv.KaimingNormalConv2d):
    """Draws its bias at bias_std but claims twice the variance."""

    def expected_bias_variance(self) -> float:
        return 2 * super().expected_bias_variance()


def test_the_kit_rejects_a_misstated_bias_variance() -> None:
    # The pool is sized for power 1 - alpha at a 25% error, so a factor 2 cannot slip through.
    assert variance_power(min_sample_size("normal", BIAS_DETECTABLE), 0.5, "normal") > 0.999999
    with pytest.raises(AssertionError, match="pooled biases: variance does not match"):
        check_scheme(_MisstatedBias, bias_init="normal", bias_std=0.5)


def test_one_layer_with_a_wrong_bias_fails_check_layer() -> None:
    # 4096 biases at a claimed half of the real variance: far outside the chi-square band.
    layer = _MisstatedBias(8, 4096, 1, bias_init="normal", bias_std=1.0, seed=0)
    with pytest.raises(AssertionError, match="bias: variance does not match"):
        check_layer(layer, alpha=ALPHA_CHECK)


def test_a_constant_bias_is_checked_exactly_in_its_dtype() -> None:
    layer = initconv.KaimingNormalConv2d(4, 8, 3, bias_init=0.1, dtype=torch.float16, seed=0)
    # One small layer's bands, claiming no power: the constant bias is checked exactly anyway.
    assert check_layer(layer, detectable=None)[-1] == "bias constant"
    with torch.no_grad():
        layer.bias[0] = 0.2
    with pytest.raises(AssertionError, match="bias: variance 0 claimed"):
        check_layer(layer, detectable=None)
