"""Adopt initconv in a built model: convert() puts the schemes in, to_torch() takes them out again.

Activation inference follows one rule (shared/DESIGN.md, clarification of the adoption issue): a
conv's activation is the one that acts on its output before the next weight layer, skipping norms,
dropout, pooling, reshapes and residual adds; a path that reaches a weight layer or the model's
output without one is "linear".
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import fnmatch
import functools
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import parametrize

from initconv._activations import _FUNCTIONS, _MODULES, _REGISTERED, ActivationSpec, resolve
from initconv._base import InitConv2d, schemes, store
from initconv._schemes import TorchDefaultConv2d

__all__ = ["ConversionReport", "ConversionRow", "convert", "to_torch"]

Source = Literal["traced", "sequential", "default", "given", "pattern", "skipped"]
ActivationArg = ActivationSpec | Mapping[str, ActivationSpec]
ModuleT = TypeVar("ModuleT", bound=nn.Module)

_INFER = "infer"


# --- The report ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConversionRow:
    """One convolution of the model: what it was, what it became, and how its activation was found.

    ``source`` is ``"traced"`` (torch.fx), ``"sequential"`` (the next module of its nn.Sequential),
    ``"default"`` (neither worked: ``detail`` says why), ``"given"`` (a single ``activation=``),
    ``"pattern"`` (an ``activation=`` dict entry) or ``"skipped"`` (left as it was; ``scheme``,
    ``activation`` and ``gain`` are then ``None``).
    """

    name: str
    old_type: str
    scheme: str | None
    activation: str | None
    gain: float | None
    source: Source
    detail: str


class ConversionReport:
    """What :func:`convert` did, one :class:`ConversionRow` per convolution; ``str()`` is a table.

    Iterate it for the rows, index it by layer name (``report["layer1.0.conv1"]``), or read
    :attr:`fallbacks` for the layers whose activation could not be inferred.
    """

    def __init__(self, rows: tuple[ConversionRow, ...], reinit: bool) -> None:
        self.rows = rows
        self.reinit = reinit

    def __iter__(self) -> Iterator[ConversionRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> ConversionRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(
            f"name must be one of the report's layers {tuple(sorted(r.name for r in self.rows))}, "
            f"got {name!r}"
        )

    @property
    def converted(self) -> tuple[ConversionRow, ...]:
        """The rows of the layers that were replaced."""
        return tuple(row for row in self.rows if row.scheme is not None)

    @property
    def fallbacks(self) -> tuple[ConversionRow, ...]:
        """The rows whose activation fell back to the default, with the reason in ``detail``."""
        return tuple(row for row in self.rows if row.source == "default")

    def __repr__(self) -> str:
        return (
            f"ConversionReport({len(self.converted)} converted, {len(self.rows)} layers, "
            f"{len(self.fallbacks)} fallbacks, reinit={self.reinit})"
        )

    def __str__(self) -> str:
        header = ("layer", "old type", "scheme", "activation", "gain", "found by")
        table = [header] + [
            (
                row.name,
                row.old_type,
                row.scheme or "-",
                row.activation or "-",
                "-" if row.gain is None else f"{row.gain:.4f}",
                f"{row.source}: {row.detail}" if row.detail else row.source,
            )
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
            + "  "
            + line[-1]
            for line in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths) + "  " + "-" * 8)
        weights = "re-initialised by the scheme" if self.reinit else "kept bit for bit"
        lines.append(
            f"{len(self.converted)} of {len(self.rows)} layers converted, weights {weights}; "
            f"{len(self.fallbacks)} activations fell back to the default."
        )
        return "\n".join(lines)


# --- What the graph walk knows ------------------------------------------------------------------


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
_MODULE_OF: dict[str, type[nn.Module]] = {name: cls for cls, name in _MODULES.items()}


@dataclasses.dataclass(frozen=True)
class _Found:
    """An inference outcome: the activation (``None`` when unresolved) and how it was reached."""

    spec: ActivationSpec | None
    detail: str


def _is_activation_module(module: nn.Module) -> bool:
    return type(module) in _MODULES and not isinstance(module, nn.Identity)


def _checked(spec: ActivationSpec, detail: str) -> _Found:
    """``spec`` if initconv can give it a gain (a per-channel PReLU cannot), else unresolved."""
    try:
        resolve(spec)
    except (TypeError, ValueError) as error:
        return _Found(None, f"{detail}: {error}")
    return _Found(spec, detail)


def _function_activation(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Found:
    """The activation of a functional call ``name(x, *args, **kwargs)``, built as its module."""
    kwargs = {key: value for key, value in kwargs.items() if key != "inplace"}
    if not args and not kwargs:
        return _checked(name, name)
    if any(isinstance(value, fx.Node) for value in (*args, *kwargs.values())):
        return _Found(None, f"{name} has arguments computed at run time")
    cls = _MODULE_OF.get(name)
    if cls is None:
        return _checked(name, name)
    try:
        module = cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        return _Found(None, f"{name} with arguments {args!r}, {kwargs!r}: {error}")
    return _checked(module, name)


def _known_function(target: Any) -> str | None:
    """The activation name of a function, its in-place variant included (``torch.relu_``)."""
    candidates = [target]
    label = getattr(target, "__name__", "")
    if label.endswith("_"):
        candidates += [getattr(F, label[:-1], None), getattr(torch, label[:-1], None)]
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            name = _FUNCTIONS.get(candidate)
        except TypeError:  # an unhashable target
            name = None
        if name is not None:
            return name
        for registered, (fn, _) in _REGISTERED.items():
            if fn is candidate:
                return registered
    return None


class _Tracer(fx.Tracer):
    """torch.fx's tracer, with convolutions and the pass-through modules kept as single nodes."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (nn.Conv2d, *_PASS_MODULES)) or super().is_leaf_module(
            m, module_qualified_name
        )


class _GraphWalk:
    """Follows each conv node of one traced graph forward to the activation that consumes it."""

    def __init__(self, root: nn.Module, prefix: str, is_model: bool) -> None:
        self.root = root
        self.prefix = prefix
        self.is_model = is_model
        self.memo: dict[fx.Node, _Found | None] = {}

    def _label(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"{self.prefix}{node.target}"
        if node.op == "call_method":
            return f".{node.target}()"
        return str(getattr(node.target, "__name__", node.target))

    def consumers(self, node: fx.Node) -> _Found | None:
        """Combine what every user of ``node`` leads to; ``None`` when nothing uses its values."""
        outcomes = []
        for user in node.users:
            if user not in self.memo:
                self.memo[user] = self._via(user)
            outcome = self.memo[user]
            if outcome is not None:
                outcomes.append(outcome)
        if not outcomes:
            return None
        unresolved = [outcome for outcome in outcomes if outcome.spec is None]
        if unresolved:
            return unresolved[0]
        names = {resolve(outcome.spec)[0] for outcome in outcomes if outcome.spec is not None}
        if len(names) > 1:
            paths = "; ".join(sorted({outcome.detail for outcome in outcomes}))
            return _Found(None, f"several different consumers ({paths})")
        return outcomes[0]

    def _via(self, node: fx.Node) -> _Found | None:
        label = self._label(node)
        if node.op == "output":
            if self.is_model:
                return _Found("linear", "model output")
            return _Found(None, f"reaches the output of {self.prefix[:-1]!r}, traced on its own")
        if node.op == "call_module":
            module = self.root.get_submodule(str(node.target))
            if _is_activation_module(module):
                return _checked(module, label)
            if isinstance(module, _PASS_MODULES):
                return self._through(node, label)
            if any(True for _ in module.parameters(recurse=False)):
                return _Found("linear", f"next weight layer {label}")
            return _Found(None, f"{label} ({type(module).__name__}) is not a known activation")
        if node.op == "call_method":
            method = str(node.target)
            if method in _META_METHODS:
                return None
            name = _known_function(getattr(Tensor, method, None))
            if name is not None:
                return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
            if method in _PASS_METHODS:
                return self._through(node, label)
            return _Found(None, f"{label} is neither an activation nor a known pass-through")
        if node.op == "call_function":
            target = node.target
            if target is getattr and len(node.args) > 1 and node.args[1] in _META_ATTRIBUTES:
                return None
            name = _known_function(target)
            if name is not None:
                return _function_activation(name, tuple(node.args[1:]), dict(node.kwargs))
            if target in _WEIGHT_FUNCTIONS:
                return _Found("linear", f"next weight layer {label}")
            if target in _PASS_FUNCTIONS:
                return self._through(node, label)
            return _Found(None, f"{label} is neither an activation nor a known pass-through")
        return _Found(None, f"{label} ({node.op}) is not a known consumer")

    def _through(self, node: fx.Node, label: str) -> _Found | None:
        beyond = self.consumers(node)
        if beyond is None:
            return _Found("linear", f"{label}, unused")
        return dataclasses.replace(beyond, detail=f"{label} > {beyond.detail}")


def _traced(
    model: nn.Module, names: Mapping[int, str], wanted: set[str]
) -> tuple[dict[str, _Found], dict[str, str]]:
    """Trace the model, or where that fails, its submodules; the outcome per wanted conv name.

    Also returns, per module that could not be traced, the first line of the tracer's error.
    """
    found: dict[str, _Found] = {}
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
        outcomes: dict[str, list[_Found]] = {}
        for node in graph.nodes:
            if node.op != "call_module":
                continue
            name = names.get(id(module.get_submodule(str(node.target))))
            if name in wanted:
                outcome = walk.consumers(node) or _Found("linear", "output unused")
                outcomes.setdefault(name, []).append(outcome)
        for name, results in outcomes.items():
            specs = {None if r.spec is None else resolve(r.spec)[0] for r in results}
            if len(specs) == 1:
                found[name] = results[0]
            else:
                found[name] = _Found(None, "called more than once, with different activations")

    visit(model, "")
    return found, failures


def _neighbour(model: nn.Module, name: str) -> _Found:
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
            return _Found(None, f"{where} is a {type(parent).__name__}, not an nn.Sequential")
        children = list(parent.named_children())
        index = [child for child, _ in children].index(parts[-1])
        for sibling, module in children[index + 1 :]:
            label = f"{parent_name}.{sibling}" if parent_name else sibling
            if _is_activation_module(module):
                return _checked(module, f"next in its Sequential: {label}")
            if isinstance(module, _PASS_MODULES):
                continue
            if any(True for _ in module.parameters(recurse=False)):
                return _Found("linear", f"next weight layer {label}")
            return _Found(None, f"{label} ({type(module).__name__}) is not a known activation")
        parts = parts[:-1]
    return _Found("linear", "last module of a Sequential model")


# --- Building replacements ----------------------------------------------------------------------

_HOOK_ATTRIBUTES = tuple(key for key in vars(nn.Module()) if "hook" in key)


@functools.cache
def _conv_attributes() -> frozenset[str]:
    return frozenset(vars(nn.Conv2d(1, 1, 1, device="meta")))


@functools.cache
def _initconv_attributes() -> frozenset[str]:
    """What InitConv2d itself stores on every layer (activation, gain, ...), read off one."""
    return frozenset(vars(TorchDefaultConv2d(1, 1, 1, device="meta"))) - _conv_attributes()


def _base_class(module: nn.Module) -> type[nn.Module]:
    """The module's class before torch.nn.utils.parametrize injected its Parametrized subclass."""
    cls = type(module)
    return cls.__mro__[1] if parametrize.is_parametrized(module) else cls


def _scheme_attributes(cls: type[nn.Module]) -> frozenset[str]:
    if not issubclass(cls, InitConv2d):
        return frozenset()
    return _initconv_attributes() | frozenset(cls._option_defaults())


def _rebuild(
    name: str, old: nn.Module, cls: type[nn.Conv2d], reinit: bool, options: Mapping[str, Any]
) -> tuple[nn.Conv2d, list[tuple[str, Tensor]]]:
    """A ``cls`` layer holding ``old``'s Parameters, hooks, parametrizations and attributes.

    It is built on the meta device, so nothing is drawn, unless ``reinit``: then it is built where
    the weights live, and its freshly drawn values are returned as ``(tensor name, value)`` for
    the commit to store. Nothing of ``old`` is changed.
    """
    base = _base_class(old)
    conv = cast(nn.Conv2d, old)
    for method in ("forward", "_conv_forward"):
        if getattr(base, method) is not getattr(nn.Conv2d, method):
            raise TypeError(f"it overrides {method}(), which a replacement would drop")
    parametrized: tuple[str, ...] = ()
    if parametrize.is_parametrized(old):
        parametrized = tuple(cast(nn.ModuleDict, old.parametrizations))
    own = {key for key, value in old.named_parameters(recurse=False) if value is not None}
    extra = own - {"weight", "bias"}
    if extra:
        raise ValueError(
            f"it has parameters {tuple(sorted(extra))} besides weight and bias, as "
            "hook-based reparametrizations make (the deprecated torch.nn.utils.weight_norm and "
            "spectral_norm, torch.nn.utils.prune); remove them first, or use "
            "torch.nn.utils.parametrizations, which conversion carries over"
        )
    buffers = tuple(sorted(key for key, _ in old.named_buffers(recurse=False)))
    children = tuple(sorted(key for key, _ in old.named_children() if key != "parametrizations"))
    if buffers or children:
        raise ValueError(
            f"it has buffers {buffers} and submodules {children} that an nn.Conv2d does not "
            "have; they would be lost"
        )
    weight = conv.weight
    new = cls(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        groups=conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=weight.device if reinit else torch.device("meta"),
        dtype=weight.dtype,
        **options,
    )
    writes: list[tuple[str, Tensor]] = []
    for tensor_name in ("weight", "bias") if reinit else ():
        value = getattr(new, tensor_name)
        if value is None:
            continue
        if tensor_name in parametrized:
            # The commit stores it through the parametrization's right_inverse, as assigning to
            # a parametrized tensor does. A rehearsal on a copy raises here, before any swap.
            originals = cast(nn.ModuleDict, old.parametrizations)[tensor_name]
            cast(parametrize.ParametrizationList, copy.deepcopy(originals)).right_inverse(value)
        writes.append((tensor_name, value.detach()))
    for tensor_name in parametrized:
        # A placeholder parametrization makes torch inject the Parametrized class and property on
        # the new layer; the real ones, with their original Parameters, are then moved over.
        parametrize.register_parametrization(new, tensor_name, nn.Identity(), unsafe=True)
    if parametrized:
        new.parametrizations = old.parametrizations
    for key in own:
        setattr(new, key, old.get_parameter(key))
    new.training = old.training
    state = vars(new)
    for key in _HOOK_ATTRIBUTES:
        # The same dicts, so that existing RemovableHandles keep working on the new layer.
        if key in vars(old):
            state[key] = vars(old)[key]
    dropped = _scheme_attributes(base) | _conv_attributes() | set(_HOOK_ATTRIBUTES)
    for key, value in vars(old).items():
        if key in dropped:
            continue
        if key in state:
            raise ValueError(f"it has an attribute {key!r} that {cls.__name__} uses itself")
        state[key] = value
    return new, writes


@dataclasses.dataclass
class _Plan:
    name: str
    old: nn.Module
    new: nn.Conv2d
    writes: list[tuple[str, Tensor]]


def _slots(model: nn.Module) -> dict[int, list[tuple[nn.Module, str]]]:
    """Every (parent, attribute) that holds each module, shared modules included."""
    slots: dict[int, list[tuple[nn.Module, str]]] = {}
    seen: set[tuple[int, str]] = set()
    for _, parent in model.named_modules(remove_duplicate=False):
        for key, child in parent._modules.items():
            if child is not None and (id(parent), key) not in seen:
                seen.add((id(parent), key))
                slots.setdefault(id(child), []).append((parent, key))
    return slots


def _wrapped(name: str, old: nn.Module, error: Exception) -> Exception:
    message = f"cannot convert layer {name!r} ({_base_class(old).__name__}): {error}"
    for kind in (ValueError, TypeError, RuntimeError):
        if isinstance(error, kind):
            return kind(message)
    return RuntimeError(message)


def _commit(model: nn.Module, plans: list[_Plan]) -> None:
    """Swap every replacement in, or none: a failure puts back what was already swapped."""
    slots = _slots(model)
    done: list[tuple[nn.Module, str, nn.Module]] = []
    for plan in plans:
        try:
            for parent, key in slots[id(plan.old)]:
                setattr(parent, key, plan.new)
                done.append((parent, key, plan.old))
        except BaseException as error:
            for parent, key, old in reversed(done):
                setattr(parent, key, old)
            if isinstance(error, Exception):
                raise _wrapped(plan.name, plan.old, error) from error
            raise
    for plan in plans:
        for tensor_name, value in plan.writes:
            store(plan.new, tensor_name, value)


def _check_model(model: object, function: str, kind: type[nn.Module]) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__} {model!r}")
    if isinstance(model, kind):
        raise TypeError(
            f"model must contain the layers to replace, not be one: {function}() replaces "
            f"layers inside a model in place, got a {type(model).__name__}; wrap it, as in "
            f"{function}(nn.Sequential(layer))"
        )
    return model


# --- The public functions -----------------------------------------------------------------------


def _scheme_class(scheme: object) -> type[InitConv2d]:
    if isinstance(scheme, type) and issubclass(scheme, InitConv2d):
        if scheme.init_weight is InitConv2d.init_weight:
            raise TypeError(f"scheme must be a concrete scheme, got the abstract {scheme.__name__}")
        return scheme
    registered = schemes()
    if isinstance(scheme, str):
        if scheme in registered:
            return registered[scheme]
        names = tuple(registered)
        message = f"scheme must be one of {names}, got {scheme!r}"
        close = difflib.get_close_matches(scheme, names, n=1)
        raise ValueError(message + (f"; did you mean {close[0]!r}?" if close else ""))
    raise TypeError(
        f"scheme must be a scheme name or an InitConv2d subclass, got {type(scheme).__name__} "
        f"{scheme!r}"
    )


def _check_activation(value: object, parameter: str) -> ActivationSpec:
    if isinstance(value, str) and value == _INFER:
        return value
    try:
        resolve(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise type(error)(f"{parameter}: {error}") from error
    return value  # type: ignore[return-value]


def _targets(model: nn.Module, reconvert: bool) -> tuple[dict[int, str], list[str], dict[str, str]]:
    """Names of every module, the convs to replace, and the convs left alone with the reason."""
    names = {id(module): name for name, module in model.named_modules()}
    replace: list[str] = []
    skipped: dict[str, str] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d):
            continue
        base = _base_class(module)
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            skipped[name] = "a lazy conv not materialised yet; run a forward pass first"
        elif base is nn.Conv2d or (reconvert and issubclass(base, InitConv2d)):
            replace.append(name)
        elif issubclass(base, InitConv2d):
            skipped[name] = "already an InitConv2d; reconvert=True replaces it"
        else:
            skipped[name] = f"a subclass of nn.Conv2d ({base.__name__}) with its own behaviour"
    return names, replace, skipped


def convert(
    model: nn.Module,
    scheme: str | type[InitConv2d] = "kaiming_normal",
    activation: ActivationArg = _INFER,
    reinit: bool = True,
    *,
    default_activation: ActivationSpec | None = None,
    reconvert: bool = False,
    **scheme_options: Any,
) -> ConversionReport:
    r"""Replace every ``nn.Conv2d`` in ``model``, in place, by the layer of ``scheme``.

    Each replacement keeps the layer's hyperparameters and its Parameter objects (so device, dtype,
    ``requires_grad``, optimisers and tied weights are untouched), its hooks (existing handles keep
    working), its ``torch.nn.utils.parametrize`` parametrizations and its own attributes. With
    ``reinit=True`` the weights are then drawn once from the scheme (a parametrized tensor gets the
    draw through its parametrization's ``right_inverse``, as assigning to it does), e.g. for
    Kaiming (He et al., 2015, "Delving deep into rectifiers"):

    .. math::
        W \sim \mathcal{N}\!\left(0, \frac{g(\phi)^2}{\text{fan\_in}}\right),

    with :math:`g(\phi)` the gain of the activation :math:`\phi` that acts on the conv's output.
    With ``reinit=False`` the values are kept bit for bit and nothing is drawn at all: the scheme is
    only attached for later ``reset_parameters()`` calls (the path for pretrained checkpoints).

    Only layers whose type is exactly ``nn.Conv2d`` are replaced. Other subclasses (timm's
    ``StdConv2d``, quantization-aware convs) have behaviour of their own and are left alone, and so
    are layers that are already :class:`InitConv2d`, unless ``reconvert=True``. The report lists
    them too. A layer that cannot be replaced (a deprecated ``weight_norm`` hook, with
    ``reinit=True`` a parametrization without ``right_inverse``, an option its scheme rejects)
    raises an error that names it, and the model is then left exactly as it was: every replacement
    is built, and every parametrized store rehearsed on a copy, before any is swapped in.

    ``activation="infer"`` traces the model with ``torch.fx`` (functional calls such as ``F.relu``,
    ``torch.tanh`` and ``x.relu()`` count as well as modules) and takes the activation that acts on
    each conv's output before the next weight layer, skipping norms, dropout, pooling, reshapes,
    concatenation and residual adds; a path into a weight layer or the model's output is "linear".
    Where tracing fails or the consumers disagree, it takes the next activation or weight layer of
    the conv's ``nn.Sequential``; where that fails too, ``default_activation``, and the report says
    why (:attr:`ConversionReport.fallbacks`; a warning is issued too).

    Args:
        model: the model; it must contain the convs, not be one.
        scheme: a scheme name (:func:`initconv.schemes`) or an :class:`InitConv2d` subclass.
        activation: ``"infer"``; one activation for every layer; or a dict from module-name
            pattern (``fnmatch``, e.g. ``"layer1.*"``) to an activation or ``"infer"``, the first
            matching pattern winning and layers that match none being inferred.
        reinit: draw new weights from the scheme (``True``) or keep the values (``False``).
        default_activation: used where inference fails; the scheme's own default when ``None``.
        reconvert: also replace layers that are already :class:`InitConv2d`.
        **scheme_options: options of the scheme's layers (``mode=``, ``gain=``, ``seed=``, ...).

    Returns:
        A :class:`ConversionReport`; ``print(report)`` shows the table.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.GELU(), nn.Conv2d(8, 8, 1))
        >>> report = convert(model, "kaiming_normal", reinit=False)
        >>> [row.activation for row in report]
        ['gelu', 'linear']
    """
    model = _check_model(model, "convert", nn.Conv2d)
    cls = _scheme_class(scheme)
    if not isinstance(reinit, bool):
        raise TypeError(f"reinit must be a bool, got {type(reinit).__name__} {reinit!r}")
    if not isinstance(reconvert, bool):
        raise TypeError(f"reconvert must be a bool, got {type(reconvert).__name__} {reconvert!r}")
    fallback = cls.default_activation if default_activation is None else default_activation
    _check_activation(fallback, "default_activation")
    names, replace, skipped = _targets(model, reconvert)

    chosen: dict[str, tuple[ActivationSpec, Source, str]] = {}
    if isinstance(activation, Mapping):
        patterns = dict(activation)
        for pattern, value in patterns.items():
            if not isinstance(pattern, str):
                raise TypeError(f"activation patterns must be str, got {pattern!r}")
            _check_activation(value, f"activation[{pattern!r}]")
            if not any(fnmatch.fnmatchcase(name, pattern) for name in replace):
                raise ValueError(
                    f"activation pattern {pattern!r} matches no layer to convert; the layers "
                    f"are {tuple(replace)}"
                )
        for name in replace:
            match = next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)
            value = _INFER if match is None else patterns[match]
            if not (isinstance(value, str) and value == _INFER):
                chosen[name] = (value, "pattern", repr(match))
    else:
        _check_activation(activation, "activation")
        if not (isinstance(activation, str) and activation == _INFER):
            chosen = {name: (activation, "given", "") for name in replace}

    unresolved = [name for name in replace if name not in chosen]
    if unresolved:
        traced, failures = _traced(model, names, set(unresolved))
        for name in unresolved:
            outcome = traced.get(name)
            if outcome is not None and outcome.spec is not None:
                chosen[name] = (outcome.spec, "traced", outcome.detail)
                continue
            why = outcome.detail if outcome is not None else _trace_failure(name, failures)
            neighbour = _neighbour(model, name)
            if neighbour.spec is not None:
                chosen[name] = (neighbour.spec, "sequential", f"{neighbour.detail} ({why})")
            else:
                chosen[name] = (fallback, "default", f"{why}; {neighbour.detail}")

    plans: list[_Plan] = []
    for name in replace:
        old = model.get_submodule(name)
        spec = chosen[name][0]
        try:
            new, writes = _rebuild(name, old, cls, reinit, {"activation": spec, **scheme_options})
        except (ValueError, TypeError, RuntimeError) as error:
            raise _wrapped(name, old, error) from error
        plans.append(_Plan(name, old, new, writes))
    _commit(model, plans)

    rows = []
    built = {plan.name: plan for plan in plans}
    for name, module in model.named_modules():
        if name in built:
            layer = cast(InitConv2d, built[name].new)
            _, source, detail = chosen[name]
            rows.append(
                ConversionRow(
                    name,
                    _base_class(built[name].old).__name__,
                    layer.scheme or cls.__name__,
                    layer.activation,
                    layer.gain,
                    source,
                    detail,
                )
            )
        elif name in skipped:
            old_type = _base_class(module).__name__
            rows.append(ConversionRow(name, old_type, None, None, None, "skipped", skipped[name]))
    report = ConversionReport(tuple(rows), reinit)
    if report.fallbacks:
        warnings.warn(
            f"convert: the activation of {len(report.fallbacks)} layer(s) could not be inferred "
            f"({', '.join(row.name for row in report.fallbacks)}); they use "
            f"{report.fallbacks[0].activation!r}. The report's fallbacks say why; pass "
            "activation={pattern: value} to set them",
            UserWarning,
            stacklevel=2,
        )
    return report


def _trace_failure(name: str, failures: Mapping[str, str]) -> str:
    """The innermost module around ``name`` that torch.fx could not trace, with its error."""
    enclosing = [key for key in failures if key == "" or name.startswith(f"{key}.")]
    if not enclosing:
        return "not called by the traced forward()"
    key = max(enclosing, key=len)
    where = repr(key) if key else "the model"
    return f"torch.fx could not trace {where}: {failures[key]}"


def to_torch(model: ModuleT) -> ModuleT:
    """Replace every :class:`InitConv2d` in ``model``, in place, by a plain ``nn.Conv2d``.

    The plain layers hold the same Parameter objects (no copy, no re-initialisation), hooks,
    parametrizations and attributes; only the scheme is dropped, so a later
    ``reset_parameters()`` is ``nn.Conv2d``'s own again. Afterwards nothing in the model needs
    initconv: ``torch.ao.quantization.fuse_modules`` (which matches exact types), ``torch.export``
    and unpickling where initconv is not installed all work, and ``state_dict()`` is unchanged.
    Like :func:`convert`, it replaces every layer or, if one cannot be replaced, none.

    Returns:
        ``model`` itself, for chaining: ``torch.export.export(to_torch(model), (x,))``.

    Examples:
        >>> from initconv import KaimingNormalConv2d
        >>> model = nn.Sequential(KaimingNormalConv2d(3, 8, 3), nn.ReLU())
        >>> type(to_torch(model)[0]).__name__
        'Conv2d'
    """
    _check_model(model, "to_torch", InitConv2d)
    plans = []
    for name, old in model.named_modules():
        if isinstance(old, InitConv2d):
            try:
                new, _ = _rebuild(name, old, nn.Conv2d, reinit=False, options={})
            except (ValueError, TypeError, RuntimeError) as error:
                raise _wrapped(name, old, error) from error
            plans.append(_Plan(name, old, new, []))
    _commit(model, plans)
    return model
