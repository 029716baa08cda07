"""Module surgery: rebuild a layer as another class around the same Parameters, and swap layers
into a model all at once or not at all."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Collection, Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from initconv._layers.base import InitLayer, write_parameter
from initconv._layers.kinds import convolution_arguments, linear_arguments
from initconv._maths.fans import KINDS
from initconv._model.gate import GATE, is_gated

__all__: list[str] = []

_HOOK_ATTRIBUTES = tuple(key for key in vars(nn.Module()) if "hook" in key)
# What every initconv layer stores besides its scheme's options.
_LAYER_STATE = frozenset(
    {
        "activation",
        "gain",
        "bias_init",
        "bias_std",
        "seed",
        "calibration",
        "mup",
        "_constructed",
        "_derived_gain",
    }
)


def base_class(module: nn.Module) -> type[nn.Module]:
    """The module's class before torch.nn.utils.parametrize injected its Parametrized subclass."""
    cls = type(module)
    return cls.__mro__[1] if parametrize.is_parametrized(module) else cls


def torch_kind(module: nn.Module) -> type[nn.Module] | None:
    """The torch layer class (of :data:`initconv._maths.fans.KINDS`) that ``module`` is, or ``None``."""
    for kind in KINDS:
        if isinstance(module, kind):
            return kind
    return None


_TORCH_ATTRIBUTES: dict[type[nn.Module], frozenset[str]] = {}


def _torch_attributes(kind: type[nn.Module]) -> frozenset[str]:
    """What the torch layer itself stores on an instance, read off one (cached)."""
    if kind not in _TORCH_ATTRIBUTES:
        arguments = (1, 1, 1) if kind is not nn.Linear else (1, 1)
        _TORCH_ATTRIBUTES[kind] = frozenset(vars(kind(*arguments, device="meta")))
    return _TORCH_ATTRIBUTES[kind]


def _scheme_attributes(cls: type[nn.Module]) -> frozenset[str]:
    if not issubclass(cls, InitLayer):
        return frozenset()
    return _LAYER_STATE | frozenset(cls.options())


def _torch_arguments(old: nn.Module, kind: type[nn.Module]) -> dict[str, Any]:
    return linear_arguments(old) if kind is nn.Linear else convolution_arguments(old)


def _check_rebuildable(old: nn.Module, base: type[nn.Module], kind: type[nn.Module]) -> None:
    for method in ("forward", "_conv_forward"):
        if getattr(base, method, None) is not getattr(kind, method, None):
            raise TypeError(f"it overrides {method}(), which a replacement would drop")
    own = {key for key, value in old.named_parameters(recurse=False) if value is not None}
    # A SkipInit gate is carried over with its hook: the new layer gates its output the same way.
    extra = own - {"weight", "bias"} - ({GATE} if is_gated(old) else set())
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
            f"it has buffers {buffers} and submodules {children} that an nn.{kind.__name__} "
            "does not have; they would be lost"
        )


def rebuild(
    old: nn.Module, cls: type[nn.Module], reinit: bool, options: Mapping[str, Any]
) -> tuple[nn.Module, list[tuple[str, Tensor]]]:
    """A ``cls`` layer holding ``old``'s Parameters, hooks, parametrizations and attributes.

    It is built on the meta device, so nothing is drawn, unless ``reinit``: then it is built where
    the weights live, and its freshly drawn values are returned as ``(tensor name, value)`` for
    :func:`swap` to store. Nothing of ``old`` is changed.
    """
    base = base_class(old)
    kind = torch_kind(old)
    if kind is None:
        raise TypeError(f"it is not a layer initconv serves ({base.__name__})")
    _check_rebuildable(old, base, kind)
    parametrized: tuple[str, ...] = ()
    if parametrize.is_parametrized(old):
        parametrized = tuple(cast(nn.ModuleDict, old.parametrizations))
    weight = cast(Tensor, old.weight)
    new = cls(
        **_torch_arguments(old, kind),
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
            # The swap stores it through the parametrization's right_inverse, as assigning to
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
    for key, value in old.named_parameters(recurse=False):
        if value is not None:
            setattr(new, key, value)
    new.training = old.training
    _carry_attributes(old, new, base, kind)
    return new, writes


def _carry_attributes(
    old: nn.Module, new: nn.Module, base: type[nn.Module], kind: type[nn.Module]
) -> None:
    state = vars(new)
    for key in _HOOK_ATTRIBUTES:
        # The same dicts, so that existing RemovableHandles keep working on the new layer.
        if key in vars(old):
            state[key] = vars(old)[key]
    dropped = _scheme_attributes(base) | _torch_attributes(kind) | set(_HOOK_ATTRIBUTES)
    for key, value in vars(old).items():
        if key in dropped:
            continue
        if key in state:
            raise ValueError(f"it has an attribute {key!r} that {type(new).__name__} uses itself")
        state[key] = value


@dataclasses.dataclass
class Plan:
    """One replacement: ``old`` (called ``name`` in the model) becomes ``new``, with ``writes``
    stored into it once it is in."""

    name: str
    old: nn.Module
    new: nn.Module
    writes: list[tuple[str, Tensor]] = dataclasses.field(default_factory=list)


def slots(model: nn.Module) -> dict[int, list[tuple[nn.Module, str]]]:
    """Every (parent, attribute) that holds each module, shared modules included."""
    found: dict[int, list[tuple[nn.Module, str]]] = {}
    seen: set[tuple[int, str]] = set()
    for _, parent in model.named_modules(remove_duplicate=False):
        for key, child in parent._modules.items():
            if child is not None and (id(parent), key) not in seen:
                seen.add((id(parent), key))
                found.setdefault(id(child), []).append((parent, key))
    return found


def wrapped(name: str, old: nn.Module, error: Exception) -> Exception:
    """``error`` with the layer it is about, as the same exception type."""
    message = f"cannot convert layer {name!r} ({base_class(old).__name__}): {error}"
    for kind in (ValueError, TypeError, RuntimeError):
        if isinstance(error, kind):
            return kind(message)
    return RuntimeError(message)


class Undo:
    """What :func:`swap` changed, to put back: each slot's old module, in reverse order."""

    def __init__(self) -> None:
        self._done: list[tuple[nn.Module, str, nn.Module, nn.Module]] = []

    def record(self, parent: nn.Module, key: str, old: nn.Module, new: nn.Module) -> None:
        self._done.append((parent, key, old, new))

    def __call__(self, only: Collection[nn.Module] | None = None) -> None:
        """Put the old modules back: all of them, or those replaced by a module in ``only``."""
        kept = []
        for parent, key, old, new in reversed(self._done):
            if only is None or any(new is module for module in only):
                parent._modules[key] = old
            else:
                kept.append((parent, key, old, new))
        self._done = kept[::-1]


def swap(model: nn.Module, plans: list[Plan]) -> Undo:
    """Swap every replacement in and store its writes, or change nothing: on a failure, what was
    already swapped is put back. Returns how to undo the whole swap later."""
    where = slots(model)
    undo = Undo()
    for plan in plans:
        try:
            for parent, key in where[id(plan.old)]:
                setattr(parent, key, plan.new)
                undo.record(parent, key, plan.old, plan.new)
        except BaseException as error:
            undo()
            if isinstance(error, Exception):
                raise wrapped(plan.name, plan.old, error) from error
            raise
    try:
        _store_all(plans)
    except BaseException:
        undo()
        raise
    return undo


def _store_all(plans: list[Plan]) -> None:
    """Store every plan's writes, or none. Stores through a parametrization (its
    ``right_inverse``) can fail, so they go first, each layer's parametrization originals saved to
    be put back; a plain copy into a Parameter of the same shape and dtype cannot."""
    parametrized = [
        (plan, name, value)
        for plan in plans
        for name, value in plan.writes
        if parametrize.is_parametrized(plan.new, name)
    ]
    saved: list[tuple[Tensor, Tensor]] = []
    for plan, name, value in parametrized:
        originals = cast(nn.ModuleDict, plan.new.parametrizations)[name]
        saved += [(t, t.detach().clone()) for t in originals.parameters(recurse=False)]
        try:
            write_parameter(plan.new, name, value)
        except BaseException as error:
            with torch.no_grad():
                for tensor, before in reversed(saved):
                    tensor.copy_(before)
            if isinstance(error, Exception):
                raise wrapped(plan.name, plan.old, error) from error
            raise
    for plan in plans:
        for name, value in plan.writes:
            if not parametrize.is_parametrized(plan.new, name):
                write_parameter(plan.new, name, value)
