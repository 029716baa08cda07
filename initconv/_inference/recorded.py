"""Run-time inference: the rule applied to what a forward pass on an example input executes.

The forward runs on a working copy of the model (``copies``: its parameters shared, not
duplicated), without gradients, with every random state put back afterwards. A
``TorchFunctionMode`` records each torch function, tensor method and operator called, and
forward hooks record each call of a leaf module (a weight layer, a built-in activation, a norm
that runs torch's own forward) as one step; the record is a ``torch.fx`` graph in which each
tensor is the node that produced it (an in-place operation makes a new node for the same tensor,
and for the tensor it is a view of). Tensors that do not come from the inputs (parameters,
constants) stay in the record as they are: they are the constants of an activation written out.

A layer used without being called (``F.linear(x, self.qkv.weight)``, the weights an attention
kernel takes) is known by its weight tensor: the weight op it feeds is the layer's call.
:class:`initconv._inference.rule.GraphWalk` applies the rule to the record.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from initconv._inference.copies import WorkingCopy, preserved_rng, working_copy
from initconv._inference.roles import attention_kernel, is_leaf, is_meta, is_weight_module, role
from initconv._inference.rule import GraphWalk, Inference, combine
from initconv._maths.fans import KINDS

__all__: list[str] = []

# Python operators on tensors, as the method they apply.
_OPERATORS = {
    "__add__": "add",
    "__iadd__": "add_",
    "__sub__": "sub",
    "__isub__": "sub_",
    "__mul__": "mul",
    "__imul__": "mul_",
    "__truediv__": "div",
    "__itruediv__": "div_",
    "__div__": "div",
    "__pow__": "pow",
    "__ipow__": "pow_",
    "__matmul__": "matmul",
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
# Reflected operators (``1 - x`` calls ``x.__rsub__(1)``), as the function with the operands in
# their written order.
_REFLECTED = {
    "__radd__": operator.add,
    "__rsub__": operator.sub,
    "__rmul__": operator.mul,
    "__rtruediv__": operator.truediv,
    "__rdiv__": operator.truediv,
    "__rpow__": operator.pow,
    "__rmatmul__": operator.matmul,
}
_TENSOR_CLASSES = frozenset({"Tensor", "TensorBase", "_TensorBase"})


def _operation(func: Any) -> tuple[str, Any, bool]:
    """An fx ``(op, target)`` for a function the mode saw (a method by name, else the
    function), and whether its first two operands are reflected."""
    name = getattr(func, "__name__", None)
    if name == "__get__":  # a property of the tensor, such as .shape
        return "call_method", str(getattr(getattr(func, "__self__", None), "__name__", name)), False
    if name in _REFLECTED:
        return "call_function", _REFLECTED[str(name)], True
    owner = str(getattr(func, "__qualname__", "")).split(".")[0]
    if isinstance(name, str) and (getattr(Tensor, name, None) is func or owner in _TENSOR_CLASSES):
        return "call_method", _OPERATORS.get(name, name), False
    return "call_function", func, False


def _tensors(value: Any) -> list[Tensor]:
    return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, Tensor)]


def _bases(tensor: Tensor) -> list[Tensor]:
    """The tensor and every tensor it is a view of: a write to a view writes to them."""
    found = [tensor]
    while found[-1]._base is not None:
        found.append(found[-1]._base)
    return found


class _Recorder(TorchFunctionMode):
    """Records a forward pass as an fx graph of the values that flow from the inputs."""

    def __init__(
        self, names: dict[int, str], weights: Mapping[int, str], copy: WorkingCopy
    ) -> None:
        super().__init__()
        self.copy = copy
        self.graph = fx.Graph()
        self.names = names
        self.nodes: dict[int, fx.Node] = {}
        self.alive: list[object] = []  # every recorded tensor, so that no id() is reused
        self.depth = 0
        self.pending: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        # Weight tensors of the layers, and tensors computed from them alone (a concatenated
        # qkv weight), by id: the layers whose weights they hold.
        self.weights: dict[int, frozenset[str]] = {
            key: frozenset({name}) for key, name in weights.items()
        }
        # Layers used through their weight: the node of each use, and whether its output is
        # the layer's output (F.linear) or the layer's output is consumed inside it (the q, k,
        # v weights an attention kernel takes).
        self.functional: dict[str, list[tuple[fx.Node, bool]]] = {}

    def bind(self, value: Any, node: fx.Node) -> None:
        tensors = _tensors(value)
        if len(tensors) > 1 and isinstance(value, (tuple, list)):
            # chunk, split, unbind: each part is its own value, one getitem of the node.
            for index, tensor in enumerate(value):
                if isinstance(tensor, Tensor):
                    part = self.graph.create_node("call_function", operator.getitem, (node, index))
                    self.nodes[id(tensor)] = part
                    self.alive.append(tensor)
            return
        for tensor in tensors:
            self.nodes[id(tensor)] = node
            self.alive.append(tensor)

    def arg(self, value: Any) -> Any:
        def convert(leaf: Any) -> Any:
            if isinstance(leaf, Tensor):
                return self.nodes.get(id(leaf), leaf)
            return leaf

        return pytree.tree_map(convert, value)

    def tracked(self, value: Any) -> bool:
        return any(id(tensor) in self.nodes for tensor in _tensors(value))

    def _weight_layers(self, value: Any) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for tensor in _tensors(value):
            found |= self.weights.get(id(tensor), frozenset())
        return found

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        name = str(getattr(func, "__name__", ""))
        if args and isinstance(args[0], Tensor) and (name.endswith("_") or name == "__setitem__"):
            self.copy.before_write(args[0])
        if isinstance(kwargs.get("out"), Tensor):
            self.copy.before_write(kwargs["out"])
        out = func(*args, **kwargs)
        if self.depth:
            return out
        layers = self._weight_layers((args, kwargs))
        if not self.tracked((args, kwargs)):
            if layers:  # a weight reshaped, transposed or concatenated: still those layers'
                for tensor in _tensors(out):
                    self.weights[id(tensor)] = layers
                    self.alive.append(tensor)
            return out
        op, target, reflected = _operation(func)
        if is_meta(op, target) and not self.tracked((args[1:], kwargs)):
            # Reads only its tensor's shape: the result is a constant, unless it is filled with
            # a value computed from the input (full_like(y, y.mean())).
            return out
        if op == "call_method" and target == "__iter__":
            elements = list(out)
            node = self.graph.create_node(op, "unbind", (self.arg(args[0]),))
            self.bind(elements, node)
            return iter(elements)
        ordered = (args[1], args[0], *args[2:]) if reflected and len(args) > 1 else args
        node = self.graph.create_node(op, target, self.arg(ordered), self.arg(kwargs))
        self.bind(out, node)
        # An in-place operation (and a setitem, which returns nothing) makes a new value of the
        # tensor it writes to, and of the tensors that one is a view of; later reads read the
        # new node.
        written = [args[0]] if args and (out is args[0] or target == "setitem") else []
        written += [kwargs["out"]] if isinstance(kwargs.get("out"), Tensor) else []
        for tensor in written:
            for base in _bases(tensor):
                self.nodes[id(base)] = node
                self.alive.append(base)
        if layers:
            self._functional(func, args, kwargs, node, layers)
        return out

    def _functional(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        node: fx.Node,
        layers: frozenset[str],
    ) -> None:
        """Note the layers whose weights ``func`` takes, with whether its output is theirs."""
        output_argument = attention_kernel(func)
        owners: dict[str, bool] = {}
        if output_argument is not None:
            try:
                bound = inspect.signature(func).bind(*args, **kwargs).arguments
            except (TypeError, ValueError):
                bound = {}
            for argument, value in bound.items():
                for layer in self._weight_layers(value):
                    owners[layer] = owners.get(layer, False) or argument == output_argument
        elif role(node, nn.Module()) == "weight":
            owners = dict.fromkeys(layers, True)
        for layer, is_output in owners.items():
            self.functional.setdefault(layer, []).append((node, is_output))

    def enter(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.depth += 1
        self.pending.append((args, kwargs))

    def leave(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
    ) -> None:
        inputs, keywords = self.pending.pop()
        self.depth -= 1
        if self.depth:
            return
        # A weight layer applied to a value that does not come from the inputs (a positional
        # encoding computed from the shape) is still a call whose output the rule follows.
        if not self.tracked((inputs, keywords)) and not is_weight_module(module):
            return
        name = self.names[id(module)]
        node = self.graph.create_node("call_module", name, self.arg(inputs), self.arg(keywords))
        self.bind(out, node)
        if isinstance(module, nn.MultiheadAttention):
            # Its output projection is a layer too, used through its weight inside: its
            # output is the attention's output, the first of (output, weights).
            first = out[0] if isinstance(out, tuple) else out
            projection = f"{name}.out_proj" if name else "out_proj"
            self.functional.setdefault(projection, []).append((self.nodes[id(first)], True))


Inputs = tuple[tuple[Any, ...], dict[str, Any]]


def record(
    model: nn.Module, inputs: Inputs, keep_hooks: bool = False
) -> tuple[nn.Module, fx.Graph, dict[str, list[tuple[fx.Node, bool]]]]:
    """The graph of one forward pass of a copy of ``model`` on ``inputs`` (positional and
    keyword arguments), the copy, and the layers used through their weights."""
    duplicate = working_copy(model, keep_hooks=keep_hooks)
    names = {id(module): name for name, module in duplicate.module.named_modules()}
    weights = {
        id(module.weight): name
        for name, module in duplicate.module.named_modules()
        if isinstance(module, KINDS) and isinstance(getattr(module, "weight", None), Tensor)
    }
    recorder = _Recorder(names, weights, duplicate)
    handles = []
    for module in duplicate.module.modules():
        if is_leaf(module):
            handles.append(module.register_forward_pre_hook(recorder.enter, with_kwargs=True))
            handles.append(module.register_forward_hook(recorder.leave, with_kwargs=True))
    copied = pytree.tree_map(lambda v: v.clone() if isinstance(v, Tensor) else v, inputs)
    for index, tensor in enumerate(_tensors(copied)):
        recorder.bind(tensor, recorder.graph.placeholder(f"input_{index}"))
    positional, keywords = copied
    try:
        with duplicate.guard(), preserved_rng(model), torch.no_grad(), recorder:
            out = duplicate.module(*positional, **keywords)
    finally:
        for handle in handles:
            handle.remove()
    recorder.graph.output(recorder.arg(out))
    return duplicate.module, recorder.graph, recorder.functional


def run(model: nn.Module, inputs: Inputs, wanted: Collection[str]) -> dict[str, Inference]:
    """The outcome of every wanted layer that the forward pass on ``inputs`` called or used
    through its weight."""
    try:
        duplicate, graph, functional = record(model, inputs)
    except Exception as error:  # the user's forward: it may need the hooks it installed
        try:
            duplicate, graph, functional = record(model, inputs, keep_hooks=True)
        except Exception:
            raise error from None
    walk = GraphWalk(duplicate)
    found: dict[str, list[Inference]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and node.target in wanted:
            outcome = walk.consumers(node) or Inference(
                None, "nothing the example run recorded used its output"
            )
            found.setdefault(str(node.target), []).append(outcome)
    for name, uses in functional.items():
        if name not in wanted or name in found:
            continue
        for node, is_output in uses:
            label = walk.label(node)
            if is_output:
                outcome = walk.consumers(node) or Inference("linear", f"{label}, unused")
                outcome = Inference(outcome.spec, f"its weight used by {label} > {outcome.detail}")
            else:
                outcome = Inference("linear", f"its weight used inside the weight op {label}")
            found.setdefault(name, []).append(outcome)
    return {name: combine(outcomes) for name, outcomes in found.items()}
