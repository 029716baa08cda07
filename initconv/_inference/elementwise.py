"""An activation is what it does: regions of elementwise maths read as one function, and gated
units read by their law.

From a value ``v`` on a layer's path, the region is the maximal set of elementwise steps (built-in
activations, arithmetic, functions of one element, steps that keep each element's value) whose
only varying input is ``v``: every other operand is a constant or a parameter. What the region
computes from ``v`` up to one of its exits is one function phi, evaluated on float64 tensors, and
its gain is phi's derived gain (:func:`initconv._maths.derived_gain.derived_gain`, after the
same probe as any custom activation); a phi equal to a built-in activation keeps that name (a
written-out tanh-GELU is ``gelu_tanh``). A region of scalings and shifts only is linear
arithmetic, a pass-through, as a residual add is. A scaling or shift by a tensor whose values
differ per channel (a norm's affine written out) is a pass-through where it comes first, and
makes phi undefined anywhere else.

A product of two different values is not elementwise in that sense: for a gated unit
``phi_a(a) * phi_b(b)`` with independent halves a, b ~ N(0, 1) (GLU, Dauphin et al. 2017; GEGLU
and SwiGLU, Shazeer 2020),

    E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2],

so its gain is g_a g_b, each the derived gain of its half's function (:func:`gated`).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import math
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import Tensor, fx, nn

from initconv._activations import ActivationSpec, Resolved, builtin, resolve
from initconv._inference.roles import (
    ARITHMETIC_OPERATORS,
    arithmetic,
    elementwise,
    is_template_use,
)
from initconv._maths.derived_gain import derived_gain, probe_values
from initconv._maths.quadrature import on_cpu

__all__: list[str] = []

# A region of more steps than this is no activation written out; it is cut there.
REGION_BUDGET = 64
# Built-in activations a phi is compared with, to keep their names (their default parameters).
_NAMES = tuple(
    [
        "relu",
        "gelu",
        "gelu_tanh",
        "silu",
        "mish",
        "elu",
        "celu",
        "selu",
        "softplus",
        "hardswish",
        "hardsigmoid",
        "relu6",
        "hardtanh",
        "softsign",
        "logsigmoid",
        "sigmoid",
        "tanh",
        "leaky_relu",
    ]
)
# How close phi must be to a built-in on the probe to take its name: far below any difference
# between two built-ins (gelu and gelu_tanh differ by 5e-4), far above float64 rounding of a
# formula written with rounded constants (0.7978845608 for sqrt(2 / pi)).
_SAME_FUNCTION = 1e-7
# Gated units by the pair of their halves' functions.
_GATES = {
    frozenset({"linear", "sigmoid"}): "glu",
    frozenset({"linear", "gelu"}): "geglu",
    frozenset({"linear", "gelu_tanh"}): "geglu_tanh",
    frozenset({"linear", "silu"}): "swiglu",
    frozenset({"linear", "relu"}): "reglu",
}


class Undefined(Exception):
    """phi cannot be evaluated: an operand whose value is unknown or differs per channel."""


class PerChannel(Undefined):
    """An operand whose values differ along the tensor (a per-channel scale)."""


class Unknown(Undefined):
    """A constant whose value a trace does not know: a number read from a tensor's shape
    (``y.shape[-1]``, ``y.numel()``) is the same for every element, not a second value that
    varies, but torch.fx traces no shapes."""


ConstantRule = Callable[[fx.Node], Any]


@dataclasses.dataclass
class Graph:
    """What the region finder needs of one graph: its module, the order of its nodes and the
    values of its constant nodes (``constant(node)`` raises :class:`Undefined` for a varying
    node or an unknown value)."""

    root: nn.Module
    order: dict[fx.Node, int]
    constant: ConstantRule

    def is_constant(self, node: fx.Node) -> bool:
        try:
            self.constant(node)
        except Unknown:
            return True
        except Undefined:
            return False
        return True


def scalar(value: Any) -> Any:
    """A constant as a Python number where it is one value, repeated or not."""
    if isinstance(value, Tensor):
        if value.numel() == 0 or value.is_meta:
            raise Undefined(f"a tensor operand of shape {tuple(value.shape)} without values")
        flat = value.detach().reshape(-1)
        first = flat[0]
        # NaN == NaN is False: a tensor of NaNs is one value (which no gain survives), not a
        # per-channel operand to skip as a norm's affine.
        if not bool(((flat == first) | (flat.isnan() & first.isnan())).all()):
            raise PerChannel(f"an operand of shape {tuple(value.shape)} whose values differ")
        return first.item()
    return value


def _varying(node: fx.Node, graph: Graph) -> list[fx.Node]:
    return [n for n in node.all_input_nodes if not graph.is_constant(n)]


def _affine(node: fx.Node, graph: Graph, kind: str) -> bool:
    """A scaling or shift by a constant (or a step that keeps the values)."""
    if kind == "same":
        return True
    name = arithmetic(node)
    if kind == "math":
        return _target_name(node) in ("neg", "negative", "pos")
    if name in ("add", "sub", "mul"):
        # x + x = 2x is a scaling; x * x and x - x (zero whatever the layer gives) are not.
        same = _same_operands(node) and name != "add"
        return len(_varying(node, graph)) == 1 and not same
    if name == "div":
        first = node.args[0]
        return (
            isinstance(first, fx.Node)
            and not graph.is_constant(first)
            and not any(isinstance(a, fx.Node) and not graph.is_constant(a) for a in node.args[1:2])
        )
    return False


def _target_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target).rstrip("_")
    return str(getattr(node.target, "__name__", node.target))


def _same_operands(node: fx.Node) -> bool:
    args = [a for a in node.args[:2] if isinstance(a, fx.Node)]
    return len(args) == 2 and args[0] is args[1]


@dataclasses.dataclass
class Region:
    """The elementwise region from ``source``: its steps in graph order, whether they are only
    scalings and shifts, and its exits (steps used outside it, or the source's own value)."""

    source: fx.Node
    members: list[fx.Node]
    kinds: dict[fx.Node, str]
    affine: bool
    exits: list[fx.Node]
    # Stopped at REGION_BUDGET steps with more to follow: what it computes is not known.
    truncated: bool = False

    def path(self, exit_node: fx.Node) -> list[fx.Node]:
        """The members ``exit_node`` is computed from, in order, ``exit_node`` included."""
        inside = set(self.members)
        needed = {exit_node}
        for node in reversed(self.members):
            if node in needed:
                needed.update(n for n in node.all_input_nodes if n in inside)
        return [node for node in self.members if node in needed]


def grow(
    source: fx.Node,
    graph: Graph,
    starts: Iterable[fx.Node],
    skip: Callable[[fx.Node, fx.Node], bool] = lambda node, user: False,
) -> Region | None:
    """The maximal elementwise region from ``source`` through the users ``starts``; ``None``
    when none of them is elementwise. ``skip(node, user)``: a use of a member that is not part
    of the region (the statistics of a norm written out, which start with ``x ** 2``)."""
    members: list[fx.Node] = []
    kinds: dict[fx.Node, str] = {}
    inside = {source}
    heap: list[tuple[int, int, fx.Node]] = []
    queued: set[fx.Node] = set()

    def push(users: Iterable[fx.Node]) -> None:
        for user in users:
            if user not in queued and user in graph.order:
                queued.add(user)
                heapq.heappush(heap, (graph.order[user], id(user), user))

    push(starts)
    while heap and len(members) < REGION_BUDGET:
        _, _, node = heapq.heappop(heap)
        kind = elementwise(node, graph.root)
        if kind is None or any(
            n not in inside and not graph.is_constant(n) for n in node.all_input_nodes
        ):
            continue
        if kind == "same" and node.args[:1] != (next(iter(_varying(node, graph)), None),):
            continue  # a template use, as x.view_as(other) of a constant
        members.append(node)
        kinds[node] = kind
        inside.add(node)
        push(
            user
            for user in node.users
            if not is_template_use(user, node) and user not in queued and not skip(node, user)
        )
    if not members:
        return None
    member_set = set(members)
    exits = [
        node
        for node in members
        if any(user not in member_set and not is_template_use(user, node) for user in node.users)
        or not node.users
    ]
    affine = all(_affine(node, graph, kinds[node]) for node in members)
    truncated = len(members) >= REGION_BUDGET and any(
        elementwise(node, graph.root) is not None for _, _, node in heap
    )
    return Region(source, members, kinds, affine, exits, truncated)


def _evaluate_args(value: Any, env: dict[fx.Node, Any], graph: Graph) -> Any:
    def substitute(arg: Any) -> Any:
        if isinstance(arg, fx.Node):
            if arg in env:
                return env[arg]
            return scalar(graph.constant(arg))
        if isinstance(arg, Tensor):
            return scalar(arg)
        return arg

    return fx.node.map_aggregate(value, substitute)


def _leading(path: list[fx.Node], region: Region, graph: Graph) -> set[fx.Node]:
    """The scalings and shifts that come first on ``path``: a norm's affine written out."""
    leading: set[fx.Node] = set()
    for node in path:
        varying = [n for n in node.all_input_nodes if not graph.is_constant(n)]
        if _affine(node, graph, region.kinds[node]) and all(
            n is region.source or n in leading for n in varying
        ):
            leading.add(node)
    return leading


def _step(node: fx.Node, kind: str, graph: Graph) -> Callable[[list[Any], dict[str, Any]], Any]:
    """How to evaluate ``node`` on float64 values, given its evaluated arguments."""
    if kind == "same":
        return lambda args, kwargs: args[0]
    if node.op == "call_module":
        phi = resolve(graph.root.get_submodule(str(node.target))).phi
        return lambda args, kwargs: phi(args[0])
    name = arithmetic(node)
    if name is not None:
        operation = ARITHMETIC_OPERATORS[name]

        def apply(args: list[Any], kwargs: dict[str, Any]) -> Any:
            # torch.add(input=a, other=b) passes both by keyword.
            first = args[0] if args else kwargs["input"]
            second = args[1] if len(args) > 1 else kwargs["other"]
            if len(args) > 2:  # torch's deprecated add(input, value, other): input + value * other
                second = args[1] * args[2]
            alpha = kwargs.get("alpha")
            if alpha is not None:
                second = second * alpha
            return operation(first, second)

        return apply
    if node.op == "call_method":
        method = str(node.target)
        if method.endswith("_"):
            method = method[:-1]
        return lambda args, kwargs: getattr(args[0], method)(*args[1:], **kwargs)
    target = cast(Callable[..., Any], node.target)

    def call(args: list[Any], kwargs: dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if k != "inplace"}
        return target(*args, **kwargs)

    return call


def function(region: Region, exit_node: fx.Node, graph: Graph) -> Callable[[Tensor], Tensor]:
    """phi: what the region computes from its source up to ``exit_node``, on a float64 tensor.
    Raises :class:`Undefined` when an operand has no single value."""
    path = region.path(exit_node)
    leading = _leading(path, region, graph)
    program: list[tuple[fx.Node, Callable[..., Any], Any, Any, bool]] = []
    for node in path:
        step = _step(node, region.kinds[node], graph)
        program.append((node, step, node.args, node.kwargs, node in leading))
    # Resolve the constants once, failing here rather than on every evaluation.
    probe_env: dict[fx.Node, Any] = {region.source: torch.zeros(())}
    for node, _, args, kwargs, is_leading in program:
        probe_env[node] = probe_env[region.source]
        try:
            _evaluate_args((args, kwargs), probe_env, graph)
        except PerChannel:
            if not is_leading:
                raise
    source = region.source

    def phi(x: Tensor) -> Tensor:
        env: dict[fx.Node, Any] = {source: x}
        for node, step, args, kwargs, _ in program:
            try:
                values, keywords = _evaluate_args((args, kwargs), env, graph)
            except PerChannel:
                # A per-channel scaling or shift first on the path is the norm's affine: a
                # pass-through, as the norm is.
                env[node] = next(env[n] for n in node.all_input_nodes if n in env)
                continue
            env[node] = step(list(values), dict(keywords))
        out = env[exit_node]
        if not isinstance(out, Tensor):
            out = torch.full_like(x, float(out))
        return out

    return phi


# --- Names and labels -------------------------------------------------------------------------


@functools.cache
def _builtin_outputs() -> tuple[tuple[str, Tensor], ...]:
    values = probe_values()
    found = []
    for name in _NAMES:
        record = builtin(name)
        if record is not None:
            phi = functools.partial(record.phi, **dict(record.defaults))
            found.append((name, phi(values.clone()).to(torch.float64)))
    return tuple(found)


def known_name(phi: Callable[[Tensor], Tensor]) -> str | None:
    """The built-in activation ``phi`` equals on the probe, if any."""
    values = probe_values()
    try:
        with torch.no_grad():
            out = phi(values.clone())
    except Exception:  # phi may refuse the probe; derived_gain says why
        return None
    if not isinstance(out, Tensor) or out.shape != values.shape:
        return None
    out = out.to(torch.float64)
    for name, reference in _builtin_outputs():
        if bool(((out - reference).abs() <= _SAME_FUNCTION * (1.0 + reference.abs())).all()):
            return name
    return None


_INFIX = {
    "add": (" + ", 1),
    "sub": (" - ", 1),
    "mul": (" * ", 2),
    "div": (" / ", 2),
    "pow": (" ** ", 3),
}


def render(region: Region, exit_node: fx.Node, graph: Graph) -> str:
    """phi as an expression of ``x``: ``x * sigmoid(1.702 * x)``."""
    text: dict[fx.Node, tuple[str, int]] = {region.source: ("x", 9)}

    def operand(arg: Any, level: int) -> str:
        if isinstance(arg, fx.Node) and arg in text:
            shown, own = text[arg]
            return f"({shown})" if own < level else shown
        try:
            value = scalar(graph.constant(arg) if isinstance(arg, fx.Node) else arg)
        except Undefined:
            return "c"
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    for node in region.path(exit_node):
        kind = region.kinds[node]
        name = arithmetic(node)
        args = list(node.args)
        if kind == "same":
            first = args[0] if args else None
            text[node] = text.get(first, ("x", 9)) if isinstance(first, fx.Node) else ("x", 9)
        elif (
            name is not None
            and (args or "input" in node.kwargs)
            and (len(args) >= 2 or "other" in node.kwargs)
        ):
            symbol, level = _INFIX[name]
            right = level + (0 if name in ("add", "mul") else 1)
            other = args[1] if len(args) >= 2 else node.kwargs["other"]
            alpha = node.kwargs.get("alpha")
            # torch's add and sub scale their second operand: the deprecated add(input, value,
            # other) and alpha= both mean input + value * other.
            scaled = (
                (args[1], args[2]) if len(args) > 2 else None if alpha is None else (alpha, other)
            )
            if scaled is None:
                second = operand(other, right)
            else:
                # a product binds tighter than either: x - 2 * y is x - (2 * y)
                second = f"{operand(scaled[0], 2)} * {operand(scaled[1], 3)}"
            first = args[0] if args else node.kwargs["input"]
            text[node] = (f"{operand(first, level)}{symbol}{second}", level)
        else:
            label = _target_name(node)
            if node.op == "call_module":
                label = type(graph.root.get_submodule(str(node.target))).__name__
            shown = [operand(a, 0) for a in args]
            shown += [f"{k}={v!r}" for k, v in node.kwargs.items() if k != "inplace"]
            text[node] = (f"{label}({', '.join(shown)})", 9)
    return text[exit_node][0]


def written_out(label: str, phi: Callable[[Tensor], Tensor]) -> ActivationSpec:
    """The spec of an activation written out: a built-in's name where phi equals it, else phi
    with its derived gain, labelled by its expression. Raises ValueError or TypeError where phi
    has no gain (not elementwise, unbounded moment)."""
    name = known_name(phi)
    if name is not None:
        return name
    _check_finite(label, phi)
    return Resolved(label, derived_gain(label, phi), phi)


def _check_finite(label: str, phi: Callable[[Tensor], Tensor]) -> None:
    """Refuse a phi with a pole on [-8, 8] (``relu(1 / x)`` at 0): its second moment is
    infinite, though a quadrature may return a large finite number for it."""
    with on_cpu(), torch.no_grad():  # a model built under `with torch.device("meta")`
        grid = torch.cat(
            [
                torch.zeros(1, dtype=torch.float64),
                torch.linspace(-8.0, 8.0, 32001, dtype=torch.float64),
            ]
        )
        out = phi(grid.clone())
    bad = ~torch.isfinite(out) if isinstance(out, Tensor) else torch.zeros(1, dtype=torch.bool)
    if bool(bad.any()):
        where = float(grid[bad.nonzero()[0, 0]]) if bad.numel() == grid.numel() else 0.0
        raise ValueError(
            f"activation {label} is not finite at z = {where:.6g}, so E[phi(z)^2] is infinite "
            "and it has no gain"
        )


# --- Gated units ----------------------------------------------------------------------------------


def moment_gain(spec: ActivationSpec) -> tuple[str, float]:
    """A half's name and the derived gain of its function, 1 / sqrt(E[phi(z)^2]): torch's
    table values (tanh 5/3, sigmoid 1) are no moments."""
    resolved = resolve(spec)
    if resolved.name == "linear":
        return "linear", 1.0
    return resolved.name, derived_gain(resolved.name, resolved.phi)


def _scaled(factor: float, x: Tensor) -> Tensor:
    return x * factor


def gated(left: ActivationSpec, right: ActivationSpec) -> Resolved:
    """The activation of a layer whose output is one half of ``left(a) * right(b)``: the gain
    g_a g_b of the product of independent halves; its function, for the mean-field maths, is the
    linear map of the same second moment."""
    (a, gain_a), (b, gain_b) = moment_gain(left), moment_gain(right)
    name = _GATES.get(frozenset({a, b}), f"gated({', '.join(sorted((a, b)))})")
    value = gain_a * gain_b
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"the gated unit {name} has no finite gain")
    return Resolved(name, value, functools.partial(_scaled, 1.0 / value))
