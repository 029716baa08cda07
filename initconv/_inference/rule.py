"""The inference rule, applied to a graph of what a model computes.

This module is where the rule is stated; everything else links here. A layer's activation is the
function that acts on its output before the next weight op, read by what it does, not by its
name. Every step on the way has a role, read from the one table of
:mod:`initconv._inference.roles` (activation, elementwise maths, weight op, pass-through, metadata
use):

- pass-throughs (norms, dropout, stochastic depth, pooling, reshapes, linear reductions,
  concatenation, residual adds) are followed; a path that reaches a weight op or the model's
  output is "linear";
- from a value on the path, the maximal region of elementwise steps whose only varying input is
  that value (constants and parameters allowed) is one function phi, and the activation is phi,
  with phi's derived gain; a built-in that phi equals keeps its name, and a region of scalings and
  shifts only is linear arithmetic, a pass-through (:mod:`initconv._inference.elementwise`);
- a product of two different values is a gated unit: ``phi_a(a) * phi_b(b)`` gets the gain of the
  law E[(phi_a(a) phi_b(b))^2] = E[phi_a(a)^2] E[phi_b(b)^2] for independent Gaussian halves, where
  the product reaches a weight op; a branch that only computes a multiplicative gate of the same
  tensor (squeeze-excite, a norm's statistics) is not a consumer of it
  (:mod:`initconv._inference.gates`), and the gate's own layer ends at its phi;
- a softmax (log-softmax, softmin) ends the path as "linear": its input is logits, whose scale
  is a temperature no gain preserves;
- a use that reaches a norm first (or a weight op whose output does) does not depend on the
  value's scale: where some uses do and others do not, the others decide; where all do and
  disagree, the value is linear (:func:`merge`);
- uses that only steer control flow or read the shape are not consumers; uses that lead to
  different activations, or through a step none of these is, leave the layer undecided, and
  convert() reports it as a fallback with the reason.

:class:`GraphWalk` applies the rule to a ``torch.fx`` graph, whether torch.fx traced it
(``symbolic``) or a run recorded it (``recorded``). The walk is iterative (:class:`Engine`): a
model a thousand residual blocks deep is no deeper for it than one block.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, fx, nn

from initconv._activations import ActivationSpec, module_class, resolve
from initconv._inference import elementwise as ew
from initconv._inference.gates import derived, is_gate
from initconv._inference.roles import (
    activation_name,
    arithmetic,
    elementwise,
    gated_halves,
    is_normalising,
    is_number_arithmetic,
    is_template_use,
    reads_size,
    role,
    steers_only,
)

__all__: list[str] = []


@dataclasses.dataclass(frozen=True)
class Inference:
    """An inference outcome: the activation (``None`` when unresolved) and how it was reached;
    ``normalised`` when the path normalises the value before anything else reads it (a norm
    first), so that this use does not depend on the value's scale."""

    spec: ActivationSpec | None
    detail: str
    normalised: bool = False


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


def is_linear(outcome: Inference | None) -> bool:
    """Whether ``outcome`` is the identity: "linear", or nothing uses the value."""
    return outcome is None or (outcome.spec is not None and spec_name(outcome.spec) == "linear")


# A value's outcome is computed once every outcome it depends on is known; ``Get`` returns a
# known outcome, or MISSING after noting that it is needed.
MISSING: Any = object()
Get = Callable[["GraphWalk", fx.Node], Any]
Follow = tuple["GraphWalk", fx.Node]
# What a walk does when a path leaves its graph: through the graph's output (an outcome, or the
# call sites to follow in the callers' walks), or into a module it only knows by name (an
# outcome, or the walk and node whose consumers are what the module does with the value).
OutputRule = Callable[[], "Inference | list[Follow] | None"]
EnterRule = Callable[
    ["GraphWalk", fx.Node, fx.Node], "Inference | tuple[GraphWalk, fx.Node] | None"
]


# How far the path from a weight op to its norm is followed: a reshape or two, a residual add.
_NORM_SEARCH = 64


def _model_output() -> Inference:
    return Inference("linear", "model output")


def _no_constants(node: fx.Node) -> Any:
    raise ew.Undefined(f"{node.name} varies with the input")


class Engine:
    """Outcomes of values, across the walks of one model, computed without recursion: a value
    is computed once the values it depends on are; a dependency on a value still waiting for
    its own dependencies is a cycle, which a graph cannot have (it guards a bad record)."""

    def __init__(self) -> None:
        self.memo: dict[tuple[GraphWalk, fx.Node], Inference | None] = {}

    def outcome(self, walk: GraphWalk, node: fx.Node) -> Inference | None:
        key = (walk, node)
        stack = [key]
        waiting: set[tuple[GraphWalk, fx.Node]] = set()
        while stack:
            current = stack[-1]
            if current in self.memo:
                stack.pop()
                waiting.discard(current)
                continue
            needed: list[tuple[GraphWalk, fx.Node]] = []
            result = current[0].compute(current[1], functools.partial(self._get, needed, waiting))
            if needed:
                waiting.add(current)
                stack.extend(dict.fromkeys(needed))
                continue
            self.memo[current] = result
            stack.pop()
            waiting.discard(current)
        return self.memo[key]

    def _get(
        self,
        needed: list[tuple[GraphWalk, fx.Node]],
        waiting: set[tuple[GraphWalk, fx.Node]],
        walk: GraphWalk,
        value: fx.Node,
    ) -> Any:
        wanted = (walk, value)
        if wanted in self.memo:
            return self.memo[wanted]
        if wanted in waiting:
            return None
        needed.append(wanted)
        return MISSING


# Tensors each element of which holds one number whatever their shape or the tensor they are
# shaped like: the number, or where it is given (argument index, keyword).
_FILL_FUNCTIONS: dict[Any, float | tuple[int, str]] = {
    torch.zeros_like: 0.0,
    torch.ones_like: 1.0,
    torch.full_like: (1, "fill_value"),
    torch.zeros: 0.0,
    torch.ones: 1.0,
    torch.full: (1, "fill_value"),
}
_FILL_METHODS: dict[str, float | tuple[int, str]] = {
    "new_zeros": 0.0,
    "new_ones": 1.0,
    "new_full": (2, "fill_value"),
    "fill_": (1, "value"),
}


def _filled(node: fx.Node, constant: Callable[[fx.Node], Any]) -> Tensor | None:
    """The one number every element of a filled tensor holds (``torch.zeros_like(y)``,
    ``full_like(y, c)``, ``y.new_full(size, c)``, ``torch.ones(y.shape)``, ...), as a 0-d tensor
    of the ``dtype=`` asked for (float64 where it is y's, which a trace does not know): a
    constant, whatever ``y`` holds or its shape (a run records it as one). ``constant``
    evaluates a fill given as a node (a tensor the model holds)."""
    try:
        if node.op == "call_function" and node.target in _FILL_FUNCTIONS:
            where = _FILL_FUNCTIONS[node.target]
        elif node.op == "call_method" and node.target in _FILL_METHODS:
            where = _FILL_METHODS[str(node.target)]
        else:
            return None
    except TypeError:  # an unhashable target
        return None
    if isinstance(where, float):
        fill: Any = where
    else:
        index, keyword = where
        fill = node.args[index] if len(node.args) > index else node.kwargs.get(keyword)
        if isinstance(fill, fx.Node):
            try:
                fill = constant(fill)
            except ew.Unknown:
                raise  # a constant still, of a value the trace does not know
            except ew.Undefined:
                return None
    if isinstance(fill, Tensor):
        if fill.numel() != 1 or fill.is_complex():
            return None
        fill = fill.reshape(())
    elif not isinstance(fill, (bool, int, float)):
        return None
    dtype = node.kwargs.get("dtype")
    value = torch.as_tensor(fill, device="cpu")
    if isinstance(dtype, torch.dtype):
        return value.to(dtype)
    if node.target is torch.full and not isinstance(fill, Tensor):
        return value if not value.is_floating_point() else value.double()  # as torch infers
    return value.double()


def _pending(*values: Any) -> bool:
    return any(value is MISSING for value in values)


class GraphWalk:
    """Follows each node of one graph forward to the activation that consumes it.

    ``on_output`` says what a path that reaches the graph's output leads to (``"linear"`` for a
    whole model's graph); ``enter(walk, node, source)`` what the module called by ``node`` does
    with the value ``source`` it is given, for modules that are neither leaves nor traced into;
    ``constant(node)`` the value of a node that does not vary with the input (a parameter read
    by ``get_attr``), raising :class:`initconv._inference.elementwise.Undefined` otherwise.
    """

    def __init__(
        self,
        root: nn.Module,
        prefix: str = "",
        on_output: OutputRule = _model_output,
        enter: EnterRule | None = None,
        constant: ew.ConstantRule = _no_constants,
        engine: Engine | None = None,
    ) -> None:
        self.root = root
        self.prefix = prefix
        self.on_output = on_output
        self.enter = enter
        self.constant_rule = constant
        self.engine = engine or Engine()
        self._graph: ew.Graph | None = None
        self._constants: dict[fx.Node, ew.Undefined] = {}
        self._regions: dict[fx.Node, ew.Region | None] = {}
        self._functions: dict[tuple[fx.Node, fx.Node], Inference] = {}

    # --- the graph ---------------------------------------------------------------------------

    def graph(self, node: fx.Node) -> ew.Graph:
        if self._graph is None:
            order = {n: i for i, n in enumerate(node.graph.nodes)}
            self._graph = ew.Graph(self.root, order, self._constant)
        return self._graph

    def _constant(self, node: fx.Node) -> Any:
        """The value of a node computed from constants only (iteratively: one level of
        ``self.weight[:, None, None]`` is a get_attr and a getitem). A read of a tensor's shape
        is a constant of unknown value (:class:`initconv._inference.elementwise.Unknown`), and
        so is what is computed from such reads and constants; a node computed from a value that
        varies is no constant."""
        if node in self._constants:
            raise self._constants[node]
        if node.op == "get_attr":
            return self.constant_rule(node)
        filled = _filled(node, self._constant)
        if filled is not None:
            return filled
        if reads_size(node):
            read = ew.Unknown("c is read from a shape, which a trace does not know")
            self._constants[node] = read
            raise read
        if node.op not in ("call_function", "call_method") or not node.all_input_nodes:
            self._constants[node] = ew.Undefined(f"{node.name} varies with the input")
            raise self._constants[node]
        values: list[Any] = []
        unknown: ew.Undefined | None = None
        for n in node.all_input_nodes:
            try:
                values.append(self._constant(n))
            except ew.Unknown as error:
                unknown = unknown or error
            except ew.Undefined as error:
                self._constants[node] = error
                raise
        if unknown is not None:
            # A number computed from shapes is one number; a tensor made from one
            # (torch.arange(y.shape[1])) may differ per element, a value of its own.
            if not is_number_arithmetic(node):
                unknown = ew.Undefined(f"{node.name} varies with the input")
            self._constants[node] = unknown
            raise unknown
        env = dict(zip(node.all_input_nodes, values, strict=False))
        args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda n: env[n])
        try:
            if node.op == "call_method":
                return getattr(args[0], str(node.target))(*args[1:], **kwargs)
            return node.target(*args, **kwargs)  # type: ignore[operator]
        except Exception as error:  # evaluating a model's own constant expression
            raise ew.Undefined(f"{node.name}: {type(error).__name__}") from error

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
        return self.engine.outcome(self, node)

    # --- one value ---------------------------------------------------------------------------

    def compute(self, node: fx.Node, get: Get) -> Any:
        # The region first: a formula written out (x + 0.044715 x^3 inside tanh, times x) is no
        # gate branch of x, though its steps are those of one.
        users = [
            user
            for user in node.users
            if not is_template_use(user, node)
            and not steers_only(user)
            and not is_gate(node, user, self.root, strict=True)
        ]
        region = self.region(node, users)
        members = set(region.members) if region is not None else set()
        outcomes = [
            self._classify(user, node, get)
            for user in users
            if user not in members and not is_gate(node, user, self.root)
        ]
        if region is not None:
            outcomes.append(self._region(region, get))
        if _pending(*outcomes):
            return MISSING
        return merge(outcomes)

    def region(self, node: fx.Node, users: list[fx.Node]) -> ew.Region | None:
        if node not in self._regions:
            starts = [user for user in users if elementwise(user, self.root) is not None]
            self._regions[node] = (
                ew.grow(node, self.graph(node), starts, self._statistics) if starts else None
            )
        return self._regions[node]

    def _statistics(self, node: fx.Node, user: fx.Node) -> bool:
        return is_gate(node, user, self.root, strict=True)

    def _classify(self, node: fx.Node, source: fx.Node, get: Get) -> Any:
        label = self.label(node)
        step = role(node, self.root)
        if step == "output":
            return self._leave(get)
        if step == "meta":
            return None
        if step == "weight":
            if self._normalised_output(node):
                return Inference("linear", f"next weight layer {label}, then a norm", True)
            return Inference("linear", f"next weight layer {label}")
        if step == "logits":
            return Inference("linear", f"logits of {label}")
        if arithmetic(node) == "mul" and self._other(node, source) is not None:
            return self._product(source, Inference("linear", ""), node, get)
        if step == "pass":
            followed = self.follow(node, label, get)
            if is_normalising(node, self.root) and isinstance(followed, Inference):
                return dataclasses.replace(followed, normalised=True)
            return followed
        halves = gated_halves(node, self.root)
        if halves is not None:
            beyond = get(self, node)
            if beyond is MISSING:
                return MISSING
            if not is_linear(beyond):
                return Inference(None, f"the gated unit {label} is followed by {beyond.detail}")
            try:
                spec = ew.gated(*halves)
            except (TypeError, ValueError) as error:
                return Inference(None, f"gated unit {label}: {error}")
            where = "" if beyond is None else f" > {beyond.detail}"
            return Inference(spec, f"{label}{where}")
        if step == "activation":
            return self._single(node, label)
        if step == "module":
            if self.enter is not None:
                entered = self.enter(self, node, source)
                if isinstance(entered, tuple):
                    walk, entry = entered
                    beyond = get(walk, entry)
                    if beyond is MISSING or beyond is None:
                        return beyond
                    return Inference(beyond.spec, f"{label} > {beyond.detail}")
                return entered
            module = self.root.get_submodule(str(node.target))
            return Inference(
                None, f"{label} ({type(module).__name__}) is no activation, weight layer or norm"
            )
        return Inference(None, f"{label} is neither an activation nor a known pass-through")

    def _normalised_output(self, node: fx.Node) -> bool:
        """Whether every use of ``node``'s output reaches a norm through pass-throughs only (a
        conv followed by its BatchNorm): the weight op is linear, so the norm divides the scale
        of the value it takes out as well."""
        frontier, seen, found = [node], {node}, False
        while frontier:
            current = frontier.pop()
            for user in current.users:
                if is_template_use(user, current) or steers_only(user):
                    continue
                step = role(user, self.root)
                if step == "meta":
                    continue
                if is_normalising(user, self.root):
                    found = True
                    continue
                if step != "pass" or len(seen) >= _NORM_SEARCH:
                    return False
                if user not in seen:
                    seen.add(user)
                    frontier.append(user)
        return found

    def _leave(self, get: Get) -> Any:
        left = self.on_output()
        if not isinstance(left, list):
            return left
        outcomes = [walk.follow(node, walk.label(node), get) for walk, node in left]
        return MISSING if _pending(*outcomes) else merge(outcomes)

    def follow(self, node: fx.Node, label: str, get: Get | None = None) -> Any:
        """What follows ``node`` (a pass-through), prefixed with its label."""
        beyond = get(self, node) if get is not None else self.consumers(node)
        if beyond is MISSING or beyond is None:
            return beyond  # a value nothing uses (``out, _ = attention(x)``) is no consumer
        return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")

    def _single(self, node: fx.Node, label: str) -> Inference:
        """A built-in activation, named as the module or call names it."""
        if node.op == "call_module":
            return checked(self.root.get_submodule(str(node.target)), label)
        name = str(activation_name(node))
        return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))

    # --- regions of elementwise maths, and products -------------------------------------------

    def _region(self, region: ew.Region, get: Get) -> Any:
        if region.truncated:
            return Inference(
                None,
                f"the elementwise steps after {self.label(region.source)} run past "
                f"{ew.REGION_BUDGET}, more than are followed",
            )
        if region.affine:
            outcomes = [self.follow(node, self.label(node), get) for node in region.exits]
            return MISSING if _pending(*outcomes) else merge(outcomes)
        members = set(region.members)
        outcomes = []
        for node in region.exits:
            phi = self.function(region, node)
            after = [
                user
                for user in node.users
                if user not in members and not is_template_use(user, node)
            ]
            products = [
                user
                for user in after
                if arithmetic(user) == "mul" and self._other(user, node) is not None
            ]
            if phi.spec is None:
                outcomes.append(phi)
                continue
            outcomes += [self._product(node, phi, user, get) for user in products]
            # A step the rule does not know changes the function on its way to the next layer
            # (1 - 2 tanh(x) is no tanh): no answer, as where it comes before the activation.
            outcomes += [
                Inference(
                    None,
                    f"{self.label(user)} after {phi.detail} is neither an activation nor a known "
                    "pass-through",
                )
                for user in after
                if user not in products
                and role(user, self.root) == "other"
                and not steers_only(user)
                and not is_gate(node, user, self.root)
            ]
            if len(products) < len(after) or not after:
                outcomes.append(phi)
        return MISSING if _pending(*outcomes) else merge(outcomes)

    def function(self, region: ew.Region, node: fx.Node) -> Inference:
        """The activation the region computes from its source up to ``node``."""
        key = (region.source, node)
        if key not in self._functions:
            self._functions[key] = self._describe(region, node)
        return self._functions[key]

    def _describe(self, region: ew.Region, node: fx.Node) -> Inference:
        graph = self.graph(node)
        steps = [n for n in region.path(node) if region.kinds[n] != "same"]
        if not steps:
            return Inference("linear", self.label(node))
        if len(steps) == 1 and region.kinds[steps[0]] == "activation":
            single = self._single(steps[0], self.label(steps[0]))
            if single.spec is not None:
                return single
        label = ew.render(region, node, graph)
        try:
            phi = ew.function(region, node, graph)
            return Inference(ew.written_out(label, phi), label)
        except ew.Undefined as error:
            return Inference(None, f"{label}: {error}, so it is no one activation")
        except (TypeError, ValueError) as error:
            return Inference(None, f"{label}: {error}")

    def _other(self, product: fx.Node, value: fx.Node) -> fx.Node | None:
        """The other factor of ``product``, if it is a different value that varies."""
        factors = [a for a in product.args[:2] if isinstance(a, fx.Node)]
        if len(factors) != 2 or value not in factors or factors[0] is factors[1]:
            return None
        other = factors[1] if factors[0] is value else factors[0]
        return None if self.graph(product).is_constant(other) else other

    def half(self, value: fx.Node) -> Inference:
        """The function a factor is of the value it is computed from by elementwise steps
        (``sigmoid`` for ``sigmoid(b)``; linear for a layer's output itself)."""
        graph = self.graph(value)
        members: set[fx.Node] = set()
        roots: set[fx.Node] = set()
        stack = [value]
        while stack:
            node = stack.pop()
            if node in members or node in roots:
                continue
            if elementwise(node, self.root) is None:
                roots.add(node)
                continue
            if len(members) >= ew.REGION_BUDGET:
                # A step beyond the budget would be read as the factor's source, and the steps
                # before it dropped from its function: not known, as for a region.
                return Inference(
                    None,
                    f"{self.label(value)} is computed by elementwise steps that run past "
                    f"{ew.REGION_BUDGET}, more than are followed",
                )
            members.add(node)
            stack.extend(n for n in node.all_input_nodes if not graph.is_constant(n))
        if not members:
            return Inference("linear", self.label(value))
        if len(roots) != 1:
            return Inference(None, f"{self.label(value)} is computed from several values")
        (root,) = roots
        ordered = sorted(members, key=graph.order.__getitem__)
        kinds = {n: str(elementwise(n, self.root)) for n in ordered}
        region = ew.Region(root, ordered, kinds, False, [value])
        return self.function(region, value)

    def _product(self, value: fx.Node, phi: Inference, product: fx.Node, get: Get) -> Any:
        """What the product of ``phi(value)`` with another value leads to."""
        other = self._other(product, value)
        label = self.label(product)
        if other is None:
            return phi
        if derived(other, value):
            # A gate computed from the value itself (squeeze-excite): the value goes on.
            return self.follow(product, label, get) if is_linear(phi) else phi
        if derived(value, other):
            return phi  # this value is that gate: its activation ends at the product
        half = self.half(other)
        if half.spec is None:
            return Inference(None, f"a product with a value of unknown law: {half.detail}")
        beyond = get(self, product)
        if beyond is MISSING:
            return MISSING
        if is_linear(phi) and is_linear(half):
            # A product of two linear values (a mask, a modulation such as adaptive norms'
            # x * (1 + scale)): what follows it is the activation, as after a residual sum.
            if beyond is None:
                return None
            return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")
        if is_linear(beyond) and phi.spec is not None:
            try:
                spec = ew.gated(phi.spec, half.spec)
            except (TypeError, ValueError) as error:
                return Inference(None, f"gated unit {label}: {error}")
            where = "" if beyond is None else f" > {beyond.detail}"
            return Inference(spec, f"{label}({phi.detail or 'x'}, {half.detail}){where}")
        if beyond.spec is None:
            return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")
        return Inference(None, f"the gated unit {label} is followed by {beyond.detail}")


def merge(outcomes: list[Inference | None]) -> Inference | None:
    """What several uses of one value lead to together: the activation they agree on, the first
    unresolved one, or unresolved when they disagree; ``None`` when none uses its values.

    A use that normalises the value first (a norm, then whatever follows) is the same at any
    scale of the value, so the value's gain means nothing to it: where some uses do not
    normalise, those decide (the diffusers ResNet block whose output goes to the next block's
    GroupNorm and SiLU, and to its shortcut conv, is linear); where every use normalises and
    they lead to different activations, no gain changes what the model computes, and the value
    is linear."""
    found = [outcome for outcome in outcomes if outcome is not None]
    if not found:
        return None
    scaled = [outcome for outcome in found if not outcome.normalised]
    if scaled and len(scaled) < len(found):
        decided = _agreed(scaled)
        if decided.spec is None:
            return decided
        note = " (the other uses pass a norm first)"
        detail = decided.detail if decided.detail.endswith(note) else decided.detail + note
        return dataclasses.replace(decided, detail=detail)
    return _agreed(found)


def _agreed(found: list[Inference]) -> Inference:
    unresolved = [outcome for outcome in found if outcome.spec is None]
    normalised = all(outcome.normalised for outcome in found)
    if unresolved:
        return dataclasses.replace(unresolved[0], normalised=normalised)
    names = {spec_name(outcome.spec) for outcome in found if outcome.spec is not None}
    if len(names) > 1:
        paths = "; ".join(sorted({outcome.detail for outcome in found}))
        if normalised:
            # Every use divides the value's scale out: any gain computes the same function, and
            # the identity's keeps the value at the scale of the layer's input.
            return Inference("linear", f"every use passes a norm first ({paths})", True)
        return Inference(None, f"several different consumers ({paths})", normalised)
    return dataclasses.replace(found[0], normalised=normalised)


def combine(results: list[Inference]) -> Inference:
    """One outcome for a layer called more than once: the same activation each time, or none."""
    names = {None if r.spec is None else spec_name(r.spec) for r in results}
    if len(names) == 1:
        return results[0]
    return Inference(None, "called more than once, with different activations")
