"""Activation specs -> a canonical name and the gain that keeps the forward variance at 1.

A spec is a name (``"gelu"``), an ``nn.Module`` class (``nn.GELU``), an instance (``nn.ELU(0.5)``),
or any elementwise callable. Names that ``torch.nn.init.calculate_gain`` knows keep exactly its value
(except selu, see below); every other activation gets the derived gain

    g = 1 / sqrt(E[phi(z)^2]),  z ~ N(0, 1),

which makes unit pre-activation variance a fixed point of q -> g^2 E[phi(sqrt(q) z)^2].
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv._functional import check_gain
from initconv._quadrature import gaussian_expectation

__all__ = ["ActivationSpec", "activations", "gain", "register_activation"]

ActivationSpec = str | nn.Module | type[nn.Module] | Callable[[Tensor], Tensor]

_Params = tuple[tuple[str, Any], ...]


class _Family(NamedTuple):
    """A built-in activation: its function, its parameters with defaults, and a closed-form gain."""

    phi: Callable[..., Tensor]
    defaults: _Params = ()
    exact: Callable[..., float] | None = None


def _leaky_gain(negative_slope: float) -> float:
    # He et al. (2015), eq. 15, as torch.nn.init.calculate_gain computes it.
    return math.sqrt(2.0 / (1 + negative_slope**2))


def _prelu(x: Tensor, init: float) -> Tensor:
    return F.leaky_relu(x, init)


_FAMILIES: dict[str, _Family] = {
    # torch.nn.init.calculate_gain's table, value for value.
    "linear": _Family(lambda x: x, exact=lambda: 1.0),
    "sigmoid": _Family(torch.sigmoid, exact=lambda: 1.0),
    "tanh": _Family(torch.tanh, exact=lambda: 5.0 / 3),
    "relu": _Family(F.relu, exact=lambda: math.sqrt(2.0)),
    "leaky_relu": _Family(F.leaky_relu, (("negative_slope", 0.01),), exact=_leaky_gain),
    "prelu": _Family(_prelu, (("init", 0.25),), exact=lambda init: _leaky_gain(init)),
    # torch says 3/4, chosen empirically for gradient flow; at 3/4 a deep SELU stack settles at
    # q* = 0.023. Self-normalizing networks (Klambauer et al. 2017) need LeCun's 1, which is also
    # what torch's docs recommend for them ("use nonlinearity='linear'").
    "selu": _Family(F.selu, exact=lambda: 1.0),
    # Derived by quadrature.
    "gelu": _Family(F.gelu),
    "gelu_tanh": _Family(functools.partial(F.gelu, approximate="tanh")),
    "silu": _Family(F.silu),
    "mish": _Family(F.mish),
    "elu": _Family(F.elu, (("alpha", 1.0),)),
    "celu": _Family(F.celu, (("alpha", 1.0),)),
    "softplus": _Family(F.softplus, (("beta", 1.0), ("threshold", 20.0))),
    "hardswish": _Family(F.hardswish),
    "hardsigmoid": _Family(F.hardsigmoid),
    "relu6": _Family(F.relu6),
    "hardtanh": _Family(F.hardtanh, (("min_val", -1.0), ("max_val", 1.0))),
    "softsign": _Family(F.softsign),
    "logsigmoid": _Family(F.logsigmoid),
}

_ALIASES: dict[str, str] = {
    "identity": "linear",
    "swish": "silu",
    **{
        name: "linear"
        for name in (
            "conv1d",
            "conv2d",
            "conv3d",
            "conv_transpose1d",
            "conv_transpose2d",
            "conv_transpose3d",
        )
    },
}

_MODULES: dict[type[nn.Module], str] = {
    nn.Identity: "linear",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.SELU: "selu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.ELU: "elu",
    nn.CELU: "celu",
    nn.Softplus: "softplus",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.ReLU6: "relu6",
    nn.Hardtanh: "hardtanh",
    nn.Softsign: "softsign",
    nn.LogSigmoid: "logsigmoid",
}

_FUNCTIONS: dict[Callable[..., Any], str] = {
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.relu: "relu",
    F.relu: "relu",
    F.leaky_relu: "leaky_relu",
    torch.selu: "selu",
    F.selu: "selu",
    F.gelu: "gelu",
    F.silu: "silu",
    F.mish: "mish",
    F.elu: "elu",
    torch.celu: "celu",
    F.celu: "celu",
    F.softplus: "softplus",
    F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid",
    F.relu6: "relu6",
    F.hardtanh: "hardtanh",
    F.softsign: "softsign",
    F.logsigmoid: "logsigmoid",
    Tensor.sigmoid: "sigmoid",
    Tensor.tanh: "tanh",
    Tensor.relu: "relu",
}

# Activations added by register_activation: name -> (function, gain).
_REGISTERED: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {}

# Derived gains of plain callables, kept only as long as the callable lives.
_CALLABLE_GAINS: weakref.WeakKeyDictionary[Callable[..., Any], float] = weakref.WeakKeyDictionary()


def activations() -> tuple[str, ...]:
    """The activation names that ``activation=`` accepts, sorted: built-in, aliases and registered."""
    return tuple(sorted({*_FAMILIES, *_ALIASES, *_REGISTERED}))


def _canonical(name: str, params: Mapping[str, Any]) -> str:
    defaults = dict(_FAMILIES[name].defaults)
    # Floats print to 7 significant digits: a PReLU's float32 slope 0.1 reads 0.1, not 0.100000001.
    changed = [
        f"{key}={value:.7g}" if isinstance(value, float) else f"{key}={value!r}"
        for key, value in params.items()
        if value != defaults[key]
    ]
    return f"{name}({', '.join(changed)})" if changed else name


@functools.cache
def _family_gain(name: str, params: _Params) -> float:
    family = _FAMILIES[name]
    kwargs = dict(params)
    if family.exact is not None:
        return family.exact(**kwargs)
    return _derived_gain(name, functools.partial(family.phi, **kwargs))


def _derived_gain(label: str, phi: Callable[[Tensor], Tensor]) -> float:
    def second_moment(z: Tensor) -> Tensor:
        try:
            out = phi(z)
        except Exception as error:
            raise TypeError(
                f"activation {label} could not be evaluated on a float64 tensor ({error}); "
                "pass gain= explicitly or use register_activation(name, fn, gain=...)"
            ) from error
        if not isinstance(out, Tensor):
            raise TypeError(f"activation {label} must return a Tensor, got {type(out).__name__}")
        if out.shape != z.shape:
            raise ValueError(
                f"activation {label} must be elementwise, but it changed the input's shape "
                f"{tuple(z.shape)} to {tuple(out.shape)}"
            )
        if not torch.isfinite(out).all():
            bad = z[~torch.isfinite(out)].flatten()[0].item()
            raise ValueError(f"activation {label} returned NaN or inf at z = {bad:.6g}")
        return out.to(torch.float64) ** 2

    moment = gaussian_expectation(second_moment)
    if not moment > 0.0:
        raise ValueError(
            f"activation {label} is zero for almost every input (E[phi(z)^2] = {moment}), "
            "so no gain can give its output unit variance; pass gain= explicitly"
        )
    return 1.0 / math.sqrt(moment)


def _unknown_name(name: str) -> ValueError:
    names = activations()
    message = f"activation must be one of {names}, got {name!r}"
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return ValueError(message)


def _from_module(module: nn.Module) -> tuple[str, float]:
    name = _MODULES[type(module)]
    if name == "gelu" and getattr(module, "approximate", "none") == "tanh":
        name = "gelu_tanh"
    if name == "prelu":
        slopes = module.get_parameter("weight").detach()
        if not bool((slopes == slopes.flatten()[0]).all()):
            raise ValueError(
                "activation nn.PReLU must have one slope for its gain to be defined, got "
                f"per-channel slopes {slopes.tolist()!r}; pass gain= explicitly"
            )
        params: dict[str, Any] = {"init": float(slopes.flatten()[0])}
    else:
        params = {key: getattr(module, key) for key, _ in _FAMILIES[name].defaults}
    return _canonical(name, params), _family_gain(name, tuple(params.items()))


def _callable_label(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def resolve(spec: ActivationSpec) -> tuple[str, float]:
    """Resolve an activation spec to ``(canonical name, gain)``; see the module docstring."""
    if isinstance(spec, str):
        name = _ALIASES.get(spec, spec)
        if name in _FAMILIES:
            return name, _family_gain(name, _FAMILIES[name].defaults)
        if name in _REGISTERED:
            return name, _REGISTERED[name][1]
        raise _unknown_name(spec)
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
    if isinstance(spec, nn.Module) and type(spec) in _MODULES:
        return _from_module(spec)
    if callable(spec):
        fn: Callable[[Tensor], Tensor] = spec
        try:
            known = _FUNCTIONS.get(spec)
        except TypeError:  # an unhashable callable
            known = None
        if known is not None:
            return resolve(known)
        label = _callable_label(spec)
        try:
            return label, _CALLABLE_GAINS[spec]
        except (KeyError, TypeError):
            value = _derived_gain(label, fn)
        with contextlib.suppress(TypeError):  # not weak-referenceable: derived again next time
            _CALLABLE_GAINS[spec] = value
        return label, value
    raise TypeError(
        "activation must be a name, an nn.Module class or instance, or an elementwise callable, "
        f"got {type(spec).__name__} {spec!r}"
    )


def gain(activation: ActivationSpec) -> float:
    r"""Return the initialisation gain for ``activation``.

    Names known to :func:`torch.nn.init.calculate_gain` get exactly its value (linear, conv*,
    sigmoid: 1; tanh: 5/3; relu: :math:`\sqrt{2}`; leaky_relu: :math:`\sqrt{2 / (1 + a^2)}`), except
    selu, which gets 1, the value self-normalizing networks need (Klambauer et al., 2017). Every
    other activation gets the gain derived from the Gaussian second moment,

    .. math::
        g = \frac{1}{\sqrt{\mathbb{E}_{z \sim \mathcal{N}(0, 1)}[\phi(z)^2]}},

    computed by adaptive quadrature to 1e-9, kinks included. It makes unit pre-activation variance a
    fixed point of the forward variance map (Poole et al., 2016, "Exponential expressivity in deep
    neural networks through transient chaos").

    Args:
        activation: a name (``"gelu"``), an ``nn.Module`` class or instance (its parameters, such
            as ``negative_slope`` or ``alpha``, are read from it), or an elementwise callable.

    Examples:
        >>> round(gain("gelu"), 4)
        1.5335
        >>> round(gain(nn.LeakyReLU(0.2)), 4)
        1.3868
    """
    return resolve(activation)[1]


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
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if name in _FAMILIES or name in _ALIASES:
        raise ValueError(f"name {name!r} is a built-in activation and cannot be registered again")
    if name in _REGISTERED and not overwrite:
        raise ValueError(
            f"activation {name!r} is already registered; pass overwrite=True to replace it"
        )
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r}")
    value = _derived_gain(repr(name), fn) if gain is None else check_gain(gain)
    _REGISTERED[name] = (fn, value)
