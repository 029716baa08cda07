"""An activation is what it does: a formula written out in elementwise maths is one function phi
of the layer's output, with phi's derived gain, named where it equals a built-in.

Each case says what convert() did with it before: the walk stopped at the first activation and
took every multiply, divide and negation for a pass-through, so none of these was warned.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv import ConversionReport, convert
from initconv._maths.derived_gain import derived_gain

MODES = ("traced", "run")
Phi = Callable[[Tensor], Tensor]


class Written(nn.Module):
    """Linear -> a formula written in elementwise maths -> Linear."""

    def __init__(self, formula: Phi) -> None:
        super().__init__()
        self.first = nn.Linear(8, 8)
        self.second = nn.Linear(8, 8)
        self.formula = formula

    def forward(self, x: Tensor) -> Tensor:
        return self.second(self.formula(self.first(x)))  # type: ignore[no-any-return]


def _convert(model: nn.Module, mode: str) -> ConversionReport:
    options = {"example_inputs": torch.randn(4, 8)} if mode == "run" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return convert(model, reinit=False, **options)  # type: ignore[arg-type]


def gelu_new(y: Tensor) -> Tensor:
    """ALBERT's and GPT-2's gelu_new: the tanh approximation of GELU, written out."""
    return 0.5 * y * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * torch.pow(y, 3))))


def quick_gelu(y: Tensor) -> Tensor:
    """CLIP's quick_gelu."""
    return y * torch.sigmoid(1.702 * y)


def scaled_tanh(y: Tensor) -> Tensor:
    """LeCun et al. (1998)'s scaled tanh."""
    return 1.7159 * torch.tanh(2 * y / 3)


def squared_relu(y: Tensor) -> Tensor:
    """So et al. (2021)'s squared ReLU (Primer)."""
    return torch.relu(y) ** 2


def square(y: Tensor) -> Tensor:
    return y * y


@pytest.mark.parametrize("mode", MODES)
def test_a_written_out_tanh_gelu_is_gelu_tanh(mode: str) -> None:
    """Before: read as a gate of x and called "linear", with no warning."""
    row = _convert(Written(gelu_new), mode)["first"]
    assert (row.activation, row.source) == ("gelu_tanh", mode)
    assert row.gain == initconv.gain("gelu_tanh")


@pytest.mark.parametrize(
    ("formula", "label", "truth"),
    [
        # Before: a fallback to relu, with a warning.
        (quick_gelu, "x * sigmoid(1.702 * x)", lambda z: z * torch.sigmoid(1.702 * z)),
        # Before: "tanh", gain 5/3 (the truth is 1.1544: the scale and the slope matter).
        (scaled_tanh, "1.7159 * tanh(2 * x / 3)", lambda z: 1.7159 * torch.tanh(2 * z / 3)),
        # Before: "relu", sqrt(2) (the truth is 1 / sqrt(E[relu(z)^4]) = sqrt(2/3)).
        (squared_relu, "relu(x) ** 2", lambda z: torch.relu(z) ** 2),
        # Before: "linear", 1 (the truth is 1 / sqrt(E[z^4]) = 1 / sqrt(3)).
        (square, "x * x", lambda z: z * z),
        # Before: "relu": the scale after the activation was lost.
        (lambda y: 2 * F.relu(y), "2 * relu(x)", lambda z: 2 * torch.relu(z)),
    ],
    ids=["quick-gelu", "scaled-tanh", "squared-relu", "y*y", "scaled-relu"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_formula_written_out_gets_the_derived_gain_of_what_it_computes(
    formula: Phi, label: str, truth: Phi, mode: str
) -> None:
    row = _convert(Written(formula), mode)["first"]
    assert row.source == mode, row.detail
    assert math.isclose(row.gain or 0.0, derived_gain("truth", truth), rel_tol=1e-9)
    if mode == "traced":  # the run records the operands as the operators received them
        assert row.activation == label


def test_the_closed_forms_of_squared_relu_and_the_square() -> None:
    assert math.isclose(
        _convert(Written(squared_relu), "traced")["first"].gain or 0, math.sqrt(2 / 3)
    )
    assert math.isclose(_convert(Written(square), "traced")["first"].gain or 0, 1 / math.sqrt(3))


@pytest.mark.parametrize("mode", MODES)
def test_an_activation_with_a_pole_is_a_warned_fallback(mode: str) -> None:
    """Before: relu(1/y) was "relu". E[relu(1/z)^2] is infinite: there is no gain."""
    options = {"example_inputs": torch.randn(4, 8)} if mode == "run" else {}
    with pytest.warns(UserWarning, match=r"could not be inferred \(first\)"):
        report = convert(Written(lambda y: torch.relu(1 / y)), reinit=False, **options)  # type: ignore[arg-type]
    assert report.fallbacks == (report["first"],)
    assert "not finite at z = 0" in report["first"].detail


@pytest.mark.parametrize("mode", MODES)
def test_scalings_and_shifts_alone_are_linear_arithmetic(mode: str) -> None:
    row = _convert(Written(lambda y: (y * 0.5 - 1.0) / 3.0), mode)["first"]
    assert (row.activation, row.source) == ("linear", mode)


class LayerScale(nn.Module):
    """A per-channel scale (Touvron et al. 2021) on the residual branch: linear arithmetic."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.gamma = nn.Parameter(torch.linspace(1e-6, 1e-5, 8))
        self.head = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.gelu(x + self.gamma * self.fc(x)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_a_per_channel_scale_is_a_pass_through(mode: str) -> None:
    row = _convert(LayerScale(), mode)["fc"]
    assert (row.activation, row.source) == ("gelu", mode)


class AffineThenRelu(nn.Module):
    """A norm's affine written out, then relu: the affine is part of the norm."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.weight = nn.Parameter(torch.linspace(0.5, 2.0, 8))
        self.bias = nn.Parameter(torch.linspace(-0.1, 0.1, 8))
        self.head = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.relu(self.fc(x) * self.weight + self.bias))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_a_per_channel_affine_first_is_a_pass_through_and_after_an_activation_undefined(
    mode: str,
) -> None:
    row = _convert(AffineThenRelu(), mode)["fc"]
    assert (row.activation, row.source) == ("relu", mode)
    model = Written(lambda y: F.relu(y) * torch.linspace(0.5, 2.0, 8))
    row = _convert(model, mode)["first"]
    assert row.source == "default"
    assert "values differ" in row.detail


@pytest.mark.parametrize(
    ("formula", "truth"),
    [
        (lambda y: F.relu(y) / y.shape[-1], lambda z: torch.relu(z) / 8),
        (lambda y: F.relu(y) * y.numel(), lambda z: torch.relu(z) * 32),
        (lambda y: F.gelu(y) * y.dim(), lambda z: F.gelu(z) * 2),
    ],
    ids=["div-shape", "mul-numel", "mul-dim"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_scale_read_from_the_shape_is_a_constant_not_a_gate(
    formula: Phi, truth: Phi, mode: str
) -> None:
    """Before, traced: the shape read was taken for a second value, so relu(y) / y.shape[-1]
    was a gate of y ("relu", sqrt(2)) and relu(y) * y.numel() a gated unit ("reglu"), neither
    warned. A trace does not know the shape: a fallback, warned; a run reads it."""
    row = _convert(Written(formula), mode)["first"]
    if mode == "run":
        assert row.source == "run", row.detail
        assert math.isclose(row.gain or 0.0, derived_gain("truth", truth), rel_tol=1e-9)
    else:
        assert row.source == "default", (row.activation, row.detail)
        assert "shape" in row.detail


@pytest.mark.parametrize("mode", MODES)
def test_a_scaling_read_from_the_shape_alone_is_linear_arithmetic(mode: str) -> None:
    row = _convert(Written(lambda y: y / y.shape[-1] ** 0.5), mode)["first"]
    assert (row.activation, row.source) == ("linear", mode)


class PositionShift(nn.Module):
    """relu(y + a tensor made from y's shape): a shift that may differ per element."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.first(x)
        return self.second(F.relu(y + torch.arange(y.shape[-1], dtype=y.dtype)))  # type: ignore[no-any-return]


def test_a_tensor_made_from_a_shape_is_a_value_not_a_number() -> None:
    """A tensor built from the shape is not one number: the sum is read as before, a residual
    add of two values, then relu."""
    row = _convert(PositionShift(), "traced")["first"]
    assert (row.activation, row.source) == ("relu", "traced"), row.detail
