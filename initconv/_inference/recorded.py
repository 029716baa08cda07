"""Run-time inference: the rule applied to what a forward pass on an example input executes.

The forward runs on a deep copy of the model, without gradients, with every random state put
back afterwards (``copies``). A ``TorchFunctionMode`` records each torch function, tensor
method and operator called, and forward hooks record each call of a leaf module (a weight layer,
a built-in activation, a norm that runs torch's own forward) as one step; the record is a
``torch.fx`` graph in which each tensor is the node that produced it (an in-place operation
makes a new node for the same tensor). :class:`initconv._inference.rule.GraphWalk` applies the rule to it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from initconv._inference.copies import preserved_rng, working_copy
from initconv._inference.roles import is_leaf, is_meta
from initconv._inference.rule import GraphWalk, Inference, combine

__all__: list[str] = []

# Python operators on tensors, as the method they apply (reflected forms included).
_OPERATORS = {
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add_",
    "__sub__": "sub",
    "__rsub__": "sub",
    "__isub__": "sub_",
    "__mul__": "mul",
    "__rmul__": "mul",
    "__imul__": "mul_",
    "__truediv__": "div",
    "__itruediv__": "div_",
    "__div__": "div",
    "__matmul__": "matmul",
    "__rmatmul__": "matmul",
    "__getitem__": "getitem",
    "__setitem__": "setitem",
    "__neg__": "neg",
    "__gt__": "gt",
    "__lt__": "lt",
    "__ge__": "ge",
    "__le__": "le",
    "__eq__": "eq",
    "__ne__": "ne",
}
_TENSOR_CLASSES = frozenset({"Tensor", "TensorBase", "_TensorBase"})


def _operation(func: Any) -> tuple[str, Any]:
    """An fx ``(op, target)`` for a function the mode saw: a method by name, else the function."""
    name = getattr(func, "__name__", None)
    if name == "__get__":  # a property of the tensor, such as .shape
        return "call_method", str(getattr(getattr(func, "__self__", None), "__name__", name))
    owner = str(getattr(func, "__qualname__", "")).split(".")[0]
    if isinstance(name, str) and (getattr(Tensor, name, None) is func or owner in _TENSOR_CLASSES):
        return "call_method", _OPERATORS.get(name, name)
    return "call_function", func


def _tensors(value: Any) -> list[Tensor]:
    return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, Tensor)]


class _Recorder(TorchFunctionMode):
    """Records a forward pass as an fx graph of the values that flow from the inputs."""

    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.graph = fx.Graph()
        self.names = names
        self.nodes: dict[int, fx.Node] = {}
        self.alive: list[object] = []  # every recorded tensor, so that no id() is reused
        self.depth = 0
        self.pending: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def bind(self, value: Any, node: fx.Node) -> None:
        for tensor in _tensors(value):
            self.nodes[id(tensor)] = node
            self.alive.append(tensor)

    def arg(self, value: Any) -> Any:
        def convert(leaf: Any) -> Any:
            if isinstance(leaf, Tensor):
                node = self.nodes.get(id(leaf))
                return node if node is not None else "<tensor>"
            return leaf

        return pytree.tree_map(convert, value)

    def tracked(self, value: Any) -> bool:
        return any(id(tensor) in self.nodes for tensor in _tensors(value))

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth or not self.tracked((args, kwargs)):
            return out
        op, target = _operation(func)
        if is_meta(op, target):
            return out
        if op == "call_method" and target == "__iter__":
            elements = list(out)
            node = self.graph.create_node(op, "unbind", (self.arg(args[0]),))
            self.bind(elements, node)
            return iter(elements)
        node = self.graph.create_node(op, target, self.arg(args), self.arg(kwargs))
        self.bind(out, node)
        # An in-place operation (and a setitem, which returns nothing) makes a new value of the
        # tensor it writes to; later reads of that tensor read the new node.
        written = [args[0]] if args and (out is args[0] or target == "setitem") else []
        written += [kwargs["out"]] if isinstance(kwargs.get("out"), Tensor) else []
        self.bind(written, node)
        return out

    def enter(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.depth += 1
        self.pending.append((args, kwargs))

    def leave(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
    ) -> None:
        inputs, keywords = self.pending.pop()
        self.depth -= 1
        if self.depth or not self.tracked((inputs, keywords)):
            return
        name = self.names[id(module)]
        node = self.graph.create_node("call_module", name, self.arg(inputs), self.arg(keywords))
        self.bind(out, node)


def record(model: nn.Module, inputs: tuple[Any, ...]) -> tuple[nn.Module, fx.Graph]:
    """The graph of one forward pass of a copy of ``model`` on ``inputs``, and the copy."""
    duplicate = working_copy(model)
    names = {id(module): name for name, module in duplicate.named_modules()}
    recorder = _Recorder(names)
    handles = []
    for module in duplicate.modules():
        if is_leaf(module):
            handles.append(module.register_forward_pre_hook(recorder.enter, with_kwargs=True))
            handles.append(module.register_forward_hook(recorder.leave, with_kwargs=True))
    copied = pytree.tree_map(lambda v: v.clone() if isinstance(v, Tensor) else v, inputs)
    for index, tensor in enumerate(_tensors(copied)):
        recorder.bind(tensor, recorder.graph.placeholder(f"input_{index}"))
    with preserved_rng(model), torch.no_grad(), recorder:
        out = duplicate(*copied)
    recorder.graph.output(recorder.arg(out))
    for handle in handles:
        handle.remove()
    return duplicate, recorder.graph


def run(model: nn.Module, inputs: tuple[Any, ...], wanted: Collection[str]) -> dict[str, Inference]:
    """The outcome of every wanted layer that the forward pass on ``inputs`` called."""
    duplicate, graph = record(model, inputs)
    walk = GraphWalk(duplicate)
    found: dict[str, list[Inference]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and node.target in wanted:
            outcome = walk.consumers(node) or Inference(
                None, "nothing the example run recorded used its output"
            )
            found.setdefault(str(node.target), []).append(outcome)
    return {name: combine(outcomes) for name, outcomes in found.items()}
