"""initconv.diagnostics: the variance map against reference values, propagation tables, Jacobian spectra."""

from __future__ import annotations

import csv
import io
import math

import pytest
import torch
from torch import nn

import initconv
from initconv import diagnostics
from initconv._maths.quadrature import gaussian_expectation


def _derived_gain(phi: object) -> float:
    return 1 / math.sqrt(gaussian_expectation(lambda z: phi(z) ** 2))  # type: ignore[operator]


# M'(1) at the derived gain, to the three decimals given.
DESIGN_SLOPES = {
    "tanh": (0.461, "stable"),
    "elu": (0.891, "stable"),
    "selu": (0.783, "stable"),
    "softplus": (0.492, "stable"),
    "sigmoid": (0.106, "stable"),
    "relu": (1.000, "marginal"),
    "gelu": (1.144, "unstable"),
    "silu": (1.173, "unstable"),
    "mish": (1.076, "unstable"),
    "hardswish": (1.224, "unstable"),
}
# tanh and sigmoid keep torch's gains (5/3, 1) by default, which are not the fixed-point gains.
DERIVED = {"tanh": _derived_gain(torch.tanh), "sigmoid": _derived_gain(torch.sigmoid)}


class _Argmax(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.argmax(-1)


@pytest.mark.parametrize("activation", sorted(DESIGN_SLOPES))
def test_variance_map_slope_at_the_derived_gain_matches_design(activation: str) -> None:
    slope, verdict = DESIGN_SLOPES[activation]
    result = diagnostics.variance_map(activation, DERIVED.get(activation))
    assert result.fixed_point == pytest.approx(1.0, abs=1e-9)
    assert result.slope == pytest.approx(slope, abs=1e-3)
    assert result.verdict == verdict


@pytest.mark.parametrize(
    ("activation", "gain", "fixed_point"),
    [("tanh", 5 / 3, 1.18), ("sigmoid", 1.0, 0.26), ("selu", 0.75, 0.023)],
)
def test_variance_map_finds_the_fixed_points_design_gives_for_torchs_gains(
    activation: str, gain: float, fixed_point: float
) -> None:
    result = diagnostics.variance_map(activation, gain)
    assert result.fixed_point == pytest.approx(fixed_point, rel=0.02)
    assert result.verdict == "stable"


@pytest.mark.parametrize(("activation", "gain"), [("gelu", 1.6), ("elu", 1.1), ("tanh", 2.0)])
def test_variance_map_slope_agrees_with_a_central_difference_of_the_map(
    activation: str, gain: float
) -> None:
    result = diagnostics.variance_map(activation, gain)
    q, h = result.fixed_point, 1e-4
    phi = {"gelu": torch.nn.functional.gelu, "elu": torch.nn.functional.elu, "tanh": torch.tanh}
    fn = phi[activation]

    def m(x: float) -> float:
        return gain**2 * gaussian_expectation(lambda z: fn(math.sqrt(x) * z) ** 2)

    assert m(q) == pytest.approx(q, rel=1e-9)
    assert result.slope == pytest.approx((m(q * (1 + h)) - m(q * (1 - h))) / (2 * h * q), rel=1e-6)


def test_relu_at_torchs_default_variance_has_no_positive_fixed_point_and_shrinks_sixfold() -> None:
    result = diagnostics.variance_map("relu", 1 / math.sqrt(3))
    assert result.fixed_point == 0.0
    assert result.slope == pytest.approx(1 / 6, rel=1e-9)
    assert result.verdict == "unstable"


def test_variance_map_accepts_module_instances_and_uses_initconvs_gain_by_default() -> None:
    result = diagnostics.variance_map(nn.GELU())
    assert result.gain == initconv.gain("gelu")
    assert result.slope == pytest.approx(1.144, abs=1e-3)
    assert "unstable" in str(result)


def test_variance_map_rejects_unknown_activations_and_bad_gains() -> None:
    with pytest.raises(ValueError, match="activation must be one of"):
        diagnostics.variance_map("gleu")
    with pytest.raises(ValueError, match="gain"):
        diagnostics.variance_map("relu", -1.0)


def _stack(depth: int, width: int, conv: type[nn.Conv2d], **kwargs: object) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [conv(width, width, 3, padding=1, padding_mode="circular", bias=False, **kwargs)]
        layers += [nn.ReLU()]
    return nn.Sequential(*layers)


def test_he_init_keeps_the_forward_second_moment_where_torchs_default_collapses() -> None:
    # The std of log(q_L / q_1) is about 1.65 sqrt((L - 1) / C) = 0.27 for 8 layers of 256
    # channels, so [1/4, 4] is about 5 standard deviations. torch's default shrinks q 6x per layer
    # (6^-7 = 3.6e-6 over 7 layers); 1/64 sits more than 15 standard deviations above that.
    torch.manual_seed(0)
    x = torch.randn(2, 256, 8, 8)
    he = diagnostics.propagation(_stack(8, 256, initconv.KaimingNormalConv2d, activation="relu"), x)
    default = diagnostics.propagation(_stack(8, 256, nn.Conv2d), x)
    assert 0.25 <= he[-1].forward / he[0].forward <= 4
    assert default[-1].forward / default[0].forward < 1 / 64
    assert [row.scheme for row in default] == ["plain Conv2d"] * 8
    assert default[0].weight_gain == pytest.approx(1 / math.sqrt(3), rel=0.05)


def test_propagation_ratios_chain_from_the_input_and_the_cotangent() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 8, 6, 6)
    table = diagnostics.propagation(_stack(4, 8, initconv.KaimingNormalConv2d), x)
    forward = math.prod(row.forward_ratio for row in table)
    assert forward == pytest.approx(table[-1].forward / table.input_moment, rel=1e-9)
    for row, after in zip(table.rows, table.rows[1:], strict=False):
        assert row.backward_ratio == pytest.approx(row.backward / after.backward, rel=1e-12)


def test_propagation_gradient_moment_is_the_one_autograd_gives() -> None:
    torch.manual_seed(2)
    conv = initconv.KaimingNormalConv2d(3, 5, 3, activation="relu")
    model = nn.Sequential(conv, nn.ReLU())
    x = torch.randn(2, 3, 7, 7)
    table = diagnostics.propagation(model, x, seed=3)
    out = conv(x).detach().requires_grad_()
    cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (grad,) = torch.autograd.grad(torch.relu(out), out, cotangent)
    assert table[0].backward == pytest.approx(float(grad.double().pow(2).mean()), rel=1e-6)
    assert table[0].forward == pytest.approx(float(out.detach().double().pow(2).mean()), rel=1e-6)


def test_propagation_leaves_parameters_and_gradients_as_they_were() -> None:
    model = _stack(2, 4, initconv.KaimingNormalConv2d)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    diagnostics.propagation(model, torch.randn(1, 4, 5, 5))
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name])
        assert p.grad is None


def test_propagation_table_prints_exports_csv_and_flags_unstable_activations() -> None:
    model = _stack(3, 4, initconv.KaimingNormalConv2d, activation="gelu")
    table = diagnostics.propagation(model, torch.randn(1, 4, 5, 5), label="gelu stack")
    text = str(table)
    assert text.startswith("gelu stack")
    assert "kaiming_normal" in text
    assert "unstable variance map for gelu" in text
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [row["layer"] for row in rows] == ["0", "2", "4"]
    assert {row["verdict"] for row in rows} == {"unstable"}


def test_propagation_table_plots_one_line_per_model(tmp_path: object) -> None:
    pytest.importorskip("matplotlib")
    x = torch.randn(1, 4, 5, 5)
    a = diagnostics.propagation(_stack(3, 4, initconv.KaimingNormalConv2d), x, label="he")
    b = diagnostics.propagation(_stack(3, 4, nn.Conv2d), x, label="default")
    path = tmp_path / "propagation.png"  # type: ignore[operator]
    a.plot(path, b)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_propagation_rejects_models_without_convolutions_and_non_tensors() -> None:
    with pytest.raises(ValueError, match="model has no convolutions or linear layers"):
        diagnostics.propagation(nn.ReLU(), torch.randn(1, 3))
    with pytest.raises(TypeError, match="example_input must be a Tensor"):
        diagnostics.propagation(nn.Conv2d(1, 1, 1), [1.0])  # type: ignore[arg-type]


def test_jacobian_spectrum_of_an_orthogonal_layer_is_all_ones() -> None:
    conv = initconv.OrthogonalConv2d(6, 6, 1, bias=False, seed=0, dtype=torch.float64)
    spectrum = diagnostics.jacobian_spectrum(conv, torch.randn(1, 6, 3, 3, dtype=torch.float64), 2)
    assert spectrum.top == pytest.approx((1.0, 1.0), abs=1e-9)
    assert spectrum.bottom == pytest.approx((1.0, 1.0), abs=1e-9)
    assert spectrum.condition == pytest.approx(1.0, abs=1e-9)


def test_jacobian_spectrum_finds_the_extreme_singular_values_of_a_known_map() -> None:
    conv = nn.Conv2d(4, 4, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5]))[:, :, None, None])
    x = torch.randn(1, 4, 1, 1, dtype=torch.float64)
    spectrum = diagnostics.jacobian_spectrum(conv, x, 1, iterations=300)
    assert spectrum.top[0] == pytest.approx(3.0, rel=1e-6)
    assert spectrum.bottom[0] == pytest.approx(0.5, rel=1e-6)


def test_jacobian_spectrum_rejects_bad_k_and_iterations() -> None:
    conv = nn.Conv2d(2, 2, 1)
    x = torch.randn(1, 2, 2, 2)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        diagnostics.jacobian_spectrum(conv, x, 0)
    with pytest.raises(ValueError, match="k must be at most the input's 8 elements"):
        diagnostics.jacobian_spectrum(conv, x, 9)
    with pytest.raises(
        ValueError, match=r"k must be at most the output's 4 elements \(J has min\(16, 4\) = 4"
    ):
        diagnostics.jacobian_spectrum(nn.Linear(16, 4), torch.randn(16), 5)
    with pytest.raises(TypeError, match="iterations must be an int"):
        diagnostics.jacobian_spectrum(conv, x, 1, iterations=2.5)  # type: ignore[arg-type]


def test_jacobian_spectrum_of_a_map_to_fewer_outputs_reports_its_nonzero_singular_values() -> None:
    # J is 4 x 16 with orthonormal rows: its four singular values are 1. The iteration on J^T J
    # (16 x 16) found the 12 zeros of its null space instead and reported [0, 0].
    layer = initconv.OrthogonalLinear(16, 4, bias=False, seed=0, dtype=torch.float64)
    spectrum = diagnostics.jacobian_spectrum(layer, torch.randn(16, dtype=torch.float64), k=2)
    assert spectrum.top == pytest.approx((1.0, 1.0), abs=1e-9)
    assert spectrum.bottom == pytest.approx((1.0, 1.0), abs=1e-9)
    assert spectrum.condition == pytest.approx(1.0, abs=1e-9)


def test_jacobian_spectrum_of_a_wide_map_finds_its_smallest_singular_value() -> None:
    # A 3 x 6 map with singular values 4, 2 and 0.25 (and a 3-dimensional null space).
    generator = torch.Generator().manual_seed(5)
    u, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(6, 3, generator=generator, dtype=torch.float64))
    linear = nn.Linear(6, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(
            u @ torch.diag(torch.tensor([4.0, 2.0, 0.25], dtype=torch.float64)) @ v.T
        )
    x = torch.randn(6, dtype=torch.float64)
    spectrum = diagnostics.jacobian_spectrum(linear, x, 1, iterations=300)
    assert spectrum.top[0] == pytest.approx(4.0, rel=1e-6)
    assert spectrum.bottom[0] == pytest.approx(0.25, rel=1e-6)


def test_jacobian_spectrum_of_a_rank_deficient_map_reports_its_zero() -> None:
    # A zero among the min(m, n) singular values is a real rank deficiency, and stays.
    linear = nn.Linear(3, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)))
    spectrum = diagnostics.jacobian_spectrum(linear, torch.randn(3, dtype=torch.float64), 1)
    assert spectrum.bottom == (0.0,)
    assert spectrum.condition == math.inf


@pytest.mark.parametrize(
    ("model", "x", "error", "match"),
    [
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3, device="meta"),
            lambda: torch.randn(1, 3, 5, 5),
            ValueError,
            r"model and example_input must hold values, but they are on the meta device",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3),
            lambda: torch.full((1, 3, 5, 5), math.nan),
            ValueError,
            r"example_input must be finite, got 75 NaN/inf of 75 values",
        ),
        (
            lambda: nn.Identity(),
            lambda: torch.empty(0, 3),
            ValueError,
            r"example_input must not be empty, got shape \(0, 3\)",
        ),
        (
            lambda: nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train(),
            lambda: torch.randn(8, 3),
            ValueError,
            r"gave another output on a second call, .* call model\.eval\(\) first",
        ),
        (
            lambda: nn.LSTM(3, 4),
            lambda: torch.randn(2, 1, 3),
            TypeError,
            r"model must return a floating point Tensor, got tuple",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3),
            lambda: torch.ones(1, 3, 5, 5, dtype=torch.int64),
            TypeError,
            r"example_input must be a floating point Tensor, got a Tensor of dtype torch\.int64",
        ),
        (
            # A class decision (argmax) has no Jacobian: named, not torch.func's RuntimeError.
            lambda: _Argmax(),
            lambda: torch.randn(1, 4),
            TypeError,
            r"model must return a floating point Tensor, got Tensor of dtype torch\.int64",
        ),
    ],
)
def test_jacobian_spectrum_refuses_what_has_no_jacobian_to_measure(
    model: object, x: object, error: type[Exception], match: str
) -> None:
    # Each of these gave nan, 0 or a meaningless spectrum, or a torch error from deep inside.
    with pytest.raises(error, match=match):
        diagnostics.jacobian_spectrum(model(), x())  # type: ignore[operator]


def test_jacobian_spectrum_of_an_overflowing_map_is_refused() -> None:
    linear = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        linear.weight.fill_(1e38)
    with pytest.raises(ValueError, match=r"the Jacobian at example_input is not finite"):
        diagnostics.jacobian_spectrum(linear, torch.ones(2))


@pytest.mark.parametrize(
    ("model", "x", "error", "match"),
    [
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3, device="meta"),
            lambda: torch.randn(1, 3, 5, 5, device="meta"),
            ValueError,
            r"model and example_input must hold values, but they are on the meta device",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3),
            lambda: torch.randn(0, 3, 5, 5),
            ValueError,
            r"example_input must not be empty, got shape \(0, 3, 5, 5\)",
        ),
        (
            lambda: initconv.KaimingNormalConv2d(3, 4, 3),
            lambda: torch.full((1, 3, 5, 5), math.inf),
            ValueError,
            r"example_input must be finite, got 75 NaN/inf of 75 values",
        ),
    ],
)
def test_propagation_refuses_inputs_without_values_to_measure(
    model: object, x: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        diagnostics.propagation(model(), x())  # type: ignore[operator]


def test_propagation_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"label must be a str or None, got int 3"):
        diagnostics.propagation(nn.Linear(2, 2), torch.randn(1, 2), label=3)  # type: ignore[arg-type]


def test_propagation_measures_a_parametrized_weight() -> None:
    # get_parameter("weight") raised AttributeError for a weight-normed layer, whose weight is
    # computed from its parametrization.
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(nn.Conv2d(3, 4, 3))
    table = diagnostics.propagation(nn.Sequential(conv), torch.randn(1, 3, 5, 5))
    expected = math.sqrt(27 * float(conv.weight.detach().double().pow(2).mean()))
    assert table[0].weight_gain == pytest.approx(expected, rel=1e-12)


def test_propagation_of_complex_layers_takes_the_modulus() -> None:
    linear = nn.Linear(2, 2, dtype=torch.complex64)
    x = torch.randn(3, 2, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    table = diagnostics.propagation(linear, x)
    with torch.no_grad():
        expected = float(linear(x).abs().double().pow(2).mean())
    assert table[0].forward == pytest.approx(expected, rel=1e-6)
    assert table.input_moment == pytest.approx(float(x.abs().double().pow(2).mean()), rel=1e-6)


def test_propagation_records_only_its_own_forward_pass_when_another_thread_runs_the_model() -> None:
    # Its forward hooks recorded whichever thread reached a layer first.
    import threading

    conv = initconv.KaimingNormalConv2d(4, 4, 3, padding=1, seed=0)
    later = initconv.KaimingNormalConv2d(4, 4, 3, padding=1, seed=1)

    class Busy(nn.Module):
        """Runs ``later`` on a large input in another thread before its own call of it."""

        def __init__(self) -> None:
            super().__init__()
            self.conv, self.later = conv, later

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            def elsewhere() -> None:
                with torch.no_grad():
                    self.later(torch.full_like(x, 100.0))

            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
            out: torch.Tensor = self.later(self.conv(x))
            return out

    x = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(2))
    table = diagnostics.propagation(Busy(), x)
    with torch.no_grad():
        expected = float(later(conv(x)).double().pow(2).mean())
    assert [row.name for row in table] == ["conv", "later"]
    assert table[1].forward == pytest.approx(expected, rel=1e-9)
