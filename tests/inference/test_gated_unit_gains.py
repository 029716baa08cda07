"""A gated unit's layer gets the gain of the product's law, and the mean-field maths sees it as
the linear map of the same second moment.

docs/convert.md, "Gated units": for ``phi_a(a) * phi_b(b)`` with independent Gaussian halves,
E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2], so the gain is g_a g_b, each half's derived
gain 1 / sqrt(E[phi(z)^2]). A linear half b has E[b^2] = 1 for b ~ N(0, 1): g = 1. So GLU
(``v * sigmoid(g)``, ``F.glu``, ``nn.GLU``; Dauphin et al. 2017) has the gain 1 / sqrt(E[sigmoid(z)^2])
and SwiGLU (Shazeer 2020) 1 / sqrt(E[silu(z)^2]), for both layers of a two-layer unit.

initconv/_inference/elementwise.py (``gated``): the unit's function "for the mean-field maths, is
the linear map of the same second moment", phi(x) = x / g. The critical scheme's chi_1 = 1 needs
sigma_w^2 E[phi'(z)^2] = 1; phi' = 1 / g, so sigma_w = g at every q: a positively homogeneous
function, whose one critical point is bias_std = 0 (docs: "relu has one only at bias_std=0.0"). The
critical scheme at bias_std = 0 therefore gives a gated layer the gain g too.

The expected gains come from mpmath at 30 digits; initconv's quadrature is good to 1e-12 relative
on E[phi^2] (docs/guarantees.md), 5e-13 on a gain and 1e-12 on a product of two; the tests allow
1e-10. The critical line's homogeneous case is sqrt(1 / E[phi'^2]) of the same quadrature: the same
allowance.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from _reference_theory import mp_sigmoid, mpmath_gain
from torch import Tensor, nn

from initconv import ConversionReport, convert

GAIN_RTOL = 1e-10  # see the module docstring
_INPUT = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))


_HALVES: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "sigmoid": mp_sigmoid,
    "silu": lambda z: z * mp_sigmoid(z),
}


@functools.cache
def _gain(half: str) -> float:
    """1 / sqrt(E[phi(z)^2]), z ~ N(0, 1), by mpmath at 30 digits."""
    return mpmath_gain(_HALVES[half])


class TwoLayerGLU(nn.Module):
    """A value layer times the sigmoid of a gate layer, as in a gated convolutional network."""

    def __init__(self) -> None:
        super().__init__()
        self.value, self.gate, self.out = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.value(x) * torch.sigmoid(self.gate(x)))
        return out


class OneLayerGLU(nn.Module):
    """One layer of twice the width, split in two by F.glu or nn.GLU."""

    def __init__(self, as_module: bool) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 8)
        self.glu = nn.GLU(dim=-1) if as_module else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.proj(x)
        out: Tensor = self.out(self.glu(y) if self.glu is not None else F.glu(y, dim=-1))
        return out


class SwiGLU(nn.Module):
    """One layer's two halves: silu(a) * b (LLaMA's MLP, with the halves in one layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj, self.out = nn.Linear(8, 16), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.proj(x).chunk(2, dim=-1)
        out: Tensor = self.out(F.silu(a) * b)
        return out


def _convert(model: nn.Module, mode: str, scheme: str = "kaiming_normal") -> ConversionReport:
    """convert(reinit=False); a fallback or a critical-line warning would be an error here."""
    options: dict[str, Any] = {"bias_std": 0.0} if scheme == "critical" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        if mode == "run":
            return convert(model, scheme, reinit=False, example_inputs=_INPUT, **options)
        return convert(model, scheme, reinit=False, **options)


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_both_layers_of_a_two_layer_glu_get_the_sigmoid_halfs_gain(mode: str) -> None:
    report = _convert(TwoLayerGLU(), mode)
    for name in ("value", "gate"):
        row = report[name]
        assert (row.source, row.activation) == (mode, "glu"), (name, row.detail)
        assert row.gain == pytest.approx(_gain("sigmoid"), rel=GAIN_RTOL), name


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("as_module", [False, True], ids=["F.glu", "nn.GLU"])
def test_a_layer_split_by_glu_gets_the_sigmoid_halfs_gain(as_module: bool, mode: str) -> None:
    row = _convert(OneLayerGLU(as_module), mode)["proj"]
    assert (row.source, row.activation) == (mode, "glu"), row.detail
    assert row.gain == pytest.approx(_gain("sigmoid"), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_swiglu_layer_gets_the_silu_halfs_gain(mode: str) -> None:
    row = _convert(SwiGLU(), mode)["proj"]
    assert (row.source, row.activation) == (mode, "swiglu"), row.detail
    assert row.gain == pytest.approx(_gain("silu"), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("model", [SwiGLU, TwoLayerGLU], ids=["swiglu", "glu"])
def test_the_critical_scheme_gives_a_gated_layer_its_gain_at_zero_bias(
    model: Callable[[], nn.Module], mode: str
) -> None:
    report = _convert(model(), mode, scheme="critical")
    half = "silu" if model is SwiGLU else "sigmoid"
    gated = [row for row in report if row.activation in ("swiglu", "glu")]
    assert gated, [(row.name, row.activation, row.detail) for row in report]
    for row in gated:
        assert row.gain == pytest.approx(_gain(half), rel=GAIN_RTOL), row.name
    assert report["out"].gain == pytest.approx(1.0, rel=GAIN_RTOL)
