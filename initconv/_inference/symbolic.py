"""Symbolic inference: the rule applied to the graphs torch.fx traces, on a structural copy.

A submodule whose forward torch.fx cannot trace as part of its parent (control flow on values,
a call fx cannot proxy) is made a leaf of the parent's graph, all instances of its class, and
traced on its own; a path into it continues inside its own graph, and a path out of its output
continues in the parent's. Where no forward can be traced at all, :func:`sequential` applies the
rule to the layer's ``nn.Sequential``, whose data flow its class fixes.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any

from torch import fx, nn

from initconv._activations import is_activation_module
from initconv._inference.roles import (
    PASS_MODULES,
    is_leaf,
    is_pass_module,
    is_weight_module,
    passthrough,
)
from initconv._inference.rule import GraphWalk, Inference, checked, combine, merge

__all__: list[str] = []


def _defining(cls: type[nn.Module]) -> type[nn.Module]:
    return next(base for base in cls.__mro__ if "forward" in vars(base))


# The classes whose forward() makes a module a pass-through (_BatchNorm, LayerNorm, ...).
_PASS_BASES = tuple(dict.fromkeys(_defining(cls) for cls in PASS_MODULES))


def _as_step(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def forward(self: nn.Module, x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, fx.Proxy):
            proxy = x.tracer.create_proxy("call_function", passthrough, (x,), {})
            proxy.node.meta["label"] = f"{type(self).__name__}'s {original.__qualname__}"
            return proxy
        return original(self, x, *args, **kwargs)

    return forward


# Held around every symbolic inference (``infer``) and every other trace (``branches``).
# Tracing changes state that all threads share: torch.fx patches torch for the duration of a
# trace, and _norm_steps changes torch's classes, so two traces at once could save each other's
# wrappers as the originals and leave them in place, and two inferences at once fell back on
# layers a single one decides. One at a time.
TRACE_LOCK = threading.RLock()


@contextlib.contextmanager
def _norm_steps() -> Iterator[None]:
    """While tracing, a subclass's ``super().forward(x)`` of a norm, dropout or pooling is one
    pass-through step, as the module itself would be: torch's own forward checks ``x.dim()``,
    which torch.fx cannot trace. Other threads' real forwards still run the original: the
    wrapper steps aside for anything but a traced value. The caller holds TRACE_LOCK."""
    originals = {cls: vars(cls)["forward"] for cls in _PASS_BASES}
    try:
        for cls, forward in originals.items():
            cls.forward = _as_step(forward)
        yield
    finally:
        for cls, forward in originals.items():
            cls.forward = forward


class _Tracer(fx.Tracer):
    """torch.fx's tracer with the rule's leaves, and the innermost module a failure came from."""

    def __init__(self, opaque: set[type[nn.Module]]) -> None:
        super().__init__()
        self.opaque = opaque
        self.culprit: nn.Module | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (
            is_leaf(m) or type(m) in self.opaque or super().is_leaf_module(m, module_qualified_name)
        )

    def call_module(
        self,
        m: nn.Module,
        forward: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.culprit is None:
                self.culprit = m
            raise


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _qualified(owner: str, target: object) -> str:
    return f"{owner}.{target}" if owner else str(target)


class Symbolic:
    """The traced graphs of a model (a structural copy), explored from its root."""

    def __init__(self, root: nn.Module) -> None:
        self.root = root
        self.opaque: set[type[nn.Module]] = set()
        self.graphs: dict[str, fx.Graph] = {}
        self.failures: dict[str, str] = {}
        self.callers: dict[str, list[tuple[str, fx.Node]]] = {}
        self.walks: dict[tuple[str, tuple[int, fx.Node] | None], GraphWalk] = {}
        self._explore("")

    def _trace(self, name: str) -> fx.Graph | None:
        if name in self.graphs or name in self.failures:
            return self.graphs.get(name)
        module = self.root.get_submodule(name)
        while True:
            tracer = _Tracer(self.opaque)
            try:
                with _norm_steps():
                    graph = tracer.trace(module)
            except Exception as error:  # any failure of a third party's forward() under fx
                culprit = tracer.culprit
                if culprit not in (None, module) and type(culprit) not in self.opaque:
                    self.opaque.add(type(culprit))
                    continue
                self.failures[name] = _first_line(error)
                return None
            self.graphs[name] = graph
            return graph

    def _explore(self, name: str) -> None:
        graph = self._trace(name)
        if graph is None:
            for child, _ in self.root.get_submodule(name).named_children():
                self._explore(_qualified(name, child))
            return
        for node in graph.nodes:
            if node.op != "call_module":
                continue
            target = _qualified(name, node.target)
            if is_leaf(self.root.get_submodule(target)):
                continue
            first = target not in self.callers
            self.callers.setdefault(target, []).append((name, node))
            if first and target not in self.graphs and target not in self.failures:
                self._explore(target)

    def walk(self, name: str, site: tuple[GraphWalk, fx.Node] | None = None) -> GraphWalk:
        """The walk over ``name``'s graph, for the call at ``site`` (the caller's walk and node),
        or for every call of it (``site=None``)."""
        key = (name, None if site is None else (id(site[0]), site[1]))
        if key not in self.walks:
            if site is None:

                def on_output() -> Inference | None:
                    return self._after_output(name)

            else:
                caller, node = site

                def on_output() -> Inference | None:
                    return caller.follow(node, caller.label(node))

            prefix = f"{name}." if name else ""
            module = self.root.get_submodule(name)
            self.walks[key] = GraphWalk(module, prefix, on_output, self._enter)
        return self.walks[key]

    def _after_output(self, name: str) -> Inference | None:
        if name == "":
            return Inference("linear", "model output")
        calls = self.callers.get(name, [])
        if not calls:
            return Inference(None, f"reaches the output of {name!r}: {self._why_unseen(name)}")
        walks = [(self.walk(owner), node) for owner, node in calls]
        return merge([walk.follow(node, walk.label(node)) for walk, node in walks])

    def _enter(self, caller: GraphWalk, node: fx.Node, source: fx.Node) -> Inference | None:
        target = f"{caller.prefix}{node.target}"
        graph = self.graphs.get(target)
        if graph is None:
            why = self.failures.get(target, "it was not traced")
            return Inference(None, f"{target}: torch.fx could not trace it: {why}")
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        index = next((i for i, arg in enumerate(node.args) if arg is source), None)
        key = next((k for k, value in node.kwargs.items() if value is source), None)
        entry = None
        if index is not None and index < len(placeholders):
            entry = placeholders[index]
        elif key is not None:
            entry = next((n for n in placeholders if n.target == key), None)
        if entry is None or str(entry.target).startswith("*"):
            return Inference(None, f"{target}: cannot tell which input of its forward it is")
        beyond = self.walk(target, (caller, node)).consumers(entry)
        if beyond is None:
            return None
        return Inference(beyond.spec, f"{target} > {beyond.detail}")

    def _why_unseen(self, name: str) -> str:
        enclosing = [key for key in self.failures if key == "" or name.startswith(f"{key}.")]
        if not enclosing:
            return "not called by the traced forward()"
        key = max(enclosing, key=len)
        where = repr(key) if key else "the model"
        return f"torch.fx could not trace {where}: {self.failures[key]}"

    def infer(self, names: dict[int, str], wanted: Collection[str]) -> dict[str, Inference]:
        """The outcome of every wanted layer, found where torch.fx saw it called."""
        found: dict[str, list[Inference]] = {}
        for owner, graph in self.graphs.items():
            module = self.root.get_submodule(owner)
            for node in graph.nodes:
                if node.op != "call_module":
                    continue
                name = names.get(id(module.get_submodule(str(node.target))))
                if name is not None and name in wanted:
                    outcome = self.walk(owner).consumers(node)
                    found.setdefault(name, []).append(
                        outcome or Inference("linear", "output unused")
                    )
        result = {name: combine(outcomes) for name, outcomes in found.items()}
        for name in wanted:
            if name not in result:
                result[name] = Inference(None, self._why_unseen(name))
        return result


def sequential(model: nn.Module, name: str) -> Inference:
    """The rule on the layer's ``nn.Sequential``: the first activation or weight layer after it,
    past pass-throughs. At the end of a Sequential it continues after that Sequential in its
    parent, if the parent is a Sequential too; past the model's last module it reaches the output
    ("linear"). A Sequential subclass with its own forward() is not a Sequential here."""
    parts = name.split(".")
    while parts:
        parent_name = ".".join(parts[:-1])
        parent = model.get_submodule(parent_name)
        if not isinstance(parent, nn.Sequential) or type(parent).forward is not (
            nn.Sequential.forward
        ):
            where = repr(parent_name) if parent_name else "the model"
            return Inference(None, f"{where} is a {type(parent).__name__}, not an nn.Sequential")
        children = list(parent.named_children())
        index = [child for child, _ in children].index(parts[-1])
        for sibling, module in children[index + 1 :]:
            label = f"{parent_name}.{sibling}" if parent_name else sibling
            if is_activation_module(module):
                return checked(module, f"next in its Sequential: {label}")
            if is_weight_module(module):
                return Inference("linear", f"next weight layer {label}")
            if is_pass_module(module):
                continue
            return Inference(
                None, f"{label} ({type(module).__name__}) is no activation, weight layer or norm"
            )
        parts = parts[:-1]
    return Inference("linear", "last module of a Sequential model")
