"""The inference rule, applied to a graph of what a model computes.

A layer's activation is the one that acts on its output before the next weight layer, skipping
norms, dropout, pooling, reshapes, reductions and residual adds; a path that reaches a weight layer
or the model's output without one is "linear"; a branch that only computes a multiplicative gate
of the same tensor (squeeze-excite) is not a consumer. :class:`GraphWalk` applies it to a
``torch.fx`` graph, whether torch.fx traced it (``_trace``) or a run recorded it (``_runtime``).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from initconv._activations import (
    ActivationSpec,
    function_name,
    is_activation_module,
    module_class,
    resolve,
)
from initconv._fans import KINDS

__all__: list[str] = []


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _existing(owner: object, names: str) -> tuple[Any, ...]:
    """The attributes of ``owner`` named in ``names`` that this torch version has."""
    found = (getattr(owner, name, None) for name in _words(names))
    return tuple(value for value in found if value is not None)


# Shape-preserving or gain-preserving steps between a layer and its activation: norms, dropout,
# pooling, reshapes, padding, resampling and concatenation.
PASS_MODULES: tuple[type[nn.Module], ...] = _existing(
    nn,
    "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d "
    "SyncBatchNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d "
    "LazyInstanceNorm2d LazyInstanceNorm3d LayerNorm GroupNorm LocalResponseNorm RMSNorm "
    "CrossMapLRN2d Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout "
    "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d "
    "AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d "
    "LPPool1d LPPool2d LPPool3d FractionalMaxPool2d FractionalMaxPool3d Identity Flatten "
    "Unflatten Upsample UpsamplingNearest2d UpsamplingBilinear2d PixelShuffle PixelUnshuffle "
    "ChannelShuffle ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d ConstantPad3d "
    "ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d "
    "ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d",
)
# The forwards that make a module a pass-through: a subclass that overrides forward() (a norm
# that applies an activation itself) is looked into instead.
_PASS_FORWARDS = frozenset(cls.forward for cls in PASS_MODULES)
# Layers whose output is a linear map of their input: "the next weight layer".
WEIGHT_MODULES: tuple[type[nn.Module], ...] = (*KINDS, nn.Bilinear, nn.MultiheadAttention)
_GLOBAL_POOLS: tuple[type[nn.Module], ...] = _existing(
    nn,
    "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d "
    "AdaptiveMaxPool3d",
)

# Linear reductions (sum, mean) keep the gain's meaning, as a residual add does: the activation
# after them acts on a linear map of the layer's output. amax and amin pick values, as max pooling
# (already skipped) does. std, var, norm, logsumexp and prod are not pass-throughs: their output
# is a statistic of the values, not the values.
_REDUCTIONS = "sum mean nansum nanmean amax amin"
_POOL_FUNCTIONS = (
    "adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d "
    "adaptive_max_pool2d adaptive_max_pool3d"
)
_REDUCTION_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(torch, _REDUCTIONS) + _existing(F, _POOL_FUNCTIONS)
)
_REDUCTION_METHODS = frozenset(_words(_REDUCTIONS))


def passthrough(x: Tensor) -> Tensor:
    """A norm, dropout or pooling module's own forward, as one step of a traced graph."""
    return x


_PASS_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "batch_norm instance_norm layer_norm group_norm local_response_norm rms_norm normalize "
        "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout max_pool1d "
        "max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d lp_pool1d lp_pool2d lp_pool3d "
        "interpolate upsample pad pixel_shuffle pixel_unshuffle channel_shuffle unfold fold "
        f"{_POOL_FUNCTIONS}",
    )
    + _existing(
        torch,
        "flatten unflatten reshape permute transpose swapaxes movedim squeeze unsqueeze cat concat "
        "concatenate stack chunk split tensor_split unbind narrow select roll flip add sub mul div "
        f"true_divide clone channel_shuffle pixel_shuffle pixel_unshuffle {_REDUCTIONS}",
    )
    + _existing(
        operator,
        "add iadd sub isub mul imul truediv itruediv getitem setitem neg pos",
    )
    + (passthrough,)
)
_PASS_METHODS = frozenset(
    _words(
        "view view_as reshape reshape_as flatten unflatten permute transpose swapaxes movedim "
        "contiguous squeeze squeeze_ unsqueeze unsqueeze_ chunk split tensor_split unbind narrow "
        "select roll flip expand expand_as repeat clone to float half double bfloat16 type_as "
        "add add_ sub sub_ mul mul_ div div_ true_divide neg getitem setitem detach "
        f"{_REDUCTIONS}"
    )
)
_MULTIPLY_FUNCTIONS: frozenset[object] = frozenset({operator.mul, operator.imul, torch.mul})
_MULTIPLY_METHODS = frozenset({"mul", "mul_"})
# Uses of a tensor's metadata or shape, not of its values.
META_METHODS = frozenset(
    _words(
        "size dim numel shape dtype device ndim is_contiguous stride storage_offset element_size "
        "is_floating_point is_complex requires_grad get_device nelement layout is_cuda is_sparse "
        "data_ptr new_empty new_zeros new_ones new_full __len__"
    )
)
META_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(torch, "empty_like zeros_like ones_like full_like rand_like randn_like numel")
)
_META_ATTRIBUTES = frozenset({"shape", "dtype", "device", "ndim"})
_WEIGHT_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d linear bilinear "
        "scaled_dot_product_attention multi_head_attention_forward",
    )
    + _existing(torch, "matmul mm bmm baddbmm addmm einsum conv1d conv2d conv3d")
    + (operator.matmul,)
)
_WEIGHT_METHODS = frozenset({"matmul", "mm", "bmm"})
# x * act(x) written out: the activation it is (Ramachandran et al. 2017's swish is x sigmoid(x);
# Howard et al. 2019's hard-swish is x hardsigmoid(x)).
_SELF_GATED = {"sigmoid": "silu", "hardsigmoid": "hardswish"}


def is_pass_module(module: nn.Module) -> bool:
    """A norm, dropout, pooling or reshaping module that runs torch's own forward()."""
    return isinstance(module, PASS_MODULES) and type(module).forward in _PASS_FORWARDS


def is_weight_module(module: nn.Module) -> bool:
    """A layer whose output is a linear map of its input: a conv, linear, bilinear, attention."""
    return isinstance(module, WEIGHT_MODULES)


def is_leaf(module: nn.Module) -> bool:
    """A module whose call is one step of the rule, not looked into."""
    return is_weight_module(module) or is_activation_module(module) or is_pass_module(module)


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
        users = [user for user in node.users if not self._is_gate(node, user)]
        self_gated = self._self_gated(node, users)
        if self_gated is not None:
            return self_gated
        outcomes = []
        for user in users:
            if (user, node) not in self.memo:
                self.memo[user, node] = self._classify(user, node)
            outcomes.append(self.memo[user, node])
        return merge(outcomes)

    def _activation_of(self, node: fx.Node) -> Inference | None:
        """The activation ``node`` applies to its first input, if it is one."""
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            return checked(module, self.label(node)) if is_activation_module(module) else None
        if node.op == "call_method":
            name = function_name(getattr(Tensor, str(node.target), None))
        elif node.op == "call_function":
            name = function_name(node.target)
        else:
            return None
        if name is None:
            return None
        return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))

    def _self_gated(self, node: fx.Node, users: list[fx.Node]) -> Inference | None:
        """``x * sigmoid(x)`` and ``x * hardsigmoid(x)``: swish and hard-swish written out."""
        if len(users) != 2:
            return None
        for act, mul in (users, users[::-1]):
            outcome = self._activation_of(act)
            if outcome is None or outcome.spec is None or list(act.users) != [mul]:
                continue
            if self._is_multiply(mul) and set(mul.args[:2]) == {node, act}:
                name = _SELF_GATED.get(spec_name(outcome.spec))
                if name is not None:
                    return Inference(name, f"{self.label(mul)}(x, {self.label(act)}(x))")
        return None

    def _is_multiply(self, node: fx.Node) -> bool:
        if node.op == "call_function":
            return node.target in _MULTIPLY_FUNCTIONS
        return node.op == "call_method" and node.target in _MULTIPLY_METHODS

    def _is_reduction(self, node: fx.Node) -> bool:
        if node.op == "call_function":
            return node.target in _REDUCTION_FUNCTIONS
        if node.op == "call_method":
            return node.target in _REDUCTION_METHODS
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            return isinstance(module, _GLOBAL_POOLS) and is_pass_module(module)
        return False

    def _gate_step(self, node: fx.Node) -> bool:
        """A step a gate branch may take: weight layer, activation, pass-through."""
        if node.op == "call_module":
            return is_leaf(self.root.get_submodule(str(node.target)))
        if node.op == "call_method":
            target = str(node.target)
            return (
                target in _PASS_METHODS
                or target in _WEIGHT_METHODS
                or function_name(getattr(Tensor, target, None)) is not None
            )
        if node.op == "call_function":
            return (
                node.target in _PASS_FUNCTIONS
                or node.target in _WEIGHT_FUNCTIONS
                or function_name(node.target) is not None
            )
        return False

    def _is_gate(self, source: fx.Node, start: fx.Node) -> bool:
        """Whether ``start`` begins a branch that only gates ``source`` (squeeze-excite).

        The branch starts with a reduction or pooling of ``source`` or a weight layer applied to
        it, takes only weight layers, activations and pass-throughs, and every path of it ends
        as one factor of a multiplication whose other factor is ``source`` itself.
        """
        if not (self._is_reduction(start) or self._is_weight(start)):
            return False
        if start.args[:1] != (source,):
            return False
        seen: set[fx.Node] = set()
        frontier = [start]
        gated = False
        while frontier:
            step = frontier.pop()
            if step in seen:
                continue
            seen.add(step)
            if step is not start and self._is_multiply(step) and source in step.args[:2]:
                gated = True
                continue
            if not self._gate_step(step) or not step.users:
                return False
            frontier.extend(step.users)
        return gated

    def _is_weight(self, node: fx.Node) -> bool:
        if node.op == "call_module":
            return is_weight_module(self.root.get_submodule(str(node.target)))
        if node.op == "call_method":
            return node.target in _WEIGHT_METHODS
        return node.op == "call_function" and node.target in _WEIGHT_FUNCTIONS

    def _classify(self, node: fx.Node, source: fx.Node) -> Inference | None:
        label = self.label(node)
        if node.op == "output":
            return self.on_output()
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            if is_activation_module(module):
                return checked(module, label)
            if is_weight_module(module):
                return Inference("linear", f"next weight layer {label}")
            if is_pass_module(module):
                return self.follow(node, label)
            if self.enter is not None:
                return self.enter(self, node, source)
            return Inference(
                None, f"{label} ({type(module).__name__}) is no activation, weight layer or norm"
            )
        if node.op == "call_method":
            return self._classify_method(node, label)
        if node.op == "call_function":
            return self._classify_function(node, label)
        return Inference(None, f"{label} ({node.op}) is not a known consumer")

    def _classify_method(self, node: fx.Node, label: str) -> Inference | None:
        method = str(node.target)
        if method in META_METHODS:
            return None
        name = function_name(getattr(Tensor, method, None))
        if name is not None:
            return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
        if method in _WEIGHT_METHODS:
            return Inference("linear", f"next weight layer {label}")
        if method in _PASS_METHODS:
            return self.follow(node, label)
        return Inference(None, f"{label} is neither an activation nor a known pass-through")

    def _classify_function(self, node: fx.Node, label: str) -> Inference | None:
        target = node.target
        if target is getattr and len(node.args) > 1 and node.args[1] in _META_ATTRIBUTES:
            return None
        if target in META_FUNCTIONS:
            return None
        name = function_name(target)
        if name is not None:
            return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
        if target in _WEIGHT_FUNCTIONS:
            return Inference("linear", f"next weight layer {label}")
        if target in _PASS_FUNCTIONS:
            return self.follow(node, label)
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
