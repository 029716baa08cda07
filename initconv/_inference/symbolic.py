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
import inspect
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any

from torch import Tensor, fx, nn

from initconv._activations import is_activation_module
from initconv._inference.elementwise import Undefined, Unknown
from initconv._inference.roles import (
    PASS_MODULES,
    attention_kernel,
    is_leaf,
    is_pass_module,
    is_weight_module,
    passthrough,
    role,
)
from initconv._inference.rule import Engine, Follow, GraphWalk, Inference, checked, combine
from initconv._maths.fans import KINDS

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


class OwnThreadTracer(fx.Tracer):
    """torch.fx's tracer, confined to the thread that traces.

    While it traces, torch.fx replaces ``nn.Module.__call__`` and ``nn.Module.__getattr__`` for
    the whole process with wrappers that record into this tracer; another thread's ordinary
    forward of an unrelated model would be recorded too, and fail (a NameError for a module the
    traced root does not hold). The wrappers call :meth:`call_module` and :meth:`getattr`: for
    any other thread they do what torch does without a trace."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def call_module(
        self,
        m: nn.Module,
        forward: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if threading.get_ident() != self.thread:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        if threading.get_ident() != self.thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)


class _Tracer(OwnThreadTracer):
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
            if self.culprit is None and threading.get_ident() == self.thread:
                self.culprit = m
            raise


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _qualified(owner: str, target: object) -> str:
    return f"{owner}.{target}" if owner else str(target)


class Symbolic:
    """The traced graphs of a model (a structural copy), explored from its root; the values of
    its parameters and buffers are read from ``original``, the model it is a copy of."""

    def __init__(self, root: nn.Module, original: nn.Module | None = None) -> None:
        self.root = root
        self.original = original
        self.engine = Engine()
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
            for child, module in self.root.get_submodule(name).named_children():
                if not is_leaf(module):
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

                def on_output() -> Inference | list[Follow] | None:
                    return self._after_output(name)

            else:
                caller, node = site

                def on_output() -> Inference | list[Follow] | None:
                    return [(caller, node)]

            prefix = f"{name}." if name else ""
            module = self.root.get_submodule(name)

            def constant(node: fx.Node) -> Any:
                return self._constant(prefix, node)

            self.walks[key] = GraphWalk(
                module, prefix, on_output, self._enter, constant, self.engine
            )
        return self.walks[key]

    def _constant(self, prefix: str, node: fx.Node) -> Any:
        """The value a ``get_attr`` node reads: from the original model where the copy holds a
        meta tensor in its place. A tensor the trace computed from the copy's meta buffers
        (``self.scale[1]``, stored as a ``_tensor_constant``) is a constant whose value the
        trace does not know: the model has no such attribute."""
        path = f"{prefix}{node.target}"
        meta = False
        for owner in (self.root, self.original):
            if owner is None:
                continue
            value: Any = owner
            try:
                for part in path.split("."):
                    value = getattr(value, part)
            except AttributeError:
                continue
            if isinstance(value, Tensor) and value.is_meta:
                meta = True
                continue
            return value
        if meta:
            raise Unknown(
                f"{path} is computed from the model's tensors, which a trace does not read"
            )
        raise Undefined(f"the value of {path} is not known")

    def _after_output(self, name: str) -> Inference | list[Follow] | None:
        if name == "":
            return Inference("linear", "model output")
        calls = self.callers.get(name, [])
        if not calls:
            return Inference(None, f"reaches the output of {name!r}: {self._why_unseen(name)}")
        return [(self.walk(owner), node) for owner, node in calls]

    def _enter(
        self, caller: GraphWalk, node: fx.Node, source: fx.Node
    ) -> Inference | tuple[GraphWalk, fx.Node] | None:
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
        return self.walk(target, (caller, node)), entry

    def _why_unseen(self, name: str) -> str:
        enclosing = [key for key in self.failures if key == "" or name.startswith(f"{key}.")]
        if not enclosing:
            return "not called by the traced forward()"
        key = max(enclosing, key=len)
        where = repr(key) if key else "the model"
        return f"torch.fx could not trace {where}: {self.failures[key]}"

    def infer(self, names: dict[int, str], wanted: Collection[str]) -> dict[str, Inference]:
        """The outcome of every wanted layer, found where torch.fx saw it called, or its weight
        used by a weight op (``F.linear(x, self.qkv.weight)``, an attention kernel)."""
        found: dict[str, list[Inference]] = {}
        weights = {
            id(module.weight): name
            for name, module in self.root.named_modules()
            if name in wanted and isinstance(module, KINDS)
        }
        for owner, graph in self.graphs.items():
            module = self.root.get_submodule(owner)
            walk = self.walk(owner)
            for node in graph.nodes:
                if node.op == "get_attr":
                    try:
                        value = self._constant_in(module, str(node.target))
                    except AttributeError:
                        continue
                    name = weights.get(id(value))
                    if name is not None:
                        for outcome in self._functional(walk, node):
                            found.setdefault(name, []).append(outcome)
                    continue
                if node.op != "call_module":
                    continue
                called = module.get_submodule(str(node.target))
                name = names.get(id(called))
                if name is not None and name in wanted:
                    found.setdefault(name, []).append(
                        walk.consumers(node) or Inference("linear", "output unused")
                    )
                if isinstance(called, nn.MultiheadAttention):
                    projection = names.get(id(called.out_proj))
                    if projection in wanted and projection is not None:
                        outcome = walk.consumers(node) or Inference("linear", "output unused")
                        found.setdefault(projection, []).append(outcome)
        result = {name: combine(outcomes) for name, outcomes in found.items()}
        for name in wanted:
            if name not in result:
                result[name] = Inference(None, self._why_unseen(name))
        return result

    @staticmethod
    def _constant_in(module: nn.Module, path: str) -> Any:
        value: Any = module
        for part in path.split("."):
            value = getattr(value, part)
        return value

    @staticmethod
    def _functional(walk: GraphWalk, weight: fx.Node) -> list[Inference]:
        """What a layer used through its weight (the get_attr node ``weight``) leads to."""
        outcomes = []
        for user in weight.users:
            label = walk.label(user)
            if role(user, walk.root) != "weight":
                outcomes.append(Inference(None, f"its weight is used by {label}, no weight op"))
                continue
            output_argument = attention_kernel(user.target)
            is_output = True
            if output_argument is not None:
                try:
                    bound = inspect.signature(user.target).bind(*user.args, **user.kwargs)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    outcomes.append(Inference(None, f"its weight is passed to {label}"))
                    continue
                is_output = bound.arguments.get(output_argument) is weight
            if not is_output:
                outcomes.append(
                    Inference("linear", f"its weight used inside the weight op {label}")
                )
                continue
            beyond = walk.consumers(user) or Inference("linear", f"{label}, unused")
            outcomes.append(Inference(beyond.spec, f"its weight used by {label} > {beyond.detail}"))
        return outcomes


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
