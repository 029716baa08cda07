"""The ground truth of the zoo benchmarks: the inference rule applied to a record of the aten
operators a forward pass runs, without initconv's inference.

A ``TorchDispatchMode`` records every aten operator with the tensors that flow into and out of it
(an in-place operator makes a new value of its tensor); forward hooks give each layer's output,
and a layer used through its weight (``F.linear(x, self.proj.weight)``) is found by the weight
tensor's identity: the first weight operator it reaches is its call. The rule (docs/convert.md)
is then read off the record at the operator level, with its own tables: activations, weight
operators, pass-throughs, statistics, gates; a region of elementwise operators whose only varying
input is the value is one function phi, replayed on float64 to get its derived gain; a product of
two different values is a gated unit with the gain of its law. Outcomes are gains (numbers), so
that they can be compared with what convert() chose without sharing its names.
"""

from __future__ import annotations

import collections
import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import initconv
from initconv._maths.derived_gain import derived_gain


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WEIGHT = _names(
    "convolution _convolution mm addmm bmm baddbmm matmul linear "
    "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_efficient_attention "
    "_scaled_dot_product_flash_attention scaled_dot_product_attention "
    "_scaled_dot_product_attention_math _native_multi_head_attention _scaled_dot_product_cudnn_attention"
)
_STATISTIC = _names(
    "mean sum amax amin var std var_mean std_mean pow sqrt rsqrt abs reciprocal clamp clamp_min "
    "_adaptive_avg_pool2d adaptive_max_pool2d avg_pool2d max_pool2d_with_indices linalg_vector_norm "
    "norm"
)
_REDUCTION = _names(
    "mean sum amax amin var std var_mean std_mean _adaptive_avg_pool2d adaptive_max_pool2d "
    "avg_pool2d max_pool2d_with_indices linalg_vector_norm norm _adaptive_avg_pool3d"
)
_PASS = _names(
    "view _unsafe_view reshape permute transpose t expand clone contiguous slice select "
    "unsqueeze squeeze split split_with_sizes unbind chunk cat stack add add_ sub sub_ mul mul_ "
    "div div_ neg mean sum amax amin max_pool2d_with_indices max_pool1d_with_indices avg_pool2d "
    "avg_pool1d avg_pool3d _adaptive_avg_pool2d _adaptive_avg_pool3d adaptive_max_pool2d "
    "native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm constant_pad_nd "
    "reflection_pad2d replication_pad2d upsample_nearest2d upsample_bilinear2d upsample_nearest1d "
    "upsample_nearest3d upsample_linear1d _upsample_nearest_exact2d _upsample_bilinear2d_aa "
    "pixel_shuffle pixel_unshuffle channel_shuffle native_dropout alias detach _to_copy copy_ roll "
    "flip im2col col2im as_strided as_strided_ narrow lift_fresh index_select unfold repeat "
    "max_pool3d_with_indices _unsafe_index _native_batch_norm_legit_no_stats embedding "
    "rms_norm _fused_rms_norm index reflection_pad1d reflection_pad3d replication_pad1d "
    "replication_pad3d upsample_trilinear3d upsample_bicubic2d _upsample_nearest_exact1d "
    "_upsample_nearest_exact3d avg_pool3d adaptive_avg_pool1d roi_align roi_pool index_put "
    "index_put_"
)
_FIRST_OUTPUT = _names(
    "native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm "
    "max_pool2d_with_indices max_pool1d_with_indices max_pool3d_with_indices native_dropout "
    "adaptive_max_pool2d _fused_rms_norm roi_pool"
)
_META = _names("empty_like zeros_like ones_like new_empty new_zeros new_ones sym_size")
_STEERING = _names(
    "gt lt ge le eq ne any all isnan isinf isfinite abs sum mean amax amin max min "
    "_local_scalar_dense is_nonzero"
)
# Elementwise operators (with constants for the other operands): the steps of a phi.
_ARITHMETIC = _names("add sub mul div pow rsub neg")
_MATH = _names(
    "tanh sigmoid exp log log1p expm1 sqrt rsqrt reciprocal abs clamp clamp_min clamp_max erf "
    "sin cos softplus square"
)
_SAME = _names("view _unsafe_view reshape clone contiguous alias detach _to_copy lift_fresh")
_ACTIVATIONS = _names(
    "relu silu hardswish sigmoid tanh mish hardsigmoid selu gelu leaky_relu hardtanh elu celu "
    "softplus _prelu_kernel"
)
_NAMED = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "elu": F.elu,
    "celu": F.celu,
    "selu": F.selu,
    "softplus": F.softplus,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "relu6": F.relu6,
    "hardtanh": F.hardtanh,
    "softsign": F.softsign,
    "logsigmoid": F.logsigmoid,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": F.leaky_relu,
}
# Norms that divide by a statistic of their input: a use through one is indifferent to the
# value's scale, and where some uses are not, those decide.
_NORMALISING = _names(
    "native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm rms_norm "
    "_fused_rms_norm _native_batch_norm_legit_no_stats"
)
# Normalised exponentials: their input is logits, linear.
_LOGITS = _names("_softmax _log_softmax softmax log_softmax")
Value = tuple[int, int]  # (operator index, output position)
# ("act", (gain, label)), ("unused", None), ("undecided", reason), with a third element True
# while the outcome's path normalises the value first.
Outcome = tuple[Any, ...]
_LINEAR: Outcome = ("act", (1.0, "linear"))


class _Op:
    def __init__(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.func, self.name = func, func.overloadpacket.__name__
        self.args, self.kwargs = args, kwargs
        self.inputs: list[Value | None] = []  # per tensor argument, in order
        self.weights: list[str | None] = []  # per tensor argument: the layer whose weight it is
        self.outputs: list[Value] = []
        self.varying = False


class _AtenRecord(TorchDispatchMode):
    def __init__(self, weights: dict[int, str]) -> None:
        super().__init__()
        self.ops: list[_Op] = []
        self.producer: dict[int, Value] = {}
        self.varying: set[Value] = set()
        self.weight_of: dict[int, str] = dict(weights)
        self.keep: list[Tensor] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = _Op(func, args, kwargs)
        leaves = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, Tensor)]
        op.inputs = [self.producer.get(id(t)) for t in leaves]
        op.weights = [self.weight_of.get(id(t)) for t in leaves]
        op.varying = any(v is not None and v in self.varying for v in op.inputs)
        index = len(self.ops)
        self.ops.append(op)
        weight = next((w for w in op.weights if w is not None), None)
        for position, tensor in enumerate(
            t for t in pytree.tree_leaves(out) if isinstance(t, Tensor)
        ):
            value = (index, position)
            self.producer[id(tensor)] = value
            op.outputs.append(value)
            if op.varying:
                self.varying.add(value)
            elif weight is not None and op.name in _PASS:
                self.weight_of[id(tensor)] = weight  # a transposed or reshaped weight
            self.keep.append(tensor)
        return out


def _scalar(value: Any) -> Any:
    if isinstance(value, Tensor):
        flat = value.detach().reshape(-1)
        if flat.numel() == 0 or not bool((flat == flat[0]).all()):
            raise LookupError("per-channel")
        return torch.tensor(float(flat[0]), dtype=torch.float64)
    return value


class _Truth:
    """The rule on an aten record."""

    def __init__(self, record: _AtenRecord, outputs: set[Value]) -> None:
        self.ops = record.ops
        self.record = record
        self.outputs = outputs
        self.users: dict[Value, list[int]] = {}
        for index, op in enumerate(self.ops):
            for value in op.inputs:
                if value is not None:
                    self.users.setdefault(value, []).append(index)
        self.memo: dict[Value, Outcome] = {}

    def _values(self, index: int) -> list[Value]:
        op = self.ops[index]
        return op.outputs[:1] if op.name in _FIRST_OUTPUT else op.outputs

    def _is_varying(self, value: Value | None) -> bool:
        return value is not None and value in self.record.varying

    # --- steering, gates: as before --------------------------------------------------------

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
        frontier, seen = collections.deque([value]), set()
        while frontier and len(seen) < 64:
            v = frontier.popleft()  # breadth first: the nearest inputs before far history
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

    def _is_gate(self, source: Value, start: int, strict: bool = False) -> bool:
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
            act = op.name.rstrip("_") in _ACTIVATIONS
            if len(seen) > 64 or not (
                op.name in _STATISTIC or op.name in _WEIGHT or op.name in _PASS or act
            ):
                return False
            values = self._values(index)
            if any(v in self.outputs for v in values):
                return False
            substantial = (
                substantial
                or op.name in _REDUCTION
                or op.name in _WEIGHT
                or (not strict and op.name in _STATISTIC)
                or (
                    not strict
                    and any(
                        v is not None
                        and v != came_from
                        and v[0] not in seen
                        and self._derived(v, source)
                        for v in op.inputs
                    )
                )
            )
            nexts = [(user, v) for v in values for user in self.users.get(v, [])]
            if not nexts:
                return False
            frontier.extend(nexts)
        return ended and substantial

    # --- elementwise regions ------------------------------------------------------------------

    def _elementwise(self, index: int) -> bool:
        name = self.ops[index].name.rstrip("_")
        return name in _ARITHMETIC or name in _MATH or name in _ACTIVATIONS or name in _SAME

    def _varying_inputs(self, index: int) -> list[Value]:
        return [v for v in self.ops[index].inputs if self._is_varying(v)]  # type: ignore[misc]

    def _region(self, value: Value, starts: list[int]) -> list[int]:
        inside, members = {value}, []
        candidates = sorted(set(starts))
        queued = set(candidates)
        while candidates and len(members) < 64:
            index = candidates.pop(0)
            op = self.ops[index]
            varying = self._varying_inputs(index)
            if not self._elementwise(index) or not all(v in inside for v in varying):
                continue
            if op.name in _SAME and (not op.inputs or op.inputs[0] not in inside):
                continue
            members.append(index)
            for out in op.outputs:
                inside.add(out)
                for user in self.users.get(out, []):
                    if user not in queued and not self._is_gate(out, user, strict=True):
                        queued.add(user)
                        candidates.append(user)
            candidates.sort()
        return members

    def _affine(self, index: int) -> bool:
        op = self.ops[index]
        name = op.name.rstrip("_")
        varying = self._varying_inputs(index)
        if name in _SAME or name == "neg":
            return True
        if name in ("add", "sub", "mul"):
            return len(varying) == 1 and op.inputs.count(varying[0]) == 1
        if name == "div":
            return bool(op.inputs) and self._is_varying(op.inputs[0]) and len(varying) == 1
        return False

    def _phi(
        self, source: Value, members: list[int], exit_value: Value
    ) -> Callable[[Tensor], Tensor]:
        """Replay the region's operators on float64, the constants scalarised; a per-channel
        scaling first on the path is the norm's affine (the identity here)."""
        leading: set[int] = set()
        for index in members:
            varying = self._varying_inputs(index)
            if self._affine(index) and all(v == source or v[0] in leading for v in varying):
                leading.add(index)

        def phi(x: Tensor) -> Tensor:
            env: dict[Value, Any] = {source: x}
            for index in members:
                op = self.ops[index]
                leaves, spec = pytree.tree_flatten((op.args, op.kwargs))
                tensors = iter(op.inputs)
                new = []
                try:
                    for leaf in leaves:
                        if isinstance(leaf, Tensor):
                            value = next(tensors)
                            new.append(env[value] if value in env else _scalar(leaf))
                        elif isinstance(leaf, torch.dtype):
                            new.append(torch.float64)
                        elif isinstance(leaf, torch.device):
                            new.append(torch.device("cpu"))
                        else:
                            new.append(leaf)
                except LookupError:
                    if index not in leading:
                        raise ValueError("an operand whose values differ per channel") from None
                    first = next(v for v in op.inputs if v in env)
                    for out in op.outputs:
                        env[out] = env[first]
                    continue
                args, kwargs = pytree.tree_unflatten(new, spec)
                if op.name in _SAME:
                    result: Any = args[0]
                else:
                    result = op.func(*args, **kwargs)
                results = [t for t in pytree.tree_leaves(result) if isinstance(t, Tensor)]
                for out, tensor in zip(op.outputs, results, strict=False):
                    env[out] = tensor
            out = env[exit_value]
            return out if out.shape == x.shape else out.expand_as(x).clone()

        return phi

    def _function(self, phi: Callable[[Tensor], Tensor], label: str) -> Outcome:
        probe = torch.linspace(-8, 8, 1601, dtype=torch.float64)
        try:
            out = phi(probe.clone())
            grid = torch.cat([torch.zeros(1, dtype=torch.float64), probe])
            if not bool(torch.isfinite(phi(grid.clone())).all()):
                return ("undecided", f"{label}: not finite")
            for name, reference in _NAMED.items():
                if bool(
                    ((out - reference(probe)).abs() <= 1e-7 * (1 + reference(probe).abs())).all()
                ):
                    return ("act", (initconv.gain(name), name))
            return ("act", (derived_gain(label, phi), label))
        except (ValueError, TypeError, RuntimeError, LookupError) as error:
            return ("undecided", f"{label}: {error}")

    def _moment_gain(self, outcome: Outcome, phi: Callable[[Tensor], Tensor] | None) -> float:
        if phi is None:
            return 1.0
        return derived_gain("half", phi)

    def _back(self, value: Value) -> tuple[Callable[[Tensor], Tensor] | None, str] | None:
        """The function a factor is of the value it is computed from by elementwise operators."""
        members, roots, stack = set(), set(), [value]
        while stack:
            v = stack.pop()
            if v in roots or v[0] in members:
                continue
            if not self._elementwise(v[0]) or len(members) > 64:
                roots.add(v)
                continue
            members.add(v[0])
            stack.extend(self._varying_inputs(v[0]))
        if not members:
            return None, "linear"
        if len(roots) != 1:
            return None
        (root,) = roots
        return self._phi(root, sorted(members), value), "phi"

    # --- the walk -----------------------------------------------------------------------------

    def outcome(self, value: Value) -> Outcome:
        """("act", (gain, label)), ("unused", None) or ("undecided", reason)."""
        if value in self.memo:
            return self.memo[value]
        self.memo[value] = ("undecided", "cycle")
        results: list[Outcome] = []
        if value in self.outputs:
            results.append(_LINEAR)
        users = [
            u
            for u in self.users.get(value, [])
            if not self._steers(u) and not self._is_gate(value, u, strict=True)
        ]
        members = self._region(value, users)
        member_set = set(members)
        for index in users:
            if index in member_set or self._is_gate(value, index):
                continue
            results.append(self._classify(index, value))
        if members:
            results.append(self._region_outcome(value, members))
        self.memo[value] = _merge(results)
        return self.memo[value]

    def _region_outcome(self, value: Value, members: list[int]) -> Outcome:
        member_set = set(members)
        produced = {out: index for index in members for out in self.ops[index].outputs}
        exits = [
            out
            for out in produced
            if out in self.outputs
            or any(u not in member_set for u in self.users.get(out, []))
            or not self.users.get(out)
        ]
        if all(self._affine(index) for index in members):
            return _merge([self._follow(out) for out in exits])
        results = []
        for out in exits:
            path = self._path(members, out)
            if all(self.ops[i].name in _SAME for i in path):
                results.append(self._follow(out))
                continue
            phi = self._phi(value, path, out)
            found = self._function(phi, f"phi@{out}")
            if found[0] != "act":
                results.append(found)
                continue
            after = [u for u in self.users.get(out, []) if u not in member_set]
            products = [u for u in after if self._product_other(u, out) is not None]
            results += [self._product(out, phi, found, u) for u in products]
            if len(products) < len(after) or not after:
                results.append(found)
        return _merge(results)

    def _path(self, members: list[int], exit_value: Value) -> list[int]:
        needed = {exit_value[0]}
        for index in reversed(members):
            if index in needed:
                needed.update(v[0] for v in self.ops[index].inputs if v is not None)
        return [index for index in members if index in needed]

    def _follow(self, value: Value) -> Outcome:
        result = self.outcome(value)
        return result

    def _product_other(self, index: int, value: Value) -> Value | None:
        op = self.ops[index]
        if op.name.rstrip("_") != "mul" or len(op.inputs) < 2:
            return None
        first, second = op.inputs[:2]
        if value not in (first, second) or first == second:
            return None
        other = second if first == value else first
        return other if self._is_varying(other) else None

    def _product(
        self, value: Value, phi: Callable[[Tensor], Tensor] | None, found: Outcome, index: int
    ) -> Outcome:
        other = self._product_other(index, value)
        assert other is not None
        if self._derived(other, value):
            if phi is None:
                return _merge([self._follow(v) for v in self._values(index)])
            return found
        if self._derived(value, other):
            return found
        back = self._back(other)
        if back is None:
            return ("undecided", "a product with a value of unknown law")
        other_phi, _ = back
        beyond = _merge([self.outcome(v) for v in self._values(index)])
        if beyond[0] == "undecided":
            return beyond
        if beyond[0] == "unused" or beyond[1][1] == "linear":
            try:
                gain = self._moment_gain(found, phi) * self._moment_gain(found, other_phi)
            except (ValueError, TypeError) as error:
                return ("undecided", f"gate: {error}")
            return ("act", (gain, "gated"))
        if phi is None and other_phi is None:
            return beyond
        return ("undecided", "a gated unit followed by another nonlinearity")

    def _normalised_output(self, index: int) -> bool:
        """Whether every use of the weight operator's output reaches a norm through
        pass-throughs only."""
        frontier = list(self._values(index))
        seen, found = set(frontier), False
        while frontier:
            value = frontier.pop()
            if value in self.outputs:
                return False
            for user in self.users.get(value, []):
                name = self.ops[user].name
                if self._steers(user) or name in _META:
                    continue
                if name in _NORMALISING:
                    found = True
                    continue
                if name not in _PASS or len(seen) >= 64:
                    return False
                for out in self._values(user):
                    if out not in seen:
                        seen.add(out)
                        frontier.append(out)
        return found

    def _classify(self, index: int, source: Value) -> Outcome:
        op = self.ops[index]
        if op.name in _WEIGHT:
            return (*_LINEAR, True) if self._normalised_output(index) else _LINEAR
        if op.name in _META:
            return ("unused", None)
        if self._product_other(index, source) is not None:
            return self._product(source, None, _LINEAR, index)
        if op.name in _LOGITS:
            return _LINEAR
        if op.name in _PASS:
            results = [self.outcome(v) for v in self._values(index)]
            merged = _merge(results)
            if op.name in _NORMALISING and merged[0] != "unused":
                return (merged[0], merged[1], True)
            return merged
        if op.name == "glu":
            beyond = _merge([self.outcome(v) for v in self._values(index)])
            if beyond[0] == "act" and beyond[1][1] != "linear":
                return ("undecided", "glu followed by a nonlinearity")
            return ("act", (derived_gain("sigmoid", torch.sigmoid), "glu"))
        return ("undecided", f"aten.{op.name}")


def _normalised(outcome: Outcome) -> bool:
    return len(outcome) > 2 and bool(outcome[2])


def _merge(results: list[Outcome]) -> Outcome:
    used = [r for r in results if r[0] != "unused"]
    if not used:
        return ("unused", None)
    scaled = [r for r in used if not _normalised(r)]
    if scaled:
        used = scaled  # uses through a norm are indifferent to the value's scale
    soft = all(_normalised(r) for r in used)
    undecided = [r for r in used if r[0] == "undecided"]
    if undecided:
        return (*undecided[0][:2], True) if soft else undecided[0][:2]
    gains = {round(gain, 7) for _, (gain, _), *_ in used}
    if len(gains) > 1:
        if soft:  # every use normalises first: any gain computes the same, linear
            return ("act", (1.0, "linear"), True)
        return ("undecided", "uses with different activations")
    return (*used[0][:2], True) if soft else used[0][:2]


def ground_truth(
    model: nn.Module, args: tuple[Any, ...], names: list[str], kwargs: dict[str, Any] | None = None
) -> dict[str, Outcome]:
    """Each named layer's activation by the rule, from an aten record of a run on a copy:
    ``("act", (gain, label))`` or ``("undecided", reason)``."""
    duplicate = copy.deepcopy(model)
    weights = {
        id(duplicate.get_submodule(name).weight): name
        for name in names
        if isinstance(getattr(duplicate.get_submodule(name), "weight", None), Tensor)
    }
    record = _AtenRecord(weights)
    calls: dict[str, list[Value]] = {}

    def hook(name: str) -> Any:
        def record_output(module: nn.Module, inputs: Any, out: Any) -> None:
            first = out[0] if isinstance(out, tuple) else out
            value = record.producer.get(id(first)) if isinstance(first, Tensor) else None
            if value is not None:
                calls.setdefault(name, []).append(value)

        return record_output

    handles = [duplicate.get_submodule(name).register_forward_hook(hook(name)) for name in names]
    inputs = (args, kwargs or {})
    with torch.no_grad(), record:
        # The inputs are the varying values: a first copy of each, recorded, makes them values.
        marked = pytree.tree_map(lambda t: t.clone() if isinstance(t, Tensor) else t, inputs)
        for tensor in pytree.tree_leaves(marked):
            if isinstance(tensor, Tensor):
                record.varying.add(record.producer[id(tensor)])
        out = duplicate(*marked[0], **marked[1])
    for handle in handles:
        handle.remove()
    # Layers used through their weight: the first weight operator that takes it is their call.
    for op in record.ops:
        if op.name not in _WEIGHT or not op.outputs:
            continue
        for name in {w for w in op.weights if w is not None}:
            if name not in calls:
                calls.setdefault(name, []).append(op.outputs[0])
    outputs = {
        record.producer[id(t)]
        for t in pytree.tree_leaves(out)
        if isinstance(t, Tensor) and id(t) in record.producer
    }
    truth = _Truth(record, outputs)
    result: dict[str, Outcome] = {}
    for name in names:
        if name not in calls:
            result[name] = ("undecided", "not called")
            continue
        merged = _merge([truth.outcome(value) for value in calls[name]])
        result[name] = _LINEAR if merged[0] == "unused" else merged[:2]
    return result


def gain_matches(gain: float | None, truth: Outcome) -> bool:
    """Whether convert()'s gain is the truth's, to the precision of two quadratures."""
    return truth[0] == "act" and gain is not None and math.isclose(gain, truth[1][0], rel_tol=1e-6)
