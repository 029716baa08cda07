"""The formula convert() shows for an activation written out has parentheses only where needed.

docs/convert.md, "An activation is what it does": a phi that equals no built-in is shown "as a
formula (``x * sigmoid(1.702 * x)``)", written as Python writes it. Python's own printer,
``ast.unparse``, puts parentheses exactly where precedence and associativity need them (``**``
before ``*`` and ``/``, which come before ``+`` and ``-``, each left to right); a label that
``ast.unparse`` prints back unchanged has no needless parentheses, and keeps every needed one
(tests/inference/test_formula_labels.py reads each label back as the model's function). The
cases here put, on the right of a ``-``, ``/`` or of the product in torch's deprecated
``torch.add(h, c, other)`` (``h + c * other``), an operand of higher precedence (needing none)
and one of the same precedence (needing them).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest
import torch
from _support import Between, convert_warned
from torch import Tensor

MODES = ["traced", "run"]

FORMULAS = [
    pytest.param(lambda h: h - 2.0 * torch.tanh(h), id="x-2*tanh"),
    pytest.param(lambda h: torch.tanh(h) - (h - 1.0), id="tanh-(x-1)"),
    pytest.param(lambda h: h / torch.exp(h) ** 2, id="x/exp**2"),
    pytest.param(lambda h: torch.tanh(h) / (2.0 * torch.exp(h)), id="tanh/(2*exp)"),
    pytest.param(lambda h: torch.add(h, 2.0, torch.tanh(h) ** 2), id="add(x,2,tanh**2)"),
    pytest.param(lambda h: torch.add(h, 2.0, torch.tanh(h) * h), id="add(x,2,tanh*x)"),
]


@pytest.mark.filterwarnings("ignore:This overload of add is deprecated:UserWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("phi", FORMULAS)
def test_the_formula_shown_is_as_python_prints_it(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    report, _ = convert_warned(Between(phi), mode)
    row = report["fc"]
    assert row.source == mode, row.detail
    label = row.activation
    assert label is not None
    assert "x" in label, label  # a formula, not a built-in's name
    assert label == ast.unparse(ast.parse(label, mode="eval"))
