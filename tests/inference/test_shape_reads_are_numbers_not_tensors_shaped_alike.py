"""``reads_size`` tells a number read from a tensor's shape from a tensor shaped like it.

Its promise (initconv/_inference/roles.py): ``y.shape``, ``y.size(-1)``, ``y.numel()`` and
``y.dim()`` read a number from y's shape, a constant of a value a trace does not know; a tensor
made like y (``torch.empty_like(y)``, ``torch.rand_like(y)``, ``y.new_empty(...)``) reads y's
shape too but is a tensor, no such number, in either spelling (a torch function or a method).
A noise tensor taken for a number read from a shape made convert() report "c is read from a
shape" for ``tanh(h * torch.rand_like(h))``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, fx

from initconv._inference.roles import reads_size

NUMBERS: dict[str, Callable[[Tensor], object]] = {
    "size(-1)": lambda y: y.size(-1),
    "numel()": lambda y: y.numel(),
    "dim()": lambda y: y.dim(),
}
TENSORS: dict[str, Callable[[Tensor], object]] = {
    "torch.empty_like": torch.empty_like,
    "torch.rand_like": torch.rand_like,
    "torch.randn_like": torch.randn_like,
    "new_empty": lambda y: y.new_empty((2, 3)),
}


def _last_call(step: Callable[[Tensor], object]) -> fx.Node:
    graph = fx.symbolic_trace(lambda y: step(y)).graph
    calls: list[fx.Node] = [n for n in graph.nodes if n.op in ("call_function", "call_method")]
    return calls[-1]


@pytest.mark.parametrize("step", NUMBERS.values(), ids=NUMBERS.keys())
def test_a_number_read_from_the_shape_is_a_size_read(step: Callable[[Tensor], object]) -> None:
    assert reads_size(_last_call(step))


@pytest.mark.parametrize("step", TENSORS.values(), ids=TENSORS.keys())
def test_a_tensor_shaped_like_another_is_no_size_read(step: Callable[[Tensor], object]) -> None:
    assert not reads_size(_last_call(step))
