"""Which activation acts on each layer's output, read from the model's graph.

The rule: a layer's activation is the one that acts on its output before the next weight layer,
skipping norms, dropout, pooling, reshapes and residual adds; a path that reaches a weight layer or
the model's output without one is "linear". :func:`traced` applies it to the graph ``torch.fx``
traces; :func:`sequential_fallback` to the layer's ``nn.Sequential`` where tracing fails.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Collection, Mapping
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


# Shape-preserving or gain-preserving steps between a conv and its activation (the issue's "norms,
# dropout, pooling, residual adds"), plus reshapes, padding, resampling and concatenation.
_PASS_MODULES: tuple[type[nn.Module], ...] = _existing(
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
_PASS_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "batch_norm instance_norm layer_norm group_norm local_response_norm rms_norm dropout "
        "dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout max_pool1d max_pool2d "
        "max_pool3d avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
        "adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d "
        "lp_pool1d lp_pool2d lp_pool3d interpolate upsample pad pixel_shuffle pixel_unshuffle",
    )
    + _existing(
        torch,
        "flatten reshape permute transpose squeeze unsqueeze cat concat concatenate stack chunk "
        "split mean add sub mul div",
    )
    + _existing(operator, "add iadd sub isub mul imul truediv itruediv getitem")
)
_PASS_METHODS = frozenset(
    _words(
        "view reshape flatten permute transpose contiguous squeeze unsqueeze chunk split mean "
        "clone to float add add_ sub sub_ mul mul_ div div_"
    )
)
# Uses of a tensor's metadata, not of its values.
_META_METHODS = frozenset({"size", "dim", "numel"})
_META_ATTRIBUTES = frozenset({"shape", "dtype", "device", "ndim"})
_WEIGHT_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d linear bilinear",
    )
    + _existing(torch, "matmul mm bmm einsum")
    + (operator.matmul,)
)


@dataclasses.dataclass(frozen=True)
class Inference:
    """An inference outcome: the activation (``None`` when unresolved) and how it was reached."""

    spec: ActivationSpec | None
    detail: str


def _checked(spec: ActivationSpec, detail: str) -> Inference:
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
        return _checked(name, name)
    if any(isinstance(value, fx.Node) for value in (*args, *kwargs.values())):
        return Inference(None, f"{name} has arguments computed at run time")
    cls = module_class(name)
    if cls is None:
        return _checked(name, name)
    try:
        module = cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        return Inference(None, f"{name} with arguments {args!r}, {kwargs!r}: {error}")
    return _checked(module, name)


class _Tracer(fx.Tracer):
    """torch.fx's tracer, with convolutions and the pass-through modules kept as single nodes."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (*KINDS, *_PASS_MODULES)) or super().is_leaf_module(
            m, module_qualified_name
        )


class _GraphWalk:
    """Follows each conv node of one traced graph forward to the activation that consumes it."""

    def __init__(self, root: nn.Module, prefix: str, is_model: bool) -> None:
        self.root = root
        self.prefix = prefix
        self.is_model = is_model
        self.memo: dict[fx.Node, Inference | None] = {}

    def _label(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"{self.prefix}{node.target}"
        if node.op == "call_method":
            return f".{node.target}()"
        return str(getattr(node.target, "__name__", node.target))

    def consumers(self, node: fx.Node) -> Inference | None:
        """Combine what every user of ``node`` leads to; ``None`` when nothing uses its values."""
        outcomes = []
        for user in node.users:
            if user not in self.memo:
                self.memo[user] = self._classify_consumer(user)
            outcome = self.memo[user]
            if outcome is not None:
                outcomes.append(outcome)
        if not outcomes:
            return None
        unresolved = [outcome for outcome in outcomes if outcome.spec is None]
        if unresolved:
            return unresolved[0]
        names = {resolve(outcome.spec).name for outcome in outcomes if outcome.spec is not None}
        if len(names) > 1:
            paths = "; ".join(sorted({outcome.detail for outcome in outcomes}))
            return Inference(None, f"several different consumers ({paths})")
        return outcomes[0]

    def _classify_consumer(self, node: fx.Node) -> Inference | None:
        label = self._label(node)
        if node.op == "output":
            if self.is_model:
                return Inference("linear", "model output")
            return Inference(None, f"reaches the output of {self.prefix[:-1]!r}, traced on its own")
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            if is_activation_module(module):
                return _checked(module, label)
            if isinstance(module, _PASS_MODULES):
                return self._follow(node, label)
            if any(True for _ in module.parameters(recurse=False)):
                return Inference("linear", f"next weight layer {label}")
            return Inference(None, f"{label} ({type(module).__name__}) is not a known activation")
        if node.op == "call_method":
            method = str(node.target)
            if method in _META_METHODS:
                return None
            name = function_name(getattr(Tensor, method, None))
            if name is not None:
                return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
            if method in _PASS_METHODS:
                return self._follow(node, label)
            return Inference(None, f"{label} is neither an activation nor a known pass-through")
        if node.op == "call_function":
            target = node.target
            if target is getattr and len(node.args) > 1 and node.args[1] in _META_ATTRIBUTES:
                return None
            name = function_name(target)
            if name is not None:
                return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
            if target in _WEIGHT_FUNCTIONS:
                return Inference("linear", f"next weight layer {label}")
            if target in _PASS_FUNCTIONS:
                return self._follow(node, label)
            return Inference(None, f"{label} is neither an activation nor a known pass-through")
        return Inference(None, f"{label} ({node.op}) is not a known consumer")

    def _follow(self, node: fx.Node, label: str) -> Inference | None:
        beyond = self.consumers(node)
        if beyond is None:
            return Inference("linear", f"{label}, unused")
        return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")


def traced(
    model: nn.Module, names: Mapping[int, str], wanted: set[str]
) -> tuple[dict[str, Inference], dict[str, str]]:
    """Trace the model, or where that fails, its submodules; the outcome per wanted conv name.

    Also returns, per module that could not be traced, the first line of the tracer's error.
    """
    found: dict[str, Inference] = {}
    failures: dict[str, str] = {}

    def visit(module: nn.Module, prefix: str) -> None:
        inside = {name for name in wanted if name.startswith(prefix) and name != prefix[:-1]}
        if not inside:
            return
        try:
            graph = _Tracer().trace(module)
        except Exception as error:  # any failure of a third party's forward() under fx
            failures[prefix[:-1]] = (str(error).strip().splitlines() or [type(error).__name__])[0]
            for child_name, child in module.named_children():
                visit(child, f"{prefix}{child_name}.")
            return
        walk = _GraphWalk(module, prefix, is_model=prefix == "")
        outcomes: dict[str, list[Inference]] = {}
        for node in graph.nodes:
            if node.op != "call_module":
                continue
            name = names.get(id(module.get_submodule(str(node.target))))
            if name in wanted:
                outcome = walk.consumers(node) or Inference("linear", "output unused")
                outcomes.setdefault(name, []).append(outcome)
        for name, results in outcomes.items():
            specs = {None if r.spec is None else resolve(r.spec).name for r in results}
            if len(specs) == 1:
                found[name] = results[0]
            else:
                found[name] = Inference(None, "called more than once, with different activations")

    visit(model, "")
    return found, failures


def sequential_fallback(model: nn.Module, name: str) -> Inference:
    """The nn.Sequential rule: the first activation or weight layer after the conv in its Sequential.

    At the end of a Sequential it continues after that Sequential in its parent, if the parent is
    a Sequential too; past the model's last module it reaches the output ("linear").
    """
    parts = name.split(".")
    while parts:
        parent_name = ".".join(parts[:-1])
        parent = model.get_submodule(parent_name)
        if not isinstance(parent, nn.Sequential):
            where = repr(parent_name) if parent_name else "the model"
            return Inference(None, f"{where} is a {type(parent).__name__}, not an nn.Sequential")
        children = list(parent.named_children())
        index = [child for child, _ in children].index(parts[-1])
        for sibling, module in children[index + 1 :]:
            label = f"{parent_name}.{sibling}" if parent_name else sibling
            if is_activation_module(module):
                return _checked(module, f"next in its Sequential: {label}")
            if isinstance(module, _PASS_MODULES):
                continue
            if any(True for _ in module.parameters(recurse=False)):
                return Inference("linear", f"next weight layer {label}")
            return Inference(None, f"{label} ({type(module).__name__}) is not a known activation")
        parts = parts[:-1]
    return Inference("linear", "last module of a Sequential model")


def _trace_failure(name: str, failures: Mapping[str, str]) -> str:
    """The innermost module around ``name`` that torch.fx could not trace, with its error."""
    enclosing = [key for key in failures if key == "" or name.startswith(f"{key}.")]
    if not enclosing:
        return "not called by the traced forward()"
    key = max(enclosing, key=len)
    where = repr(key) if key else "the model"
    return f"torch.fx could not trace {where}: {failures[key]}"


def infer_activations(
    model: nn.Module, wanted: Collection[str]
) -> dict[str, tuple[Inference, str]]:
    """Each wanted layer's activation and how it was found: ``"traced"``, ``"sequential"`` (the
    nn.Sequential rule, where tracing did not decide) or ``"default"`` (unresolved: ``spec`` is
    ``None`` and ``detail`` says why)."""
    names = {id(module): name for name, module in model.named_modules()}
    found, failures = traced(model, names, set(wanted))
    result: dict[str, tuple[Inference, str]] = {}
    for name in wanted:
        outcome = found.get(name)
        if outcome is not None and outcome.spec is not None:
            result[name] = (outcome, "traced")
            continue
        why = outcome.detail if outcome is not None else _trace_failure(name, failures)
        neighbour = sequential_fallback(model, name)
        if neighbour.spec is not None:
            result[name] = (Inference(neighbour.spec, f"{neighbour.detail} ({why})"), "sequential")
        else:
            result[name] = (Inference(None, f"{why}; {neighbour.detail}"), "default")
    return result


# The tracer, for the other readers of the same graph (residual-aware init).
Tracer = _Tracer
