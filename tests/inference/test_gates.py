"""Gated units: a product of two different values gets the gain of its law,
E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2] for independent Gaussian halves, so the
gain is g_a g_b, each the derived gain of its half (Dauphin et al. 2017; Shazeer 2020).

Before: a run read ``a * sigmoid(b)`` of one layer's chunks as ``x * sigmoid(x)``, "silu", with
no warning; the trace fell back.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import ConversionReport, convert
from initconv._maths.derived_gain import derived_gain

MODES = ("traced", "run")


def _moment_gain(phi: Callable[[Tensor], Tensor]) -> float:
    return derived_gain("half", phi)


class GatedUnit(nn.Module):
    """One linear layer, its output split in two halves, ``left(a) * right(b)``, then a linear
    layer."""

    def __init__(self, left: Callable[[Tensor], Tensor], right: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 16)
        self.out = nn.Linear(8, 8)
        self.left, self.right = left, right

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.proj(x).chunk(2, dim=-1)
        return self.out(self.left(a) * self.right(b))  # type: ignore[no-any-return]


class TwoLayerSwiGLU(nn.Module):
    """LLaMA's MLP: down(silu(gate(x)) * up(x))."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(8, 16), nn.Linear(8, 16), nn.Linear(16, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))  # type: ignore[no-any-return]


def _convert(model: nn.Module, mode: str) -> ConversionReport:
    options = {"example_inputs": torch.randn(4, 8)} if mode == "run" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback, no warning
        return convert(model, reinit=False, **options)  # type: ignore[arg-type]


def _identity(x: Tensor) -> Tensor:
    return x


@pytest.mark.parametrize(
    ("left", "right", "name", "gain"),
    [
        (_identity, torch.sigmoid, "glu", _moment_gain(torch.sigmoid)),
        (F.gelu, _identity, "geglu", _moment_gain(F.gelu)),
        (F.silu, _identity, "swiglu", _moment_gain(F.silu)),
        (torch.tanh, torch.sigmoid, "gated(sigmoid, tanh)", 0.0),
    ],
    ids=["glu", "geglu", "swiglu", "tanh-sigmoid"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_gated_unit_of_one_layers_halves_gets_the_gain_of_its_law(
    left: Callable[[Tensor], Tensor],
    right: Callable[[Tensor], Tensor],
    name: str,
    gain: float,
    mode: str,
) -> None:
    report = _convert(GatedUnit(left, right), mode)
    row = report["proj"]
    assert (row.activation, row.source) == (name, mode), row.detail
    expected = gain or _moment_gain(torch.tanh) * _moment_gain(torch.sigmoid)
    assert math.isclose(row.gain or 0.0, expected, rel_tol=1e-9)
    assert report["out"].activation == "linear"


def test_the_glu_gain_is_one_over_the_root_of_the_sigmoids_second_moment() -> None:
    # E[sigmoid(z)^2] = 0.29338..., by quadrature to 1e-12: 1 / sqrt of it.
    row = _convert(GatedUnit(_identity, torch.sigmoid), "traced")["proj"]
    assert math.isclose(row.gain or 0.0, 1.8462, abs_tol=5e-5)


@pytest.mark.parametrize("mode", MODES)
def test_both_layers_of_a_two_layer_swiglu_get_the_swiglu_gain(mode: str) -> None:
    report = _convert(TwoLayerSwiGLU(), mode)
    for name in ("gate", "up"):
        assert (report[name].activation, report[name].source) == ("swiglu", mode)
        assert math.isclose(report[name].gain or 0.0, _moment_gain(F.silu), rel_tol=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_torchs_own_glu_is_a_gated_unit(mode: str) -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.GLU(), nn.Linear(8, 8))
    row = _convert(model, mode)["0"]
    assert (row.activation, row.source) == ("glu", mode)
    assert _convert(FunctionalGLU(), mode)["proj"].activation == "glu"


class FunctionalGLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(F.glu(self.proj(x), dim=-1))  # type: ignore[no-any-return]


class GatedThenActivated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.proj(x).chunk(2, dim=-1)
        return self.out(torch.tanh(F.silu(a) * b))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_a_gated_unit_followed_by_another_nonlinearity_is_a_warned_fallback(mode: str) -> None:
    options = {"example_inputs": torch.randn(4, 8)} if mode == "run" else {}
    with pytest.warns(UserWarning, match=r"could not be inferred \(proj\)"):
        report = convert(GatedThenActivated(), reinit=False, **options)  # type: ignore[arg-type]
    assert "is followed by" in report["proj"].detail
