"""Residual branches, read from the graph torch.fx traces (the one :func:`initconv.convert` reads).

A residual add takes two paths from a common fork: the branch, with the weight layers, and the
shortcut, with fewer (none, or a projection). A branch is the path from the fork to the add that
closes it; its layers are the weight layers on it, in the order they run.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator

import torch
from torch import fx, nn

from initconv._inference.copies import structural_copy
from initconv._inference.roles import is_leaf
from initconv._inference.symbolic import TRACE_LOCK, OwnThreadTracer
from initconv._maths.fans import KINDS

__all__: list[str] = []

_ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
_ADD_METHODS = ("add", "add_")
_NORMS: tuple[type[nn.Module], ...] = tuple(
    cls
    for cls in (
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.BatchNorm3d,
        nn.SyncBatchNorm,
        nn.InstanceNorm1d,
        nn.InstanceNorm2d,
        nn.InstanceNorm3d,
        nn.GroupNorm,
        nn.LayerNorm,
        getattr(nn, "RMSNorm", None),
    )
    if cls is not None
)


@dataclasses.dataclass(frozen=True)
class Branch:
    """One residual branch: its weight layers in order, the affine norm after the last of them (if
    any), the module whose output the add takes, and the shortcut's weight layers."""

    name: str
    layers: tuple[str, ...]
    norm: str | None
    end: str | None
    shortcut: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An add that is not a residual branch, with the reason."""

    name: str
    reason: str


def _common_prefix(paths: list[list[str]]) -> list[str]:
    common = paths[0]
    for path in paths[1:]:
        size = next((i for i, (a, b) in enumerate(zip(common, path, strict=False)) if a != b), None)
        common = common[: min(len(common), len(path)) if size is None else size]
    return common


def has_scale(module: nn.Module) -> bool:
    """A norm with a learnable scale (its ``weight``)."""
    return isinstance(module, _NORMS) and isinstance(getattr(module, "weight", None), nn.Parameter)


def _is_add(node: fx.Node) -> bool:
    if node.op == "call_function" and node.target in _ADD_FUNCTIONS:
        return True
    return node.op == "call_method" and node.target in _ADD_METHODS


def _ancestors(node: fx.Node, memo: dict[fx.Node, frozenset[fx.Node]]) -> frozenset[fx.Node]:
    """``node`` and every node it depends on (iteratively: graphs are deep)."""
    stack = [node]
    while stack:
        current = stack[-1]
        if current in memo:
            stack.pop()
            continue
        missing = [n for n in current.all_input_nodes if n not in memo]
        if missing:
            stack.extend(missing)
            continue
        found = {current}
        for parent in current.all_input_nodes:
            found |= memo[parent]
        memo[current] = frozenset(found)
        stack.pop()
    return memo[node]


class _Reader:
    """Finds the branches of one traced graph."""

    def __init__(self, root: nn.Module, graph: fx.Graph, prefix: str) -> None:
        self.root, self.graph, self.prefix = root, graph, prefix
        self.order = {node: i for i, node in enumerate(graph.nodes)}
        self.memo: dict[fx.Node, frozenset[fx.Node]] = {}
        self.calls: dict[str, int] = {}
        for node in graph.nodes:
            if node.op == "call_module":
                self.calls[str(node.target)] = self.calls.get(str(node.target), 0) + 1

    def module(self, node: fx.Node) -> nn.Module | None:
        return self.root.get_submodule(str(node.target)) if node.op == "call_module" else None

    def _weights(self, nodes: frozenset[fx.Node]) -> list[fx.Node]:
        found = [n for n in nodes if isinstance(self.module(n), KINDS)]
        return sorted(found, key=self.order.__getitem__)

    def read(self, add: fx.Node) -> Branch | Skipped:
        label = f"{self.prefix}{add.name}"
        inputs = [arg for arg in add.args[:2] if isinstance(arg, fx.Node)]
        if len(inputs) != 2:
            return Skipped(label, "adds a constant, not two paths")
        first, second = (_ancestors(node, self.memo) for node in inputs)
        common = first & second
        forks = [n for n in common if n.op != "get_attr"]
        if not forks:
            return Skipped(label, "its two inputs share no fork")
        fork = max(forks, key=self.order.__getitem__)
        above = _ancestors(fork, self.memo)
        sides = [
            (node, self._weights(anc - above))
            for node, anc in zip(inputs, (first, second), strict=True)
        ]
        sides.sort(key=lambda side: len(side[1]), reverse=True)
        (end, layers), (_, shortcut) = sides
        if len(layers) == len(shortcut):
            return Skipped(label, f"both paths have {len(layers)} weight layers: not a shortcut")
        return self._branch(label, end, layers, shortcut, first if end is inputs[0] else second)

    def _branch(
        self,
        label: str,
        end: fx.Node,
        layers: list[fx.Node],
        shortcut: list[fx.Node],
        path: frozenset[fx.Node],
    ) -> Branch | Skipped:
        names = [str(node.target) for node in layers]
        shared = [name for name in names if self.calls[name] > 1]
        if shared:
            return Skipped(label, f"{self.prefix}{shared[0]} runs more than once")
        last = self.order[layers[-1]]
        norms = [
            node
            for node in path
            if self.order[node] > last and has_scale(self.module(node) or nn.Identity())
        ]
        norm = max(norms, key=self.order.__getitem__, default=None)
        # Named by the modules it runs through: "layer1.0" for torchvision's first block.
        common = _common_prefix([name.split(".")[:-1] for name in names])
        return Branch(
            f"{self.prefix}{'.'.join(common)}" if common else label,
            tuple(f"{self.prefix}{name}" for name in names),
            None if norm is None else f"{self.prefix}{norm.target}",
            f"{self.prefix}{end.target}" if end.op == "call_module" else None,
            tuple(f"{self.prefix}{node.target}" for node in shortcut),
        )

    def __iter__(self) -> Iterator[Branch | Skipped]:
        for node in self.graph.nodes:
            if _is_add(node):
                yield self.read(node)


class _Tracer(OwnThreadTracer):
    """torch.fx's tracer with the inference rule's leaves: weight layers, activations, norms;
    other threads' forwards run as if no trace were under way."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m) or super().is_leaf_module(m, module_qualified_name)


def find_branches(model: nn.Module) -> tuple[list[Branch], list[Skipped], dict[str, str]]:
    """The residual branches of ``model``, the adds that are not, and the modules torch.fx could
    not trace (their children are traced instead) with the first line of the error.

    torch.fx runs the forward with proxies; it runs on a structural copy (meta tensors), so no
    side effect of the forward lands on the model. The branches name layers by their qualified
    names, which the copy shares."""
    model = structural_copy(model)
    branches: list[Branch] = []
    skipped: list[Skipped] = []
    failures: dict[str, str] = {}

    def visit(module: nn.Module, prefix: str) -> None:
        try:
            with TRACE_LOCK:  # torch.fx patches torch for the duration: one trace at a time
                graph = _Tracer().trace(module)
        except Exception as error:  # any failure of a third party's forward() under fx
            failures[prefix[:-1]] = (str(error).strip().splitlines() or [type(error).__name__])[0]
            for child_name, child in module.named_children():
                visit(child, f"{prefix}{child_name}.")
            return
        for found in _Reader(module, graph, prefix):
            if isinstance(found, Branch):
                branches.append(found)
            else:
                skipped.append(found)

    visit(model, "")
    return branches, skipped, failures
