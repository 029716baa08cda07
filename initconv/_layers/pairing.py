"""Pairs of a scheme and a layer kind: the classes users construct.

Every kind (``InitConv2d``, ``InitLinear``, ...) and every pair (``KaimingNormalConv2d``) records
itself here when its class is defined. :func:`layer_class` returns the pair for any scheme and kind:
the built-in one where it exists, else a class made once and cached, so a user's scheme serves every
kind without writing a class per kind.
"""

from __future__ import annotations

import copyreg
from typing import Any

from torch import nn

from initconv._maths.fans import KIND_NAMES
from initconv._schemes.base import Scheme, is_concrete, resolve_scheme
from initconv._validate import describe, unknown_name_error

__all__ = ["layer_class"]

# torch class -> the initconv kind base that wraps it (nn.Conv2d -> InitConv2d).
_KIND_BASES: dict[type[nn.Module], type[Scheme]] = {}
# (scheme, torch class) -> the pair, and back.
_PAIRS: dict[tuple[type[Scheme], type[nn.Module]], type[Scheme]] = {}
_SCHEME_OF_PAIR: dict[type, type[Scheme]] = {}

# What default pickling reconstructs an object with (copyreg's __newobj__, not in its stubs).
_NEWOBJ = vars(copyreg)["__newobj__"]


def bound_kind(cls: type) -> type[nn.Module] | None:
    """The torch class a scheme class is bound to (its kind), or ``None`` for a pure scheme."""
    for klass in cls.__mro__:
        kind = klass.__dict__.get("torch_kind")
        if kind is not None:
            return kind  # type: ignore[no-any-return]
    return None


def served_kinds(cls: type[Scheme]) -> tuple[type[nn.Module], ...]:
    """The torch classes ``cls`` can be built as: its own kind if it has one, else its ``kinds``."""
    own = bound_kind(cls)
    return cls.kinds if own is None else (own,)


def note_class(cls: type[Scheme]) -> None:
    """Record a kind base or a (scheme, kind) pair; refuse a pair whose scheme does not serve it."""
    kind = cls.__dict__.get("torch_kind")
    if kind is not None:
        _KIND_BASES[kind] = cls
        return
    bases = cls.__bases__
    if len(bases) != 2 or bases[1] not in _KIND_BASES.values():
        return
    scheme, kind_base = bases
    kind = bound_kind(kind_base)
    if not issubclass(scheme, Scheme) or bound_kind(scheme) is not None or kind is None:
        return
    _check_serves(scheme, kind)
    _PAIRS.setdefault((scheme, kind), cls)
    _SCHEME_OF_PAIR[cls] = scheme
    if cls.__dict__.get("__doc__") is None:
        cls.__doc__ = _pair_doc(scheme, kind)


def _pair_doc(scheme: type[Scheme], kind: type[nn.Module]) -> str:
    return (
        f"{scheme.__doc__ or scheme.__name__}\n\n    This class is the scheme's ``nn.{kind.__name__}``: "
        f"a subclass of it with its signature, forward and ``state_dict`` keys, and the "
        "keyword-only options ``activation``, ``gain``, ``bias_init``, ``seed`` and the "
        "scheme's own.\n"
    )


def _check_serves(scheme: type[Scheme], kind: type[nn.Module]) -> None:
    kinds = served_kinds(scheme)
    if kind not in kinds:
        names = tuple(kind.__name__ for kind in kinds)
        raise TypeError(
            f"scheme {scheme.scheme or scheme.__name__!r} has no meaning for nn.{kind.__name__}; "
            f"it serves {names}"
        )


def resolve_kind(spec: object) -> type[nn.Module]:
    """A torch layer class from itself, its initconv kind, or its name (``"conv_transpose2d"``)."""
    if isinstance(spec, str):
        for kind, name in KIND_NAMES.items():
            if spec in (name, kind.__name__):
                return kind
        raise unknown_name_error("kind", spec, KIND_NAMES.values())
    if isinstance(spec, type):
        for kind in KIND_NAMES:
            if spec is kind or (issubclass(spec, kind) and spec in _KIND_BASES.values()):
                return kind
    raise TypeError(
        f"kind must be a layer class ({', '.join(f'nn.{k.__name__}' for k in KIND_NAMES)}) or its "
        f"name {tuple(KIND_NAMES.values())}, got {describe(spec)}"
    )


def scheme_of(cls: type[Scheme]) -> type[Scheme]:
    """The layer-independent scheme of a pair; any other class is its own scheme."""
    return _SCHEME_OF_PAIR.get(cls, cls)


def layer_class(scheme: str | type[Scheme], kind: type[nn.Module] | str) -> type[Any]:
    """The layer class of ``scheme`` for ``kind``: a subclass of the torch layer that draws by it.

    ``layer_class("kaiming_normal", nn.ConvTranspose2d)`` is
    :class:`initconv.KaimingNormalConvTranspose2d`. A scheme without a built-in class for the kind
    gets one made for it, once; where the scheme has no meaning for the kind (delta-orthogonal for
    ``nn.Linear``), a TypeError names the kinds it serves.

    Args:
        scheme: a registered name (``"he_normal"`` and the other aliases too), a
            :class:`~initconv.Scheme` subclass, or a layer class of one.
        kind: ``nn.Conv1d``, ..., ``nn.ConvTranspose3d``, ``nn.Linear``, or its name
            (``"conv_transpose2d"``, ``"linear"``).

    Examples:
        >>> layer_class("kaiming_normal", nn.Linear).__name__
        'KaimingNormalLinear'
    """
    cls = scheme_of(resolve_scheme(scheme))
    torch_kind = resolve_kind(kind)
    own = bound_kind(cls)
    if own is not None:
        # A scheme written as a subclass of one kind is its own layer, for that kind only.
        _check_serves(cls, torch_kind)
        return cls
    _check_serves(cls, torch_kind)
    pair = _PAIRS.get((cls, torch_kind))
    if pair is None:
        pair = _make_pair(cls, torch_kind)
    return pair


def _make_pair(scheme: type[Scheme], kind: type[nn.Module]) -> type[Scheme]:
    if not is_concrete(scheme):
        raise TypeError(f"scheme must be a concrete scheme, got the abstract {scheme.__name__}")
    name = f"{scheme.__name__}{kind.__name__}"
    namespace = {
        "__module__": scheme.__module__,
        "__qualname__": f"{scheme.__qualname__}{kind.__name__}",
        "__doc__": _pair_doc(scheme, kind),
        "__reduce_ex__": _reduce_made_pair,
    }
    pair: type[Scheme] = type(name, (scheme, _KIND_BASES[kind]), namespace)
    return pair


def _reduce_made_pair(self: nn.Module, protocol: Any) -> Any:
    # A class made at run time cannot be found by its name when unpickling; it is made again from
    # its scheme and kind, which can.
    reduced = nn.Module.__reduce_ex__(self, protocol)
    cls = type(self)
    scheme = _SCHEME_OF_PAIR.get(cls)
    if scheme is None or not isinstance(reduced, tuple) or reduced[0] is not _NEWOBJ:
        return reduced
    return (_new_pair_instance, (scheme, bound_kind(cls)), *reduced[2:])


def _new_pair_instance(scheme: type[Scheme], kind: type[nn.Module]) -> Scheme:
    cls = layer_class(scheme, kind)
    instance: Scheme = object.__new__(cls)
    return instance
