"""The formula convert() shows for an activation written out is that activation.

docs/convert.md, "An activation is what it does": a phi that equals no built-in is shown "as a
formula (``x * sigmoid(1.702 * x)``)". A formula is read with the usual precedence (``**`` before
``*`` and ``/``, which come before ``+`` and ``-``, each left to right), so the label must put
parentheses where the computation needs them: ``(tanh(x) * 2) ** 2`` is not ``tanh(x) * 2 ** 2``,
and ``relu(x) / (2 * sigmoid(x))`` is not ``relu(x) / 2 * sigmoid(x)``; ``torch.sub(x, 1,
alpha=2)`` is ``x - 2 * 1``. Here each label is read
back as a Python expression of x (its function names bound to torch's) and compared with the
model's own function on a grid.

The constants of these formulas have at most 6 significant digits, which the label keeps exactly,
so the label and the model compute the same float64 operations, perhaps in another order
(``x * 0.5`` and ``0.5 * x``): a few ulps apart. rtol = atol = 1e-12 is 4,500 ulps at 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
from _support import Between
from torch import Tensor

from initconv import convert

_INPUT = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
_GRID = torch.linspace(-4.0, 4.0, 801, dtype=torch.float64)
# The function names a label may use, as torch computes them.
_NAMES: dict[str, object] = {
    name: getattr(torch, name)
    for name in ("relu", "sigmoid", "tanh", "exp", "abs", "erf", "log", "neg")
}


FORMULAS = [
    pytest.param(lambda y: torch.relu(y) / (2.0 * torch.sigmoid(y)), id="relu/(2*sigmoid)"),
    pytest.param(lambda y: (torch.tanh(y) * 2.0) ** 2, id="(tanh*2)**2"),
    pytest.param(lambda y: y * torch.sigmoid(1.702 * y), id="quick-gelu"),
    pytest.param(lambda y: torch.tanh(y) / (1.5 * (y * y + 1.0)), id="tanh/(1.5*(x*x+1))"),
    pytest.param(lambda y: (torch.sigmoid(y) - 0.5) * (3.0 - torch.tanh(y)), id="products-of-sums"),
    pytest.param(lambda y: torch.exp(-((y * 0.5) ** 2)) * y, id="exp(-(x*0.5)**2)*x"),
    pytest.param(lambda y: y * (0.5 * torch.tanh(y)) - (torch.tanh(y) - 1.0), id="x*(c*t)-(t-1)"),
    # torch's add and sub scale the second operand by alpha: x - 2 * 1, x + -2 * 1.
    pytest.param(lambda y: torch.tanh(torch.sub(y, 1.0, alpha=2.0)), id="sub-alpha"),
    pytest.param(lambda y: torch.tanh(y.add(1.0, alpha=-2.0)), id="add-alpha"),
    pytest.param(lambda y: torch.sigmoid(torch.add(y, other=0.5)) * y, id="add-other"),
    # Both operands by keyword (once an IndexError in convert()).
    pytest.param(lambda y: torch.add(input=y, other=torch.tanh(y)), id="add-input-other"),
    pytest.param(
        lambda y: torch.sub(input=y, other=torch.tanh(y), alpha=2.0), id="sub-input-other-alpha"
    ),
]


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("phi", FORMULAS)
def test_the_formula_shown_computes_the_activation(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        inputs = _INPUT if mode == "run" else None
        row = convert(Between(phi), reinit=False, example_inputs=inputs)["fc"]
    assert row.source == mode, row.detail
    label = str(row.activation)
    shown = eval(compile(label, "<label>", "eval"), {"__builtins__": {}}, {**_NAMES, "x": _GRID})
    torch.testing.assert_close(shown, phi(_GRID), rtol=1e-12, atol=1e-12, msg=label)
