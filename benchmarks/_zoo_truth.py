"""The ground truth of the zoo benchmark: the inference rule applied to a record of the aten
operators a forward pass runs, without initconv's inference.

A ``TorchDispatchMode`` records every aten operator with the tensors that flow into and out of it
(an in-place operator makes a new value of its tensor); forward hooks give each layer's output.
The rule (docs/convert.md) is then read off the record at the operator level: activations,
weight operators, pass-throughs, statistics, gates.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import initconv


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- The ground truth: the rule on a record of aten operators --------------------------------

_WEIGHT = _names(
    "convolution _convolution mm addmm bmm baddbmm matmul linear "
    "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_efficient_attention "
    "_scaled_dot_product_flash_attention scaled_dot_product_attention "
    "_scaled_dot_product_attention_math _native_multi_head_attention"
)
_STATISTIC = _names(
    "mean sum amax amin var std var_mean std_mean pow sqrt rsqrt abs reciprocal clamp clamp_min "
    "_adaptive_avg_pool2d adaptive_max_pool2d avg_pool2d max_pool2d_with_indices linalg_vector_norm "
    "norm"
)
_PASS = _names(
    "view _unsafe_view reshape permute transpose t expand clone contiguous slice select "
    "unsqueeze squeeze split split_with_sizes unbind chunk cat stack add add_ sub sub_ mul mul_ "
    "div div_ neg mean sum amax amin max_pool2d_with_indices max_pool1d_with_indices avg_pool2d "
    "avg_pool1d _adaptive_avg_pool2d adaptive_max_pool2d native_batch_norm "
    "_native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm constant_pad_nd "
    "reflection_pad2d replication_pad2d upsample_nearest2d upsample_bilinear2d "
    "_upsample_nearest_exact2d _upsample_bilinear2d_aa pixel_shuffle pixel_unshuffle "
    "channel_shuffle native_dropout alias detach _to_copy copy_ roll flip im2col col2im "
    "as_strided as_strided_ narrow lift_fresh index_select unfold"
)
# Operators whose first output alone carries the values (the rest are statistics or indices).
_FIRST_OUTPUT = _names(
    "native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm "
    "max_pool2d_with_indices max_pool1d_with_indices native_dropout adaptive_max_pool2d"
)
_META = _names("empty_like zeros_like ones_like new_empty new_zeros new_ones sym_size")
_STEERING = _names(
    "gt lt ge le eq ne any all isnan isinf isfinite abs sum mean amax amin max min "
    "_local_scalar_dense is_nonzero"
)
Value = tuple[int, int]  # (operator index, output position)


def _activation(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The initconv spec of an aten activation operator, or ``None``."""
    base = name.rstrip("_")
    if base in ("relu", "silu", "hardswish", "sigmoid", "tanh", "mish", "hardsigmoid", "selu"):
        return base
    if base == "gelu":
        return "gelu_tanh" if kwargs.get("approximate", "none") == "tanh" else "gelu"
    if base == "leaky_relu":
        return nn.LeakyReLU(float(args[1]) if len(args) > 1 else 0.01)
    if base == "hardtanh":
        low, high = (list(args[1:3]) + [-1.0, 1.0][len(args[1:3]) :])[:2]
        return "relu6" if (low, high) == (0, 6) else nn.Hardtanh(float(low), float(high))
    if base == "elu":
        alpha = float(args[1]) if len(args) > 1 else 1.0
        scale = float(args[2]) if len(args) > 2 else 1.0
        return nn.ELU(alpha) if scale == 1.0 else ("selu" if abs(scale - 1.0507) < 1e-3 else None)
    if base == "celu":
        return nn.CELU(float(args[1]) if len(args) > 1 else 1.0)
    if base == "softplus":
        return nn.Softplus(*(float(a) for a in args[1:3]))
    if base == "clamp_min" and len(args) > 1 and args[1] == 0:
        return "relu"
    if base == "_prelu_kernel" and args[1].numel() == 1:
        return nn.LeakyReLU(float(args[1].reshape(())))
    return None


class _Op:
    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs
        self.inputs: list[Value | None] = []  # per tensor argument, in order
        self.outputs: list[Value] = []


class _AtenRecord(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[_Op] = []
        self.producer: dict[int, Value] = {}
        self.keep: list[Tensor] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = _Op(func.overloadpacket.__name__, args, kwargs)
        op.inputs = [
            self.producer.get(id(t))
            for t in pytree.tree_leaves((args, kwargs))
            if isinstance(t, Tensor)
        ]
        index = len(self.ops)
        self.ops.append(op)
        for position, tensor in enumerate(
            t for t in pytree.tree_leaves(out) if isinstance(t, Tensor)
        ):
            self.producer[id(tensor)] = (index, position)
            op.outputs.append((index, position))
            self.keep.append(tensor)
        return out


class _Truth:
    """The rule on an aten record."""

    def __init__(self, record: _AtenRecord, outputs: set[Value]) -> None:
        self.ops = record.ops
        self.outputs = outputs
        self.users: dict[Value, list[int]] = {}
        for index, op in enumerate(self.ops):
            for value in op.inputs:
                if value is not None:
                    self.users.setdefault(value, []).append(index)
        self.memo: dict[Value, tuple[str, Any]] = {}

    def _values(self, index: int) -> list[Value]:
        op = self.ops[index]
        return op.outputs[:1] if op.name in _FIRST_OUTPUT else op.outputs

    def _steers(self, index: int, depth: int = 0) -> bool:
        op = self.ops[index]
        if op.name not in _STEERING or depth > 12:
            return False
        values = self._values(index)
        return all(
            self._steers(user, depth + 1) for v in values for user in self.users.get(v, [])
        ) and not any(v in self.outputs for v in values)

    def _main(self, value: Value) -> set[Value]:
        found, frontier = {value}, [value]
        while frontier and len(found) < 64:
            for user in self.users.get(frontier.pop(), []):
                if self.ops[user].name in _PASS and self.ops[user].name not in _STATISTIC:
                    for v in self._values(user):
                        if v not in found:
                            found.add(v)
                            frontier.append(v)
        return found

    def _derived(self, value: Value, source: Value) -> bool:
        frontier, seen = [value], set()
        while frontier and len(seen) < 64:
            v = frontier.pop()
            if v == source:
                return True
            if v not in seen:
                seen.add(v)
                frontier.extend(i for i in self.ops[v[0]].inputs if i is not None)
        return False

    def _ends_gate(self, index: int, branch: Value, main: set[Value]) -> bool:
        op = self.ops[index]
        if len(op.inputs) < 2:
            return False
        first, second = op.inputs[:2]
        base = op.name.rstrip("_")
        if branch in main:
            return False
        if base == "mul":
            other = second if first == branch else first
            return branch in (first, second) and other != branch and other in main
        if base in ("div", "sub"):
            return second == branch and first in main
        return False

    def _is_gate(self, source: Value, start: int) -> bool:
        main = self._main(source)
        frontier = [(start, source)]
        seen: set[int] = set()
        ended = substantial = False
        while frontier:
            index, came_from = frontier.pop()
            if index != start and self._ends_gate(index, came_from, main):
                ended = True
                continue
            if index in seen:
                continue
            seen.add(index)
            op = self.ops[index]
            act = _activation(op.name, op.args, op.kwargs) is not None
            if len(seen) > 64 or not (
                op.name in _STATISTIC or op.name in _WEIGHT or op.name in _PASS or act
            ):
                return False
            values = self._values(index)
            if any(v in self.outputs for v in values):
                return False
            substantial = (
                substantial
                or op.name in _STATISTIC
                or op.name in _WEIGHT
                or any(
                    v is not None
                    and v != came_from
                    and v[0] not in seen
                    and self._derived(v, source)
                    for v in op.inputs
                )
            )
            nexts = [(user, v) for v in values for user in self.users.get(v, [])]
            if not nexts:
                return False
            frontier.extend(nexts)
        return ended and substantial

    def outcome(self, value: Value) -> tuple[str, Any]:
        """("act", spec), ("unused", None) or ("undecided", reason)."""
        if value in self.memo:
            return self.memo[value]
        self.memo[value] = ("undecided", "cycle")
        results: list[tuple[str, Any]] = []
        if value in self.outputs:
            results.append(("act", "linear"))
        for index in self.users.get(value, []):
            if self._steers(index) or self._is_gate(value, index):
                continue
            results.append(self._classify(index))
        self.memo[value] = _merge(results)
        return self.memo[value]

    def _classify(self, index: int) -> tuple[str, Any]:
        op = self.ops[index]
        spec = _activation(op.name, op.args, op.kwargs)
        if spec is not None:
            return ("act", spec)
        if op.name in _WEIGHT:
            return ("act", "linear")
        if op.name in _META:
            return ("unused", None)
        if op.name in _PASS:
            results = [self.outcome(v) for v in self._values(index)]
            merged = _merge(results)
            return ("act", "linear") if merged[0] == "unused" else merged
        return ("undecided", f"aten.{op.name}")


def _gain(spec: Any) -> float:
    return initconv.gain(spec)


def _merge(results: list[tuple[str, Any]]) -> tuple[str, Any]:
    used = [r for r in results if r[0] != "unused"]
    if not used:
        return ("unused", None)
    undecided = [r for r in used if r[0] == "undecided"]
    if undecided:
        return undecided[0]
    gains = {round(_gain(spec), 9) for _, spec in used}
    if len(gains) > 1:
        return ("undecided", "uses with different activations")
    return used[0]


def ground_truth(model: nn.Module, x: Tensor, names: list[str]) -> dict[str, tuple[str, Any]]:
    """Each named layer's activation by the rule, from an aten record of a run on a copy."""
    duplicate = copy.deepcopy(model)
    record = _AtenRecord()
    calls: dict[str, list[Value]] = {}

    def hook(name: str) -> Any:
        def record_output(module: nn.Module, args: Any, out: Tensor) -> None:
            value = record.producer.get(id(out))
            if value is not None:
                calls.setdefault(name, []).append(value)

        return record_output

    for name in names:
        duplicate.get_submodule(name).register_forward_hook(hook(name))
    with torch.no_grad(), record:
        out = duplicate(x)
    outputs = {
        record.producer[id(t)]
        for t in pytree.tree_leaves(out)
        if isinstance(t, Tensor) and id(t) in record.producer
    }
    truth = _Truth(record, outputs)
    result: dict[str, tuple[str, Any]] = {}
    for name in names:
        if name not in calls:
            result[name] = ("undecided", "not called")
            continue
        merged = _merge([truth.outcome(value) for value in calls[name]])
        result[name] = ("act", "linear") if merged[0] == "unused" else merged
    return result
