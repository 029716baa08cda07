"""The formula convert() shows for an add or sub that scales its second operand is that function,
with parentheses only where Python needs them.

docs/convert.md, "An activation is what it does": a phi that equals no built-in is shown "as a
formula (``x * sigmoid(1.702 * x)``)". torch documents ``torch.add(input, other, alpha=a)`` as
``input + a * other`` (``torch.sub`` as ``input - a * other``), and its deprecated
``torch.add(input, value, other)`` as ``input + value * other``. The scale may itself be computed
from the layer's values where they are a single number: a layer with one output feature, squeezed
to a scalar, whose 0-dim value torch takes as a Number (under ``no_grad``, as convert runs a model).
So ``torch.add(h, h * 2, tanh(h))`` is phi(x) = x + x * 2 * tanh(x): ``*`` is left-associative,
so the product of the scale ``x * 2`` by the operand needs no parentheses.

Python's own printer, ``ast.unparse``, puts parentheses exactly where precedence and associativity
need them; a label it prints back unchanged has no needless parentheses. Each label is also read
back as a Python expression of x (its function names bound to torch's) and compared with the
function written out on a grid: both compute the same few float64 operations, perhaps in another
order, a few ulps apart; rtol = atol = 1e-12 is 4,500 ulps at 1.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from initconv import convert

_GRID = torch.linspace(-4.0, 4.0, 801, dtype=torch.float64)
_INPUT = torch.randn(8, generator=torch.Generator().manual_seed(0))
_NAMES: dict[str, object] = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}


class ScalarBetween(nn.Module):
    """``phi`` of a one-feature layer's output squeezed to a scalar, then a layer out of it."""

    def __init__(self, phi: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 1), nn.Linear(1, 8)
        self.phi = phi

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.phi(self.fc(x).squeeze()).unsqueeze(0))
        return out


# (the model's phi, the same function written out on any tensor)
SCALED = [
    pytest.param(
        lambda h: torch.add(h, h * 2.0, torch.tanh(h)),
        lambda x: x + x * 2.0 * torch.tanh(x),
        id="add(x,x*2,tanh)",
    ),
    pytest.param(
        lambda h: h.add(torch.tanh(h), alpha=h / 2.0),
        lambda x: x + x / 2.0 * torch.tanh(x),
        id="x.add(tanh,alpha=x/2)",
    ),
    pytest.param(
        lambda h: h.add(torch.sigmoid(h), alpha=torch.tanh(h) * 3.0),
        lambda x: x + torch.tanh(x) * 3.0 * torch.sigmoid(x),
        id="x.add(sigmoid,alpha=tanh*3)",
    ),
]


def _label(phi: Callable[[Tensor], Tensor], mode: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", "This overload of add is deprecated", UserWarning)
        inputs = _INPUT if mode == "run" else None
        row = convert(ScalarBetween(phi), reinit=False, example_inputs=inputs)["fc"]
    assert row.source == mode, row.detail
    assert row.activation is not None
    return row.activation


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize(("phi", "written"), SCALED)
def test_a_scale_computed_from_the_values_is_shown_as_python_prints_it(
    phi: Callable[[Tensor], Tensor], written: Callable[[Tensor], Tensor], mode: str
) -> None:
    label = _label(phi, mode)
    assert label == ast.unparse(ast.parse(label, mode="eval"))
    shown = eval(compile(label, "<label>", "eval"), {"__builtins__": {}}, {**_NAMES, "x": _GRID})
    torch.testing.assert_close(shown, written(_GRID), rtol=1e-12, atol=1e-12, msg=label)


def test_a_sub_with_alpha_is_shown_as_python_prints_it() -> None:
    label = _label(lambda h: torch.sub(h, torch.tanh(h), alpha=2.0), "traced")
    assert label == ast.unparse(ast.parse(label, mode="eval"))
