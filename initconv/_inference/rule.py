"""The inference rule, applied to a graph of what a model computes.

This module is where the rule is stated; everything else links here. A layer's activation is the
one that acts on its output before the next weight op. Every step on the way has a role, read from
the one table of :mod:`initconv._inference.roles` (activation, weight op, pass-through, metadata
use): pass-throughs (norms, dropout, pooling, reshapes, linear reductions, concatenation, residual
adds) are followed; a path that reaches a weight op or the model's output without an activation is
"linear"; a branch that only computes a multiplicative gate of the same tensor (squeeze-excite) is
not a consumer (:mod:`initconv._inference.gates`). :class:`GraphWalk` applies the rule to a
``torch.fx`` graph, whether torch.fx traced it (``symbolic``) or a run recorded it (``recorded``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from torch import Tensor, fx, nn

from initconv._activations import ActivationSpec, module_class, resolve
from initconv._inference.gates import is_gate, self_gated
from initconv._inference.roles import activation_name, is_template_use, role, steers_only

__all__: list[str] = []


@dataclasses.dataclass(frozen=True)
class Inference:
    """An inference outcome: the activation (``None`` when unresolved) and how it was reached."""

    spec: ActivationSpec | None
    detail: str


def checked(spec: ActivationSpec, detail: str) -> Inference:
    """``spec`` if initconv can give it a gain (a per-channel PReLU cannot), else unresolved."""
    try:
        resolve(spec)
    except (TypeError, ValueError) as error:
        return Inference(None, f"{detail}: {error}")
    return Inference(spec, detail)


def _function_activation(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inference:
    """The activation of a functional call ``name(x, *args, **kwargs)``, built as its module."""
    kwargs = {key: value for key, value in kwargs.items() if key != "inplace"}
    if not args and not kwargs:
        return checked(name, name)
    if any(isinstance(value, (fx.Node, Tensor)) for value in (*args, *kwargs.values())):
        return Inference(None, f"{name} has arguments computed at run time")
    cls = module_class(name)
    if cls is None:
        return checked(name, name)
    try:
        module = cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        return Inference(None, f"{name} with arguments {args!r}, {kwargs!r}: {error}")
    return checked(module, name)


def spec_name(spec: ActivationSpec) -> str:
    """The canonical name of a resolvable spec."""
    return resolve(spec).name


# What a walk does when a path leaves its graph: through the graph's output, or into a module it
# only knows by name (a submodule torch.fx could not trace as part of its parent).
OutputRule = Callable[[], "Inference | None"]
EnterRule = Callable[["GraphWalk", fx.Node, fx.Node], "Inference | None"]


def _model_output() -> Inference:
    return Inference("linear", "model output")


class GraphWalk:
    """Follows each node of one graph forward to the activation that consumes it.

    ``on_output`` says what a path that reaches the graph's output leads to (``"linear"`` for a
    whole model's graph); ``enter(walk, node, source)`` what the module called by ``node`` does
    with the value ``source`` it is given, for modules that are neither leaves nor traced into.
    """

    def __init__(
        self,
        root: nn.Module,
        prefix: str = "",
        on_output: OutputRule = _model_output,
        enter: EnterRule | None = None,
    ) -> None:
        self.root = root
        self.prefix = prefix
        self.on_output = on_output
        self.enter = enter
        self.memo: dict[tuple[fx.Node, fx.Node], Inference | None] = {}
        self.followed: dict[fx.Node, Inference | None] = {}

    def label(self, node: fx.Node) -> str:
        if "label" in node.meta:
            return str(node.meta["label"])
        if node.op == "call_module":
            return f"{self.prefix}{node.target}"
        if node.op == "call_method":
            return f".{node.target}()"
        return str(getattr(node.target, "__name__", node.target))

    def consumers(self, node: fx.Node) -> Inference | None:
        """Combine what every user of ``node`` leads to; ``None`` when nothing uses its values."""
        if node in self.followed:
            return self.followed[node]
        self.followed[node] = None  # a cycle cannot occur in a graph; this guards a bad record
        result = self._combine(node)
        self.followed[node] = result
        return result

    def _combine(self, node: fx.Node) -> Inference | None:
        users = [
            user
            for user in node.users
            if not is_template_use(user, node)
            and not steers_only(user)
            and not is_gate(node, user, self.root)
        ]
        gated = self_gated(node, users)
        if gated is not None:
            name, act, product = gated
            return Inference(name, f"{self.label(product)}(x, {self.label(act)}(x))")
        outcomes = []
        for user in users:
            if (user, node) not in self.memo:
                self.memo[user, node] = self._classify(user, node)
            outcomes.append(self.memo[user, node])
        return merge(outcomes)

    def _classify(self, node: fx.Node, source: fx.Node) -> Inference | None:
        label = self.label(node)
        step = role(node, self.root)
        if step == "output":
            return self.on_output()
        if step == "meta":
            return None
        if step == "weight":
            return Inference("linear", f"next weight layer {label}")
        if step == "pass":
            return self.follow(node, label)
        if step == "activation":
            if node.op == "call_module":
                return checked(self.root.get_submodule(str(node.target)), label)
            name = str(activation_name(node))
            return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
        if step == "module":
            if self.enter is not None:
                return self.enter(self, node, source)
            module = self.root.get_submodule(str(node.target))
            return Inference(
                None, f"{label} ({type(module).__name__}) is no activation, weight layer or norm"
            )
        return Inference(None, f"{label} is neither an activation nor a known pass-through")

    def follow(self, node: fx.Node, label: str) -> Inference | None:
        beyond = self.consumers(node)
        if beyond is None:
            return Inference("linear", f"{label}, unused")
        return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")


def merge(outcomes: list[Inference | None]) -> Inference | None:
    """What several uses of one value lead to together: the activation they agree on, the first
    unresolved one, or unresolved when they disagree; ``None`` when none uses its values."""
    found = [outcome for outcome in outcomes if outcome is not None]
    if not found:
        return None
    unresolved = [outcome for outcome in found if outcome.spec is None]
    if unresolved:
        return unresolved[0]
    names = {spec_name(outcome.spec) for outcome in found if outcome.spec is not None}
    if len(names) > 1:
        paths = "; ".join(sorted({outcome.detail for outcome in found}))
        return Inference(None, f"several different consumers ({paths})")
    return found[0]


def combine(results: list[Inference]) -> Inference:
    """One outcome for a layer called more than once: the same activation each time, or none."""
    names = {None if r.spec is None else spec_name(r.spec) for r in results}
    if len(names) == 1:
        return results[0]
    return Inference(None, "called more than once, with different activations")
