"""Activation specs -> a canonical name and the gain that keeps the forward variance at 1.

A spec is a name (``"gelu"``), an ``nn.Module`` class (``nn.GELU``), an instance (``nn.ELU(0.5)``),
or any elementwise callable. Names that ``torch.nn.init.calculate_gain`` knows keep exactly its value
(except selu, see below); every other activation gets the derived gain

    g = 1 / sqrt(E[phi(z)^2]),  z ~ N(0, 1),

which makes unit pre-activation variance a fixed point of q -> g^2 E[phi(sqrt(q) z)^2].

Every built-in activation is one :class:`Builtin` record; the lookups by name, module class and
function are derived from :data:`BUILTINS`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv._maths.derived_gain import callable_gain, derived_gain
from initconv._maths.fans import CONVOLUTIONS, KIND_NAMES
from initconv._validate import check_real, describe, suggestion

__all__ = ["ActivationSpec", "activations", "gain", "register_activation"]

_Params = tuple[tuple[str, Any], ...]


def _leaky_gain(negative_slope: float) -> float:
    # He et al. (2015), eq. 15, as torch.nn.init.calculate_gain computes it; a slope whose square
    # overflows gets the same value as sqrt(2) / hypot(1, a).
    try:
        return math.sqrt(2.0 / (1 + negative_slope**2))
    except OverflowError:
        return math.sqrt(2.0) / math.hypot(1.0, negative_slope)


def _identity(x: Tensor) -> Tensor:
    return x


def _prelu(x: Tensor, init: float) -> Tensor:
    return F.leaky_relu(x, init)


def _prelu_gain(init: float) -> float:
    return _leaky_gain(init)


@dataclasses.dataclass(frozen=True)
class Builtin:
    """A built-in activation: its function, module class, functional forms and gain.

    Attributes:
        name: the canonical name.
        phi: the function, called as ``phi(x, **params)``.
        module: the ``nn.Module`` class that applies it, if any.
        functions: the functional forms that apply it (``F.relu``, ``torch.relu``, ...).
        defaults: its parameters and their defaults, as the module's attribute names.
        exact: a closed-form gain of the parameters; ``None`` for a gain derived by quadrature.
        source: why the gain has its value, for the gain table.
    """

    name: str
    phi: Callable[..., Tensor]
    module: type[nn.Module] | None = None
    functions: tuple[Callable[..., Any], ...] = ()
    defaults: _Params = ()
    exact: Callable[..., float] | None = None
    source: str = "derived"


_TORCH = "torch's table"

BUILTINS: tuple[Builtin, ...] = (
    # torch.nn.init.calculate_gain's table, value for value.
    Builtin("linear", _identity, nn.Identity, exact=lambda: 1.0, source=_TORCH),
    Builtin(
        "sigmoid",
        torch.sigmoid,
        nn.Sigmoid,
        (torch.sigmoid, F.sigmoid, Tensor.sigmoid),
        exact=lambda: 1.0,
        source=_TORCH,
    ),
    Builtin(
        "tanh",
        torch.tanh,
        nn.Tanh,
        (torch.tanh, F.tanh, Tensor.tanh),
        exact=lambda: 5.0 / 3,
        source=_TORCH,
    ),
    Builtin(
        "relu",
        F.relu,
        nn.ReLU,
        (torch.relu, F.relu, Tensor.relu),
        exact=lambda: math.sqrt(2.0),
        source=_TORCH,
    ),
    Builtin(
        "leaky_relu",
        F.leaky_relu,
        nn.LeakyReLU,
        (F.leaky_relu,),
        (("negative_slope", 0.01),),
        exact=_leaky_gain,
        source=_TORCH,
    ),
    Builtin(
        "prelu",
        _prelu,
        nn.PReLU,
        defaults=(("init", 0.25),),
        exact=_prelu_gain,
        source="leaky_relu's formula at the init slope 0.25",
    ),
    # torch says 3/4, chosen empirically for gradient flow; at 3/4 a deep SELU stack settles at
    # q* = 0.023. Self-normalizing networks (Klambauer et al. 2017) need LeCun's 1, which is also
    # what torch's docs recommend for them ("use nonlinearity='linear'").
    Builtin(
        "selu",
        F.selu,
        nn.SELU,
        (torch.selu, F.selu),
        exact=lambda: 1.0,
        source="self-normalizing value (torch: 3/4)",
    ),
    # Derived by quadrature.
    Builtin("gelu", F.gelu, nn.GELU, (F.gelu,)),
    Builtin("gelu_tanh", functools.partial(F.gelu, approximate="tanh")),
    Builtin("silu", F.silu, nn.SiLU, (F.silu,)),
    Builtin("mish", F.mish, nn.Mish, (F.mish,)),
    Builtin("elu", F.elu, nn.ELU, (F.elu,), (("alpha", 1.0),)),
    Builtin("celu", F.celu, nn.CELU, (torch.celu, F.celu), (("alpha", 1.0),)),
    Builtin(
        "softplus", F.softplus, nn.Softplus, (F.softplus,), (("beta", 1.0), ("threshold", 20.0))
    ),
    Builtin("hardswish", F.hardswish, nn.Hardswish, (F.hardswish,)),
    Builtin("hardsigmoid", F.hardsigmoid, nn.Hardsigmoid, (F.hardsigmoid,)),
    Builtin("relu6", F.relu6, nn.ReLU6, (F.relu6,)),
    Builtin(
        "hardtanh", F.hardtanh, nn.Hardtanh, (F.hardtanh,), (("min_val", -1.0), ("max_val", 1.0))
    ),
    Builtin("softsign", F.softsign, nn.Softsign, (F.softsign,)),
    Builtin("logsigmoid", F.logsigmoid, nn.LogSigmoid, (F.logsigmoid,)),
)

ALIASES: Mapping[str, str] = {
    "identity": "linear",
    "swish": "silu",
    # calculate_gain's names for a linear map.
    **{KIND_NAMES[kind]: "linear" for kind in CONVOLUTIONS},
}

_BY_NAME: dict[str, Builtin] = {record.name: record for record in BUILTINS}
_BY_MODULE: dict[type[nn.Module], Builtin] = {
    record.module: record for record in BUILTINS if record.module is not None
}
_BY_FUNCTION: dict[object, str] = {
    function: record.name for record in BUILTINS for function in record.functions
}

# Activations added by register_activation: name -> (function, gain). Written under the lock, so
# that of two threads registering one name, one is refused.
_REGISTERED: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {}
_REGISTRY_LOCK = threading.Lock()


# A built-in activation with its parameters: ("elu", (("alpha", 0.5),)), plain values only.
BuiltinSpec = tuple[str, _Params]


@dataclasses.dataclass(frozen=True)
class Resolved:
    """An activation spec, resolved: its canonical name, gain and float64 elementwise function.

    ``spec`` is the built-in record's name and parameters for a built-in activation (``None``
    for any other): the name alone then determines the function, so what is derived from it
    may be cached by name, and the spec, plain values, rebuilds it (:func:`from_spec`) where the
    function cannot travel (a pickled layer). Any other function may change under the same name
    (a registered name replaced, a module's parameter set).
    """

    name: str
    gain: float
    phi: Callable[[Tensor], Tensor]
    spec: BuiltinSpec | None = None

    @property
    def builtin(self) -> bool:
        return self.spec is not None


ActivationSpec = str | nn.Module | type[nn.Module] | Callable[[Tensor], Tensor] | Resolved


def activations() -> tuple[str, ...]:
    """The activation names that ``activation=`` accepts, sorted: built-in, aliases and registered."""
    return tuple(sorted({*_BY_NAME, *ALIASES, *_REGISTERED}))


def builtin(name: str) -> Builtin | None:
    """The record of the built-in activation ``name`` (aliases resolved), or ``None``."""
    return _BY_NAME.get(ALIASES.get(name, name))


def module_class(name: str) -> type[nn.Module] | None:
    """The module class of the built-in activation ``name``, or ``None``."""
    record = builtin(name)
    return None if record is None else record.module


def is_activation_module(module: nn.Module) -> bool:
    """Whether ``module`` is one of the built-in activation modules (``nn.Identity`` is not)."""
    return type(module) in _BY_MODULE and not isinstance(module, nn.Identity)


def function_name(target: object) -> str | None:
    """The activation name of a function, its in-place variant (``torch.relu_``) and registered
    functions included; ``None`` for anything else."""
    candidates: list[object] = [target]
    label = getattr(target, "__name__", "")
    if isinstance(label, str) and label.endswith("_"):
        candidates += [getattr(F, label[:-1], None), getattr(torch, label[:-1], None)]
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            name = _BY_FUNCTION.get(candidate)
        except TypeError:  # an unhashable target
            name = None
        if name is not None:
            return name
        for registered, (fn, _) in list(_REGISTERED.items()):
            if fn is candidate:
                return registered
    return None


def _canonical(name: str, params: Mapping[str, Any]) -> str:
    defaults = dict(_BY_NAME[name].defaults)
    # Floats print to 7 significant digits: a PReLU's float32 slope 0.1 reads 0.1, not 0.100000001.
    changed = [
        f"{key}={value:.7g}" if isinstance(value, float) else f"{key}={value!r}"
        for key, value in params.items()
        if value != defaults[key]
    ]
    return f"{name}({', '.join(changed)})" if changed else name


@functools.cache
def _builtin_gain(name: str, params: _Params) -> float:
    record = _BY_NAME[name]
    kwargs = dict(params)
    if record.exact is not None:
        return record.exact(**kwargs)
    return derived_gain(name, functools.partial(record.phi, **kwargs))


def _from_module(module: nn.Module) -> Resolved:
    record = _BY_MODULE[type(module)]
    name = record.name
    if name == "gelu" and getattr(module, "approximate", "none") == "tanh":
        record = _BY_NAME["gelu_tanh"]
        name = record.name
    if name == "prelu":
        params: dict[str, Any] = {"init": _prelu_slope(module)}
    else:
        params = {
            key: check_real(f"activation nn.{type(module).__name__}'s {key}", getattr(module, key))
            for key, _ in record.defaults
        }
    return from_spec((name, tuple(params.items())))


def from_spec(spec: BuiltinSpec) -> Resolved:
    """The built-in activation ``spec`` names (a :attr:`Resolved.spec`), resolved."""
    name, params = spec
    phi = functools.partial(_BY_NAME[name].phi, **dict(params))
    return Resolved(_canonical(name, dict(params)), _builtin_gain(name, params), phi, spec)


def _prelu_slope(module: nn.Module) -> float:
    slopes = module.get_parameter("weight").detach()
    if slopes.is_meta:
        # A model built on the meta device has no slope values yet; the module keeps the value
        # they will be initialised to.
        return check_real("activation nn.PReLU's init", getattr(module, "init", 0.25))
    if slopes.numel() == 0 or not bool((slopes == slopes.flatten()[0]).all()):
        raise ValueError(
            "activation nn.PReLU must have one slope for its gain to be defined, got "
            f"per-channel slopes {slopes.tolist()!r}; pass gain= explicitly"
        )
    return check_real("activation nn.PReLU's slope", float(slopes.flatten()[0]))


def _callable_label(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def _from_name(spec: str) -> Resolved:
    name = ALIASES.get(spec, spec)
    record = _BY_NAME.get(name)
    if record is not None:
        return from_spec((name, record.defaults))
    if name in _REGISTERED:
        fn, value = _REGISTERED[name]
        return Resolved(name, value, fn)
    # The canonical names only: the aliases would double the list without adding a choice.
    canonical = tuple(sorted({*_BY_NAME, *_REGISTERED}))
    raise ValueError(
        f"activation must be one of {canonical} (or an alias: 'identity' and torch's conv names "
        f"for 'linear', 'swish' for 'silu'), an nn.Module or a callable, got {spec!r}"
        f"{suggestion(spec, activations())}"
    )


def _from_callable(spec: Callable[[Tensor], Tensor]) -> Resolved:
    known = function_name(spec)
    if known is not None:
        return _from_name(known)
    label = _callable_label(spec)
    return Resolved(label, callable_gain(label, spec), spec)


def resolve(spec: ActivationSpec) -> Resolved:
    """Resolve an activation spec to its canonical name, gain and function (module docstring)."""
    if isinstance(spec, str):
        return _from_name(spec)
    if isinstance(spec, Resolved):
        # Already resolved: an activation that inference read from what a model computes (a
        # formula written out, a gated unit), with its name and gain.
        return spec
    if isinstance(spec, type):
        if not issubclass(spec, nn.Module):
            raise TypeError(f"activation class must be an nn.Module subclass, got {spec!r}")
        try:
            instance = spec()
        except TypeError as error:
            raise TypeError(
                f"activation class {spec.__name__} cannot be built without arguments ({error}); "
                f"pass an instance such as {spec.__name__}(...)"
            ) from error
        return resolve(instance)
    if isinstance(spec, nn.Module) and type(spec) in _BY_MODULE:
        return _from_module(spec)
    if callable(spec):
        return _from_callable(spec)
    raise TypeError(
        "activation must be a name, an nn.Module class or instance, or an elementwise callable, "
        f"got {describe(spec)}"
    )


def gain(activation: ActivationSpec) -> float:
    r"""Return the initialisation gain for ``activation``.

    Names known to :func:`torch.nn.init.calculate_gain` get exactly its value (linear, conv*,
    sigmoid: 1; tanh: 5/3; relu: :math:`\sqrt{2}`; leaky_relu: :math:`\sqrt{2 / (1 + a^2)}`), except
    selu, which gets 1, the value self-normalizing networks need (Klambauer et al., 2017). Every
    other activation gets the gain derived from the Gaussian second moment,

    .. math::
        g = \frac{1}{\sqrt{\mathbb{E}_{z \sim \mathcal{N}(0, 1)}[\phi(z)^2]}},

    computed by adaptive quadrature (relative error below 1e-12, or the activation's own precision
    when it computes in float32 or narrower), kinks included. It makes unit pre-activation variance
    a fixed point of the forward variance map (Poole et al., 2016, "Exponential expressivity in deep
    neural networks through transient chaos"). A callable must be elementwise and deterministic
    (checked on a probe first: ``nn.Softmax(dim=1)`` and ``nn.Dropout()`` in training mode are
    refused), and its gain is derived again whenever its outputs on the probe change.

    Args:
        activation: a name (``"gelu"``), an ``nn.Module`` class or instance (its parameters, such
            as ``negative_slope`` or ``alpha``, are read from it), or an elementwise callable.

    Examples:
        >>> round(gain("gelu"), 4)
        1.5335
        >>> round(gain(nn.LeakyReLU(0.2)), 4)
        1.3868
    """
    return resolve(activation).gain


def register_activation(
    name: str,
    fn: Callable[[Tensor], Tensor],
    gain: float | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Add ``name`` to the activations that ``activation=`` and :func:`gain` accept.

    Args:
        name: the new name.
        fn: the elementwise activation, evaluated on float64 tensors when ``gain`` is not given.
        gain: the gain to use; derived from ``fn`` by quadrature when ``None``.
        overwrite: replace an earlier registration of ``name``. Built-in names cannot be replaced.

    Examples:
        >>> register_activation("squareplus", lambda x: (x + (x * x + 4).sqrt()) / 2)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {describe(name)}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {describe(overwrite)}")
    if name in _BY_NAME or name in ALIASES:
        raise ValueError(f"name {name!r} is a built-in activation and cannot be registered again")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {describe(fn)}")
    _check_free(name, overwrite)
    if gain is None:
        try:
            value = derived_gain(repr(name), fn)
        except (TypeError, ValueError) as error:
            raise type(error)(f"fn cannot be registered as {name!r}: {error}") from error
    else:
        value = check_real("gain", gain, minimum=0.0)
    # The gain is derived outside the lock (it may take a while); the name is checked again and
    # taken under it, so that two threads registering one name cannot both succeed.
    with _REGISTRY_LOCK:
        _check_free(name, overwrite)
        _REGISTERED[name] = (fn, value)


def registered_function(name: str) -> object:
    """The function registered under ``name`` (None for a built-in or unknown name): what a result
    cached by name must be keyed with too, as ``overwrite=True`` can replace it."""
    entry = _REGISTERED.get(name)
    return None if entry is None else entry[0]


def _check_free(name: str, overwrite: bool) -> None:
    if name in _REGISTERED and not overwrite:
        raise ValueError(
            f"activation {name!r} is already registered; pass overwrite=True to replace it"
        )
