"""The correlation map (diagnostics.correlation_map, correlation_step) against closed forms, and
chi_1 against the measured growth of a perturbation through a deep stack."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from _support import slow_except
from scipy import stats

import initconv
from initconv import diagnostics
from initconv.testing import ALPHA_CHECK

# The 2-d rule is composite Gauss-Legendre (128 panels of 16 nodes on [-10, 10] per axis): its error
# on relu's kink, against the arc-cosine kernel, is 2.7e-8 at worst over c in [-1, 1]; on smooth
# integrands it is at float64 rounding.
KINK_ATOL = 1e-7
SMOOTH_ATOL = 1e-12


def _arc_cosine(c: float) -> float:
    """E[relu(u1) relu(u2)] / q for unit-correlation c (Cho & Saul, 2009)."""
    theta = math.acos(c)
    return (math.sin(theta) + (math.pi - theta) * c) / (2 * math.pi)


@pytest.mark.parametrize("c", [-1.0, -0.5, 0.0, 0.3, 0.9, 0.999, 1.0])
@pytest.mark.parametrize(("weight_std", "bias_std", "q"), [(2**0.5, 0.0, 1.0), (1.2, 0.3, 0.7)])
def test_relus_correlation_step_is_the_arc_cosine_kernel(
    c: float, weight_std: float, bias_std: float, q: float
) -> None:
    expected = (weight_std**2 * q * _arc_cosine(c) + bias_std**2) / q
    step = diagnostics.correlation_step("relu", c, weight_std, bias_std, q=q)
    assert step == pytest.approx(expected, abs=KINK_ATOL)


@pytest.mark.parametrize("c", [-0.8, 0.0, 0.5, 0.99])
def test_erfs_correlation_step_is_the_arcsine_kernel(c: float) -> None:
    # E[erf(u1) erf(u2)] = (2 / pi) arcsin(2 q c / (1 + 2 q)) (Williams, 1997).
    q, weight_std = 0.8, 1.3
    expected = weight_std**2 * (2 / math.pi) * math.asin(2 * q * c / (1 + 2 * q)) / q
    step = diagnostics.correlation_step(torch.erf, c, weight_std, q=q)
    assert step == pytest.approx(expected, abs=SMOOTH_ATOL)


def test_erfs_map_has_its_closed_form_chi_1() -> None:
    # erf'(x) = 2 exp(-x^2) / sqrt(pi): E[erf'(sqrt(q) z)^2] = (4 / pi) / sqrt(1 + 4 q).
    weight_std, bias_std = 1.5, 0.2
    result = diagnostics.correlation_map(torch.erf, weight_std, bias_std)
    q = result.q_star
    moment = (2 / math.pi) * math.asin(2 * q / (1 + 2 * q))
    assert weight_std**2 * moment + bias_std**2 == pytest.approx(q, rel=1e-10)
    chi_1 = weight_std**2 * (4 / math.pi) / math.sqrt(1 + 4 * q)
    assert result.chi_1 == pytest.approx(chi_1, rel=1e-10)


def test_linear_maps_are_ordered_with_their_closed_forms() -> None:
    weight_std, bias_std = 0.9, 0.1
    result = diagnostics.correlation_map("linear", weight_std, bias_std)
    assert result.q_star == pytest.approx(bias_std**2 / (1 - weight_std**2), rel=1e-9)
    assert result.chi_1 == pytest.approx(weight_std**2, rel=1e-12)
    assert result.variance_slope == pytest.approx(weight_std**2, rel=1e-9)
    assert result.depth_c == pytest.approx(-1 / math.log(weight_std**2), rel=1e-9)
    assert (result.phase, result.c_star) == ("ordered", 1.0)


def test_relu_with_bias_below_the_critical_gain_is_ordered() -> None:
    weight_std, bias_std = 1.2, 0.1
    result = diagnostics.correlation_map("relu", weight_std, bias_std)
    assert result.q_star == pytest.approx(bias_std**2 / (1 - weight_std**2 / 2), rel=1e-9)
    assert result.chi_1 == pytest.approx(weight_std**2 / 2, rel=1e-12)
    assert result.phase == "ordered"


def test_relu_at_the_he_gain_without_bias_is_critical_at_every_depth_scale() -> None:
    result = diagnostics.correlation_map("relu", 2**0.5)
    assert (result.phase, result.depth_q, result.depth_c) == ("critical", math.inf, math.inf)


def test_tanh_at_torchs_gain_is_chaotic_with_uncorrelated_fixed_point() -> None:
    # Without bias an odd activation maps c = 0 to 0: the chaotic phase's fixed point is 0.
    result = diagnostics.correlation_map("tanh", 5 / 3)
    assert result.phase == "chaotic"
    assert result.c_star == 0.0
    assert result.depth_c == pytest.approx(-1 / math.log(result.chi_c), rel=1e-12)


@pytest.mark.parametrize(
    ("name", "weight_std", "bias_std"),
    slow_except([("tanh", 2.5, 0.3), ("hardtanh", 2.0, 0.1)], keep=("tanh", 2.5, 0.3)),
)
def test_a_chaotic_correlation_fixed_point_is_a_fixed_point(
    name: str, weight_std: float, bias_std: float
) -> None:
    result = diagnostics.correlation_map(name, weight_std, bias_std)
    assert result.phase == "chaotic"
    assert 0 < result.c_star < 1
    step = diagnostics.correlation_step(name, result.c_star, weight_std, bias_std)
    # correlation_map's c* takes off its grid's misses of C at c = 0 and c = 1, where the
    # one-dimensional moments know C (hardtanh's kinks: ~1e-5 there, 3e-7 at its c* = 0.0195,
    # which is within 1e-6 of the exact root); correlation_step is the grid's C as it is.
    tolerance = KINK_ATOL if name == "tanh" else 1e-5
    assert step == pytest.approx(result.c_star, abs=tolerance)
    assert result.chi_c < 1  # the fixed point attracts


def test_tanh_at_gain_one_without_bias_is_the_critical_end_of_the_line() -> None:
    result = diagnostics.correlation_map("tanh", 1.0)
    assert (result.q_star, result.phase) == (0.0, "critical")
    assert result.chi_1 == pytest.approx(1.0, abs=1e-12)


def test_a_correlation_outside_minus_one_to_one_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"c must be a correlation in \[-1, 1\], got 1\.5"):
        diagnostics.correlation_step("tanh", 1.5)


# --- chi_1 against a measured perturbation --------------------------------------------------------


def _log_growths(weight_std: float, bias_std: float, seed: int) -> list[float]:
    """Per-layer log growth of an infinitesimal perturbation's squared norm through a 64-layer,
    128-channel delta-orthogonal tanh stack with N(0, bias_std^2) biases (float64, 8x8 circular),
    after 16 layers of burn-in to reach q*."""
    generator = torch.Generator().manual_seed(seed)
    channels, layers, burn_in = 128, 64, 16
    x = torch.randn(1, channels, 8, 8, generator=generator, dtype=torch.float64)
    size = 1e-6 * math.sqrt(x.numel())
    dx = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    dx *= size / dx.norm()
    growths = []
    with torch.no_grad():
        for i in range(layers):
            conv = initconv.CriticalConv2d(
                channels, channels, 3, padding=1, padding_mode="circular", activation="tanh",
                gain=weight_std, bias_std=bias_std, seed=seed * 1000 + i, dtype=torch.float64,
            )  # fmt: skip
            y = torch.tanh(conv(x))
            dy = torch.tanh(conv(x + dx)) - y
            if i >= burn_in:
                growths.append(2 * math.log(float(dy.norm()) / size))
            x, dx = y, dy * (size / dy.norm())
    return growths


# The ordered phase in the default run; the chaotic one and the edge of chaos in the slow suite.
@pytest.mark.parametrize(
    ("weight_std", "bias_std"),
    slow_except([(1.5, 0.1), (0.8, 0.1), (1.1225, 0.05)], keep=(0.8, 0.1)),
)
def test_chi_1_matches_the_measured_growth_of_a_perturbation(
    weight_std: float, bias_std: float
) -> None:
    # Each layer draws fresh weights and biases, so the per-layer log growths are independent given
    # q ~ q*; their mean estimates E[log r] = log chi_1 - Var(r) / (2 chi_1^2) + O(width^-2). The
    # band: a t interval at ALPHA_CHECK around the mean, shifted by the measured second-order term.
    growths = _log_growths(weight_std, bias_std, seed=0)
    n = len(growths)
    mean = sum(growths) / n
    spread = math.sqrt(sum((g - mean) ** 2 for g in growths) / (n - 1))
    half_width = float(stats.t.isf(ALPHA_CHECK / 2, n - 1)) * spread / math.sqrt(n)
    theory = math.log(diagnostics.correlation_map("tanh", weight_std, bias_std).chi_1)
    assert abs(mean + spread**2 / 2 - theory) <= half_width
    # Power: chi_1 of a gain 10% off lies two half-widths away, so the band rejects it with
    # probability about 1 - ALPHA_CHECK.
    nearby = math.log(diagnostics.correlation_map("tanh", 1.1 * weight_std, bias_std).chi_1)
    assert 2 * half_width < abs(nearby - theory)


def test_the_critical_point_and_the_correlation_map_share_one_fixed_point_record() -> None:
    point = initconv.critical("tanh", 0.1)
    summary = initconv.diagnostics.correlation_map("tanh", point.weight_std, point.bias_std)
    shared = [field.name for field in dataclasses.fields(initconv.diagnostics.FixedPoint)]
    assert shared == ["activation", "weight_std", "bias_std", "q_star", "variance_slope"]
    assert isinstance(point, initconv.diagnostics.FixedPoint)
    assert isinstance(summary, initconv.diagnostics.FixedPoint)
    assert [f.name for f in dataclasses.fields(summary)][: len(shared)] == shared


@pytest.mark.parametrize(("weight_std", "bias_std"), [(1e200, 0.0), (1e-200, 0.0), (1.0, 1e160)])
def test_a_std_whose_square_is_no_float64_names_the_parameter(
    weight_std: float, bias_std: float
) -> None:
    # sigma_w^2 overflowed into a raw OverflowError.
    name = "weight_std" if weight_std != 1.0 else "bias_std"
    with pytest.raises(ValueError, match=rf"{name} must be 0 or in \[.*\], so that its square"):
        diagnostics.correlation_map("tanh", weight_std, bias_std)
    with pytest.raises(ValueError, match=rf"{name} must be 0 or in"):
        diagnostics.correlation_step("tanh", 0.5, weight_std, bias_std)
