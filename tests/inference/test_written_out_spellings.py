"""An activation written out is what it computes, however its steps are spelled.

docs/convert.md, "An activation is what it does": from a layer's output, the maximal region of
elementwise steps (built-in activations, arithmetic, ``tanh``, ``exp``, ``erf``, ...) is one
function phi, whose gain is ``1 / sqrt(E[phi(z)^2])``, z ~ N(0, 1), and which keeps a built-in's
name where it equals one. A user spells those steps as torch functions (``torch.erf(x)``), tensor
methods (``x.erf()``) or in-place methods (``x.erf_()``), and puts steps that hand every element
back (``.float()``, ``.reshape(-1, d)``, ``.contiguous()``) inside the formula; none of this changes
phi. ``x * sigmoid(x)`` has no weight layer and no reduction, so it is no squeeze-excite gate of x
but the activation silu (initconv/_inference/gates.py, the rule's ``strict`` branch).

The expected gains are derived here, independently of initconv: E[phi(z)^2] by mpmath's
quadrature at 30 digits. initconv's quadrature has a stated relative tolerance of 1e-12 on
E[phi(z)^2] (docs/guarantees.md), so its gain E^(-1/2) is within 5e-13 relative to first order;
the tests allow 1e-10, a factor 200 over that for the error estimate being only an estimate.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from _reference_theory import mp_sigmoid, mpmath_gain
from torch import Tensor, nn

from initconv import ConversionRow, convert

MODES = ("traced", "run")
GAIN_RTOL = 1e-10  # see the module docstring


# The functions whose gains the tests expect, as mpmath sees them.
PHI: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "gelu": lambda z: z * mpmath.ncdf(z),
    "softplus": lambda z: mpmath.log1p(mpmath.exp(z)),
    "silu": lambda z: z * mp_sigmoid(z),
    "quick_gelu": lambda z: z * mp_sigmoid(mpmath.mpf("1.702") * z),
}


@functools.cache
def _gain(name: str) -> float:
    """1 / sqrt(E[phi(z)^2]), z ~ N(0, 1), by mpmath at 30 digits; computed when first needed."""
    return mpmath_gain(PHI[name])


class Written(nn.Module):
    """A linear layer, an activation written out by ``act``, and the next linear layer."""

    def __init__(self, act: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.act(self.fc(x)))
        return out


def _gelu_functions(y: Tensor) -> Tensor:
    return 0.5 * y * (1.0 + torch.erf(y / math.sqrt(2.0)))


def _gelu_methods(y: Tensor) -> Tensor:
    return 0.5 * y * (1.0 + (y / math.sqrt(2.0)).erf())


def _gelu_in_place(y: Tensor) -> Tensor:
    t = (y / math.sqrt(2.0)).erf_()
    return 0.5 * y * (1.0 + t)


def _softplus_methods(y: Tensor) -> Tensor:
    return (y.exp() + 1.0).log()


def _softplus_in_place(y: Tensor) -> Tensor:
    return (y.exp() + 1.0).log_()


def _swish_functions(y: Tensor) -> Tensor:
    return y * torch.sigmoid(y)


def _swish_methods(y: Tensor) -> Tensor:
    return y.mul(y.sigmoid())


def _quick_gelu_on_a_cast(y: Tensor) -> Tensor:
    z = y.float()
    return z * torch.sigmoid(1.702 * z)


def _quick_gelu_on_a_reshape(y: Tensor) -> Tensor:
    z = y.reshape(-1, 8)
    return z * torch.sigmoid(1.702 * z)


def _quick_gelu_with_a_copy_inside(y: Tensor) -> Tensor:
    return y * torch.sigmoid(1.702 * y).contiguous()


NAMED = [
    pytest.param(_gelu_functions, "gelu", id="gelu-torch.erf"),
    pytest.param(_gelu_methods, "gelu", id="gelu-x.erf()"),
    pytest.param(_gelu_in_place, "gelu", id="gelu-x.erf_()"),
    pytest.param(_softplus_methods, "softplus", id="softplus-x.exp().log()"),
    pytest.param(_softplus_in_place, "softplus", id="softplus-x.log_()"),
    pytest.param(_swish_functions, "silu", id="silu-x*torch.sigmoid(x)"),
    pytest.param(_swish_methods, "silu", id="silu-x.mul(x.sigmoid())"),
]
UNNAMED = [
    pytest.param(_quick_gelu_on_a_cast, id="x.float()"),
    pytest.param(_quick_gelu_on_a_reshape, id="x.reshape(-1,8)"),
    pytest.param(_quick_gelu_with_a_copy_inside, id="sigmoid(...).contiguous()"),
]


def _row(act: Callable[[Tensor], Tensor], mode: str) -> ConversionRow:
    """The first layer's row; a fallback would warn, and the warning is an error here."""
    inputs = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        if mode == "run":
            report = convert(Written(act), reinit=False, example_inputs=inputs)
        else:
            report = convert(Written(act), reinit=False)
    return report["fc"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("act", "name"), NAMED)
def test_a_built_in_written_with_methods_functions_or_in_place_steps_keeps_its_name(
    act: Callable[[Tensor], Tensor], name: str, mode: str
) -> None:
    row = _row(act, mode)
    assert (row.source, row.activation) == (mode, name), row.detail
    assert row.gain == pytest.approx(_gain(name), rel=GAIN_RTOL)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("act", UNNAMED)
def test_casts_reshapes_and_copies_inside_a_formula_leave_its_gain_unchanged(
    act: Callable[[Tensor], Tensor], mode: str
) -> None:
    """CLIP's quick-GELU ``x * sigmoid(1.702 x)`` equals no built-in: its own derived gain."""
    row = _row(act, mode)
    assert row.source == mode, row.detail
    assert row.gain == pytest.approx(_gain("quick_gelu"), rel=GAIN_RTOL)
