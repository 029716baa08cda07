"""Residual branches, read from the graph torch.fx traces (the one :func:`initconv.convert` reads).

A residual sum adds paths from a common fork: the shortcut, with the fewest weight layers (none, or
a projection), and one branch or more (a parallel block ``x + attn(h) + mlp(h)`` has two). A chain
of adds whose partial sums nothing else uses is one sum, so each of its paths is found once. A
branch is the path from the fork to the sum; its layers are the weight layers on it that no branch
nested inside it holds, in the order they run.

A weight layer is any step that holds weights: one of the seven kinds, an ``nn.Bilinear``, an
``nn.MultiheadAttention`` (its ``out_proj`` is the linear map that zeroes or scales its output), a
functional weight op (``F.linear``, a convolution, a matmul or einsum) on a Parameter, and any
other module with parameters that is neither a norm nor an activation. Which of them can be zeroed
or scaled, and whether zeroing one makes the branch output exactly zero, is read from the graph:
each step after it must map zeros to zeros (a product, a linear map without bias, an activation
with f(0) = 0, a reshape, a norm as its own init leaves it).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.nn.utils import parametrize

from initconv._activations import is_activation_module
from initconv._inference.copies import copy_error, structural_copy
from initconv._inference.roles import is_leaf, is_pass_module, role
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
_CONSTANT_PADS = tuple(
    getattr(nn, f"ConstantPad{d}d") for d in (1, 2, 3) if hasattr(nn, f"ConstantPad{d}d")
)


def _existing(owner: object, names: str) -> frozenset[Any]:
    return frozenset(getattr(owner, name) for name in names.split() if hasattr(owner, name))


# How a step treats zeros in its inputs. A product is zero where any factor is; a quotient where
# its numerator is; a sum, concatenation or stack where every part is.
_PRODUCTS = _existing(operator, "mul imul matmul") | _existing(
    torch, "mul multiply matmul mm bmm einsum outer kron"
)
_PRODUCT_METHODS = frozenset({"mul", "mul_", "matmul", "mm", "bmm", "multiply"})
_QUOTIENTS = _existing(operator, "truediv itruediv") | _existing(torch, "div true_divide")
_QUOTIENT_METHODS = frozenset({"div", "div_", "true_divide"})
_SUMS = _existing(operator, "add iadd sub isub") | _existing(
    torch, "add sub subtract cat concat concatenate stack hstack vstack"
)
_SUM_METHODS = frozenset({"add", "add_", "sub", "sub_"})
# Maps that are linear in their first argument and take a weight, and optionally a bias that is
# added after: (weight position, bias position).
_WEIGHT_FUNCTIONS: dict[Callable[..., Any], tuple[int, int]] = {
    fn: (1, 2)
    for fn in _existing(
        F, "linear conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d"
    )
    | _existing(torch, "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d")
}
# Ops whose output is linear in each operand, without a bias: matmul(x, W), einsum(eq, x, W).
_MULTILINEAR = _existing(operator, "matmul") | _existing(torch, "matmul mm bmm einsum")
_MULTILINEAR_METHODS = frozenset({"matmul", "mm", "bmm"})
# Functional norms map zeros to their bias (and a batch norm's running mean), which are the user's.
_FUNCTIONAL_NORMS = _existing(F, "batch_norm instance_norm layer_norm group_norm")
# Steps from a parameter to the operand a weight op reads: a linear rearrangement of its values.
_VIEW_METHODS = frozenset(
    {
        "t",
        "T",
        "mT",
        "transpose",
        "permute",
        "view",
        "reshape",
        "contiguous",
        "unsqueeze",
        "squeeze",
    }
    | {"flatten", "to", "float", "double", "half", "bfloat16", "type_as", "expand", "expand_as"}
)
_VIEW_FUNCTIONS = _existing(torch, "t transpose permute reshape unsqueeze squeeze flatten")
# Steps a SkipInit gate commutes with: y -> c * y passes through them unchanged for every scalar
# c, so gating the module before them scales the branch.
_LINEAR_METHODS = frozenset(
    {"view", "reshape", "permute", "transpose", "contiguous", "clone", "to", "float", "double"}
    | {"half", "bfloat16", "flatten", "unflatten", "squeeze", "unsqueeze", "sum", "mean", "neg"}
    | {"expand", "mul", "mul_", "div", "div_", "type_as"}
)
_LINEAR_FUNCTIONS = (
    _existing(torch, "flatten reshape permute transpose squeeze unsqueeze sum mean neg mul div")
    | _existing(operator, "mul imul truediv itruediv neg pos")
    | _existing(F, "dropout dropout1d dropout2d dropout3d")
)

UnitKind = Literal["layer", "attention", "functional", "opaque"]


def _stored(module: nn.Module) -> bool:
    """Whether ``module.weight`` is a Parameter (or a parametrized one) that a write reaches."""
    return "weight" in module._parameters or parametrize.is_parametrized(module, "weight")


@dataclasses.dataclass(frozen=True)
class Unit:
    """One weight layer of a branch.

    ``name`` is its module's qualified name (for a functional op, its parameter's); ``zeros`` are
    the tensors (qualified names) whose zeros make its output zero, ``scales`` the one whose
    scaling by c scales its output's linear part by c; both are empty for an ``"opaque"`` unit,
    which :attr:`detail` explains. ``shared`` says why changing it would change something else
    too (it runs twice, or a Parameter is tied), or is ``None``.
    """

    name: str
    module: str
    kind: UnitKind
    zeros: tuple[str, ...]
    scales: tuple[str, ...]
    detail: str
    shared: str | None = None


@dataclasses.dataclass(frozen=True)
class Branch:
    """One residual branch: its weight layers in run order, the one whose zeros zero the branch
    (``cut``, an index into ``units``; ``None`` with the reason in ``cut_reason``), the affine norm
    after its last weight layer whose zero scale zeroes it (if any), the module whose output a
    gate can scale (``end``; ``None`` with the reason in ``end_reason``) and the shortcut's
    weight layers. ``sum`` names the add the branch enters; ``modules`` lists every module the
    branch runs between the fork and the add (weight layers, norms, activations), in run order."""

    name: str
    sum: str
    units: tuple[Unit, ...]
    cut: int | None
    cut_reason: str
    norm: str | None
    end: str | None
    end_reason: str
    shortcut: tuple[str, ...]
    modules: tuple[str, ...] = ()

    @property
    def layers(self) -> tuple[str, ...]:
        """The names of its weight layers, in run order."""
        return tuple(unit.name for unit in self.units)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An add that was not taken for residual branches, with the reason; ``residual`` says that
    it is a residual sum whose branches cannot be changed (as opposed to not a residual at all)."""

    name: str
    reason: str
    residual: bool = False


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


def _in(node: fx.Node, functions: frozenset[Any], methods: frozenset[str]) -> bool:
    if node.op == "call_function":
        return node.target in functions
    return node.op == "call_method" and node.target in methods


def _zero_at_zero(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bool:
    """Whether ``function(0, *args, **kwargs)`` is exactly 0 (an activation's f(0))."""
    try:
        with torch.no_grad():
            value = function(torch.zeros(1), *args, **kwargs)
    except Exception:  # a third party's activation that needs more than a scalar: not known
        return False
    return isinstance(value, Tensor) and value.device.type != "meta" and bool((value == 0).all())


class _Reader:
    """Finds the branches of one traced graph."""

    def __init__(self, root: nn.Module, graph: fx.Graph, prefix: str, tied: set[str]) -> None:
        self.root, self.graph, self.prefix, self.tied = root, graph, prefix, tied
        self.order = {node: i for i, node in enumerate(graph.nodes)}
        self.memo: dict[fx.Node, frozenset[fx.Node]] = {}
        self.calls: dict[str, int] = {}
        self.data: set[fx.Node] = set()  # nodes that depend on an input of the forward
        for node in graph.nodes:
            if node.op == "call_module":
                self.calls[str(node.target)] = self.calls.get(str(node.target), 0) + 1
            # A use of a tensor's shape only (x.new_empty(x.shape) for a drop-path mask) is
            # not a value of the forward's inputs.
            meta = node.op != "call_module" and role(node, root) == "meta"
            if node.op == "placeholder" or (
                not meta and any(n in self.data for n in node.all_input_nodes)
            ):
                self.data.add(node)
        self.units: dict[fx.Node, Unit] = {}
        for node in graph.nodes:
            unit = self._unit(node)
            if unit is not None:
                self.units[node] = unit
        self.owned: set[fx.Node] = set()
        self.names: set[str] = set()

    def module(self, node: fx.Node) -> nn.Module | None:
        return self.root.get_submodule(str(node.target)) if node.op == "call_module" else None

    # Weight layers.

    def _parameter(self, node: object) -> str | None:
        """The Parameter (its name in the traced module) that ``node`` rearranges, if any."""
        while isinstance(node, fx.Node):
            if node.op == "get_attr":
                target = str(node.target)
                try:
                    value = self.root.get_parameter(target)
                except AttributeError:
                    return None
                return target if isinstance(value, nn.Parameter) else None
            viewing = (
                (node.op == "call_method" and node.target in _VIEW_METHODS)
                or (node.op == "call_function" and node.target in _VIEW_FUNCTIONS)
                or (node.op == "call_function" and node.target is getattr)
            )
            if not viewing or not node.args:
                return None
            node = node.args[0]
        return None

    def _held(self, node: fx.Node) -> list[str]:
        """The Parameters a weight computed from Parameters (a standardised weight) reads."""
        found: list[str] = []
        for n in _ancestors(node, self.memo):
            if n.op == "get_attr" and self._parameter(n) is not None:
                found.append(str(n.target))
        return sorted(found)

    def _uses(self, target: str) -> int:
        """How many steps read the Parameter ``target``, through rearrangements."""
        count = 0
        stack = [n for n in self.graph.nodes if n.op == "get_attr" and str(n.target) == target]
        while stack:
            node = stack.pop()
            for user in node.users:
                if self._parameter(user) == target:
                    stack.append(user)
                else:
                    count += 1
        return count

    def _tied(self, node: fx.Node) -> bool:
        """Whether a Parameter of ``node``'s module is also reached under another name."""
        module = self.module(node)
        return module is not None and any(
            f"{self.prefix}{node.target}.{name}" in self.tied
            for name, _ in module.named_parameters(remove_duplicate=False)
        )

    def _unit(self, node: fx.Node) -> Unit | None:
        name = f"{self.prefix}{node.target}"
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            if is_pass_module(module) or is_activation_module(module):
                return None
            if next(iter(module.parameters()), None) is None:
                return None
            shared = None
            if self.calls[str(node.target)] > 1:
                shared = f"{name} runs more than once"
            elif self._tied(node):
                shared = f"{name} shares a Parameter with another module"
            if isinstance(module, (*KINDS, nn.Bilinear)) and not _stored(module):
                # The deprecated torch.nn.utils.weight_norm and spectral_norm recompute .weight
                # from other Parameters before every forward: a value written into it is lost.
                what = (
                    f"a {type(module).__name__} whose weight a forward pre-hook recomputes from "
                    "other Parameters (the deprecated torch.nn.utils.weight_norm or "
                    "spectral_norm), so a value written into it is lost"
                )
                return Unit(name, name, "opaque", (), (), what, shared)
            if isinstance(module, (*KINDS, nn.Bilinear)):
                zeros: tuple[str, ...] = (f"{name}.weight",)
                zeros += (f"{name}.bias",) if getattr(module, "bias", None) is not None else ()
                what = f"a {type(module).__name__}"
                return Unit(name, name, "layer", zeros, (f"{name}.weight",), what, shared)
            if isinstance(module, nn.MultiheadAttention):
                out = f"{name}.out_proj"
                zeros = (f"{out}.weight",)
                zeros += (f"{out}.bias",) if module.out_proj.bias is not None else ()
                what = "an nn.MultiheadAttention: its out_proj"
                return Unit(name, name, "attention", zeros, (f"{out}.weight",), what, shared)
            what = (
                f"a {type(module).__name__} holds weights, but which of them zero or scale its "
                "output is not known"
            )
            return Unit(name, name, "opaque", (), (), what, shared)
        if node.op not in ("call_function", "call_method") or role(node, self.root) != "weight":
            return None
        parameters = [p for p in map(self._parameter, node.all_input_nodes) if p is not None]
        parameters += [p for n in node.all_input_nodes if n not in self.data for p in self._held(n)]
        parameters = list(dict.fromkeys(parameters))
        if not parameters:
            return None  # a product of two activations (attention's scores): no weights
        owner = parameters[0].rpartition(".")[0]
        label = f"{self.prefix}{parameters[0]}"
        target = node.target
        shared = None
        if any(self._uses(p) > 1 for p in parameters):
            shared = f"{label} is read more than once"
        elif any(f"{self.prefix}{p}" in self.tied for p in parameters):
            shared = f"{label} is tied to another Parameter"
        if node.op == "call_function" and target in _WEIGHT_FUNCTIONS:
            at, bias_at = _WEIGHT_FUNCTIONS[target]
            args = list(node.args) + [None] * 3
            weight, bias = self._parameter(args[at]), node.kwargs.get("bias", args[bias_at])
            bias_name = self._parameter(bias)
            if weight is not None and (bias is None or bias_name is not None):
                zeros = tuple(f"{self.prefix}{p}" for p in (weight, bias_name) if p is not None)
                what = f"{getattr(target, '__name__', target)} on {self.prefix}{weight}"
                return Unit(
                    label, f"{self.prefix}{owner}", "functional", zeros, zeros[:1], what, shared
                )
        elif _in(node, _MULTILINEAR, _MULTILINEAR_METHODS) and len(parameters) == 1:
            what = f"{getattr(target, '__name__', target)} with {label}"
            return Unit(
                label, f"{self.prefix}{owner}", "functional", (label,), (label,), what, shared
            )
        what = f"{getattr(target, '__name__', target)} reads {label}, but not as a zeroable weight"
        return Unit(label, f"{self.prefix}{owner}", "opaque", (), (), what, shared)

    # Zeros, and where a gate goes.

    def _maps_zero(self, node: fx.Node, zero: set[fx.Node], first: set[fx.Node]) -> bool:
        """Whether ``node`` is exactly zero where its inputs in ``zero`` are (and element 0 of
        the tuples in ``first``), whatever its other inputs are."""
        if node.op == "call_function" and node.target is operator.getitem:
            source = node.args[0]
            return source in zero or (source in first and bool(node.args[1] == 0))
        inputs = node.all_input_nodes
        if not any(n in zero for n in inputs):
            return False
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            if is_activation_module(module):
                return _zero_at_zero(module, (), {})
            if is_pass_module(module):
                # A norm as its own init leaves it (shift 0, running mean 0) maps zeros to zeros.
                return not isinstance(module, _CONSTANT_PADS) or float(module.value) == 0.0
            if isinstance(module, KINDS):
                return getattr(module, "bias", None) is None
            return False
        if node.op not in ("call_function", "call_method"):
            return False
        if node.op == "call_function" and node.target in _WEIGHT_FUNCTIONS:
            _, bias_at = _WEIGHT_FUNCTIONS[node.target]
            args = list(node.args) + [None] * 3
            return node.kwargs.get("bias", args[bias_at]) is None
        if _in(node, _PRODUCTS, _PRODUCT_METHODS):
            return True
        if _in(node, _QUOTIENTS, _QUOTIENT_METHODS):
            return node.args[0] in zero
        if _in(node, _SUMS, _SUM_METHODS):
            # The parts of a sum are its first two arguments; of a concatenation, its list.
            parts = node.args[0] if isinstance(node.args[0], (list, tuple)) else node.args[:2]
            return all(p in zero if isinstance(p, fx.Node) else p == 0 for p in parts)
        if node.op == "call_function" and node.target in _FUNCTIONAL_NORMS:
            return False
        kind = role(node, self.root)
        if kind == "activation":
            others = [*node.args[1:], *node.kwargs.values()]
            if inputs != [node.args[0]] or any(isinstance(a, fx.Node) for a in others):
                return False
            target = node.target
            function = getattr(Tensor, target) if isinstance(target, str) else target
            return _zero_at_zero(function, tuple(node.args[1:]), dict(node.kwargs))
        if kind == "pass":
            if node.op == "call_function" and node.target is F.pad:
                value = node.kwargs.get("value", node.args[3] if len(node.args) > 3 else None)
                return value is None or bool(value == 0)
            return bool(node.args) and node.args[0] in zero
        return False

    def _zeroes(self, source: fx.Node, term: fx.Node, region: frozenset[fx.Node]) -> bool:
        """Whether ``term`` is exactly zero when ``source``'s output is."""
        unit = self.units.get(source)
        tuple_valued = unit is not None and unit.kind == "attention"
        zero, first = (set(), {source}) if tuple_valued else ({source}, set())
        later = sorted(
            (n for n in region if self.order[n] > self.order[source]), key=self.order.__getitem__
        )
        for node in later:
            if self._maps_zero(node, zero, first):
                zero.add(node)
        return term in zero

    def _end(self, term: fx.Node) -> tuple[str | None, str]:
        """The module whose output, times a scalar, scales the branch, or why there is none."""
        node = term
        while True:
            # Uses of its shape only (a drop-path mask's) do not see the gate.
            if len([user for user in node.users if user in self.data]) > 1:
                return None, f"the output of {self._describe(node)} is also used elsewhere"
            if node.op == "call_module":
                if self.calls[str(node.target)] > 1:
                    return None, f"{self.prefix}{node.target} runs more than once"
                return f"{self.prefix}{node.target}", ""
            data = [n for n in node.all_input_nodes if n in self.data]
            linear = (node.op == "call_method" and node.target in _LINEAR_METHODS) or (
                node.op == "call_function" and node.target in _LINEAR_FUNCTIONS
            )
            if not linear or len(data) != 1:
                what = self._describe(node)
                return None, f"the branch ends in a function, not a module, to gate ({what})"
            node = data[0]

    def _describe(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"{self.prefix}{node.target}"
        return f"{getattr(node.target, '__name__', node.target)} ({self.prefix}{node.name})"

    # Sums.

    def _terms(self, add: fx.Node) -> list[fx.Node | object]:
        """The parts of the sum ``add`` closes: an add whose only use is this sum, and that adds
        graph values only, is part of it."""
        parts: list[fx.Node | object] = []
        pending: list[object] = [add]  # iteratively: a sum of thousands of experts is one sum
        while pending:
            node = pending.pop()
            if isinstance(node, fx.Node) and (node is add or self._merges(node)):
                others = [node.kwargs[k] for k in ("other",) if k in node.kwargs]
                pending += reversed([*node.args[:2], *others])
            else:
                parts.append(node)
        return parts

    def _merges(self, node: fx.Node) -> bool:
        if not _is_add(node) or len(node.users) != 1:
            return False
        user = next(iter(node.users))
        direct = [a for a in node.args[:2] if isinstance(a, fx.Node) and a in self.data]
        return _is_add(user) and len(direct) == 2

    def sums(self) -> Iterator[fx.Node]:
        for node in self.graph.nodes:
            if _is_add(node) and not self._merges(node):
                yield node

    def read(self, add: fx.Node) -> list[Branch | Skipped]:
        label = f"{self.prefix}{add.name}"
        terms = [t for t in self._terms(add) if isinstance(t, fx.Node) and t in self.data]
        if len(terms) < 2:
            return [Skipped(label, "adds a constant, not two paths")]
        ancestry = [_ancestors(term, self.memo) for term in terms]
        common = frozenset.intersection(*ancestry)
        forks = [n for n in common if n in self.data]
        if not forks:
            return [Skipped(label, "its paths share no fork")]
        fork = max(forks, key=self.order.__getitem__)
        above = _ancestors(fork, self.memo)
        regions = [anc - above for anc in ancestry]
        units = [
            sorted(
                (n for n in region if n in self.units and n not in self.owned),
                key=self.order.__getitem__,
            )
            for region in regions
        ]
        fewest = min(len(found) for found in units)
        if sum(len(found) == fewest for found in units) > 1:
            if len(terms) == 2:
                return [Skipped(label, f"both paths have {fewest} weight layers: not a shortcut")]
            return [
                Skipped(label, f"{len(terms)} paths, none with fewer weight layers than the others")
            ]
        shortcut = next(i for i, found in enumerate(units) if len(found) == fewest)
        found: list[Branch | Skipped] = []
        for i, term in enumerate(terms):
            if i == shortcut:
                continue
            overlap = [
                n for j, others in enumerate(units) if j not in (i, shortcut) for n in others
            ]
            shared = [n for n in units[i] if n in overlap]
            if shared:
                reason = (
                    f"its paths share the weight layer {self.units[shared[0]].name}: the branches "
                    "are not separate"
                )
                return [Skipped(label, reason, residual=True)]
            found.append(self._branch(label, term, units[i], units[shortcut], regions[i]))
        for layers in units:
            if layers is not units[shortcut]:
                self.owned.update(layers)
        return found

    def _branch(
        self,
        label: str,
        term: fx.Node,
        layers: list[fx.Node],
        shortcut: list[fx.Node],
        region: frozenset[fx.Node],
    ) -> Branch:
        units = tuple(self.units[node] for node in layers)
        cut, cut_reason = None, ""
        for index in reversed(range(len(layers))):
            if units[index].zeros and self._zeroes(layers[index], term, region):
                cut = index
                break
        if cut is None:
            last = units[-1]
            cut_reason = (
                f"its last weight layer {last.name} cannot be zeroed: {last.detail}"
                if not last.zeros
                else "no weight layer on it whose zeros make the branch output zero (a step "
                "after them does not map zeros to zeros)"
            )
        norms = [
            node
            for node in region
            if self.order[node] > self.order[layers[-1]]
            and has_scale(self.module(node) or nn.Identity())
            and self.calls[str(node.target)] == 1
            and not self._tied(node)
        ]
        norm = max(norms, key=self.order.__getitem__, default=None)
        if norm is not None and not self._zeroes(norm, term, region):
            norm = None
        end, end_reason = self._end(term)
        # Named by the modules it runs through: "layer1.0" for torchvision's first block.
        names = [unit.name for unit in units]
        common = _common_prefix([name.split(".")[:-1] for name in names])
        name = ".".join(common) if common else label
        if name in self.names:
            name = f"{name} ({names[-1]})"
        self.names.add(name)
        return Branch(
            name,
            label,
            units,
            cut,
            cut_reason,
            None if norm is None else f"{self.prefix}{norm.target}",
            end,
            end_reason,
            tuple(self.units[node].name for node in shortcut),
            tuple(
                f"{self.prefix}{node.target}"
                for node in sorted(region, key=self.order.__getitem__)
                if node.op == "call_module"
            ),
        )

    def __iter__(self) -> Iterator[Branch | Skipped]:
        for node in self.sums():
            if node in self.data:  # not arithmetic on shapes, (x.shape[0],) + (1,) * k
                yield from self.read(node)


class _Tracer(OwnThreadTracer):
    """torch.fx's tracer with the inference rule's leaves: weight layers, activations, norms;
    other threads' forwards run as if no trace were under way."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m) or super().is_leaf_module(m, module_qualified_name)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def find_branches(model: nn.Module) -> tuple[list[Branch], list[Skipped], dict[str, str]]:
    """The residual branches of ``model``, the adds that are not, and the modules that could not
    be read (their children are read instead), with the reason.

    torch.fx runs the forward with proxies; it runs on a structural copy (meta tensors), so no
    side effect of the forward lands on the model. The branches name layers by their qualified
    names, which the copy shares. A module that cannot be deep-copied (it holds a lock, say) is
    read child by child, as one that does not trace is."""
    names: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    # Tied Parameters by name: a copy of one child does not see its ties to another.
    tied = {name for group in names.values() if len(group) > 1 for name in group}
    branches: list[Branch] = []
    skipped: list[Skipped] = []
    failures: dict[str, str] = {}

    def read(original: nn.Module, prefix: str) -> None:
        try:
            module = structural_copy(original)
        except Exception as error:  # whatever deepcopy raises for the third party's state
            failures[prefix[:-1]] = copy_error(error)
            for child_name, child in original.named_children():
                read(child, f"{prefix}{child_name}.")
            return
        visit(module, prefix)

    def visit(module: nn.Module, prefix: str) -> None:
        try:
            with TRACE_LOCK:  # torch.fx patches torch for the duration: one trace at a time
                graph = _Tracer().trace(module)
        except Exception as error:  # any failure of a third party's forward() under fx
            failures[prefix[:-1]] = f"torch.fx could not trace it: {_first_line(error)}"
            for child_name, child in module.named_children():
                visit(child, f"{prefix}{child_name}.")
            return
        for found in _Reader(module, graph, prefix, tied):
            if isinstance(found, Branch):
                branches.append(found)
            else:
                skipped.append(found)

    read(model, "")
    return branches, skipped, failures
