"""Hypothesis strategies for initialisation schemes: layer configurations, activations, options.

Every strategy draws only valid inputs, by construction: no ``filter`` or ``assume`` that could
starve a run, and no early return in a test. Each configuration carries a ``seed`` for the layer, so
every random draw replays from the Hypothesis example. :func:`layer_options` draws every option a
layer takes (the scheme's own, the activation or gain, ``bias_init``), so a test over it covers the
options as well as the shapes.

Examples:
    >>> from hypothesis import given
    >>> import initconv
    >>> from initconv.testing.strategies import layer_configs
    >>> @given(layer_configs(initconv.DeltaOrthogonal, "conv_transpose2d"))
    ... def test_builds(config):
    ...     initconv.DeltaOrthogonalConvTranspose2d(**config).check_invariants()
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv
from initconv._layers.pairing import layer_class, resolve_kind, scheme_of, served_kinds
from initconv._schemes.base import BASE_OPTIONS, Scheme
from initconv._schemes.bias import BIAS_INITS

__all__ = [
    "FLOAT_DTYPES",
    "activations",
    "bias_options",
    "conv2d_configs",
    "layer_configs",
    "layer_options",
    "scheme_options",
]

FLOAT_DTYPES: tuple[torch.dtype, ...] = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
)

# A configuration a scheme does not serve is repaired by multiplying out_channels by the first of
# these that it serves: a multiple keeps groups dividing it, covers "out >= in" (delta-orthogonal)
# and "out divisible by groups * r^d" (ICNR, r^d <= 16), and needs no list of schemes.
_OUT_MULTIPLIERS = tuple(range(1, 17))

# Gains, scales and standard deviations: from 0.1, float16 weights stay out of the subnormal range,
# where a variance is no longer the drawn one.
_POSITIVE = st.floats(0.1, 4.0)

# The largest ICNR upscale_factor per spatial dimension count: r^d <= 16, the out_channels
# multiple that layer_configs can repair to.
_MAX_UPSCALE = {1: 16, 2: 4, 3: 2}


def _convolution_config(
    draw: st.DrawFn,
    d: int,
    max_groups: int,
    max_per_group: int,
    max_kernel: int,
    min_groups: int,
    min_per_group: int,
) -> dict[str, Any]:
    groups = draw(st.integers(min_groups, max_groups))
    per_group = st.integers(min_per_group, max_per_group)
    # 3-d kernels stay small: their size is the product of three sides.
    side = st.integers(1, max_kernel if d < 3 else min(max_kernel, 3))
    config: dict[str, Any] = {
        "in_channels": groups * draw(per_group),
        "out_channels": groups * draw(per_group),
        "kernel_size": tuple(draw(side) for _ in range(d)),
        "stride": tuple(draw(st.integers(1, 3)) for _ in range(d)),
        "groups": groups,
    }
    return config


def _linear_config(draw: st.DrawFn, max_features: int) -> dict[str, Any]:
    return {
        "in_features": draw(st.integers(1, max_features)),
        "out_features": draw(st.integers(1, max_features)),
    }


_DIMS: dict[type[nn.Module], int] = {
    nn.Conv1d: 1,
    nn.Conv2d: 2,
    nn.Conv3d: 3,
    nn.ConvTranspose1d: 1,
    nn.ConvTranspose2d: 2,
    nn.ConvTranspose3d: 3,
}


@st.composite
def layer_configs(
    draw: st.DrawFn,
    /,
    scheme: type[Scheme] | None = None,
    kind: type[nn.Module] | str = nn.Conv2d,
    *,
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES,
    max_groups: int = 4,
    max_per_group: int = 8,
    max_kernel: int = 5,
    min_groups: int = 1,
    min_per_group: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Constructor keywords of a valid layer of ``kind``: its shape, bias, dtype and seed.

    Convolutions draw ``min_groups`` to ``max_groups`` groups first and both channel counts as
    ``min_per_group`` to ``max_per_group`` channels per group; kernels are 1 to ``max_kernel`` per
    side (3 in 3-d), even and rectangular ones included, and strides 1 to 3. Linear layers draw 1 to
    ``max_groups * max_per_group * 4`` features each way. With ``scheme`` (a
    :class:`~initconv.Scheme`, or a layer class), the configuration is one its layer of that kind
    serves together with ``options`` (:meth:`~initconv.InitLayer.serves`): a drawn one it refuses
    has its outputs multiplied by the least of 2..16 that it accepts; failing that, its stride is
    set to 1 as well; failing that, its inputs to one per group. A scheme that serves none of those
    raises its own error, so nothing is skipped silently.
    """
    torch_kind = resolve_kind(kind)
    if torch_kind is nn.Linear:
        config = _linear_config(draw, max_groups * max_per_group * 4)
    else:
        config = _convolution_config(
            draw,
            _DIMS[torch_kind],
            max_groups,
            max_per_group,
            max_kernel,
            min_groups,
            min_per_group,
        )
    # A bias first (Hypothesis starts from the first choice): it is what bias_init draws.
    config["bias"] = draw(st.sampled_from([True, False]))
    config["dtype"] = draw(st.sampled_from(dtypes))
    config["seed"] = draw(st.integers(0, 2**32 - 1))
    if scheme is None:
        return config
    return _served(layer_class(scheme, torch_kind), config, options)


def _served(cls: type[Any], config: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``config`` repaired into one that ``cls`` serves with ``options`` (:func:`layer_configs`)."""
    linear = "in_features" in config
    outputs, inputs = ("out_features", "in_features") if linear else ("out_channels", "in_channels")
    drawn = dict(config)
    # A scheme that refuses every stride but 1 (the identity of a transposed convolution) gets it;
    # one that needs fewer inputs than outputs for every multiple (ICNR over delta-orthogonal,
    # whose sub-kernel has out / r^d channels) gets one input per group.
    attempts: list[dict[str, int]] = [{}]
    if not linear:
        attempts += [{"stride": 1}, {"stride": 1, inputs: config["groups"]}]
    for attempt in attempts:
        candidate = {**drawn, **attempt}
        for multiplier in _OUT_MULTIPLIERS:
            candidate[outputs] = drawn[outputs] * multiplier
            if cls.serves(**candidate, **options):
                return candidate
    cls(**drawn, **options)
    raise ValueError(
        f"{cls.__name__} serves none of {outputs} = {drawn[outputs]} x 1..16, at the drawn stride "
        f"or 1, with the drawn {inputs} or one per group, for {drawn!r}, {options!r}; override "
        f"{cls.__name__}.serves or pass a narrower strategy"
    )


def conv2d_configs(
    scheme: type[Scheme] | None = None,
    *,
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES,
    max_groups: int = 4,
    max_per_group: int = 8,
    max_kernel: int = 5,
    **options: Any,
) -> st.SearchStrategy[dict[str, Any]]:
    """:func:`layer_configs` for ``nn.Conv2d``."""
    limits = {"max_groups": max_groups, "max_per_group": max_per_group, "max_kernel": max_kernel}
    return layer_configs(scheme, nn.Conv2d, dtypes=dtypes, **limits, **options)


# --- Options ---------------------------------------------------------------------------------------


def _literal_options(scheme: type[Scheme]) -> dict[str, st.SearchStrategy[Any]]:
    """The keyword options typed as a ``Literal``, each drawn from its values, the default last.

    Hypothesis starts from the first choice and shrinks towards it, so the values that differ from
    the default come first: those are the ones a defect in the option shows under.
    """
    defaults = scheme.options()
    choices: dict[str, st.SearchStrategy[Any]] = {}
    for klass in scheme.__mro__:
        for method in ("configure", "__init__"):
            function = klass.__dict__.get(method)
            if function is None or not issubclass(klass, Scheme):
                continue
            try:
                hints = typing.get_type_hints(function)
            except (NameError, TypeError):  # annotations that do not resolve: keep the defaults
                continue
            for name, hint in hints.items():
                if typing.get_origin(hint) is Literal and name not in choices:
                    values = typing.get_args(hint)
                    last = [value for value in values if value == defaults.get(name)]
                    choices[name] = st.sampled_from([v for v in values if v not in last] + last)
    return choices


@st.composite
def _uniform_options(draw: st.DrawFn, kind: type[nn.Module]) -> dict[str, Any]:
    # The centre at most two half-widths from 0: in bfloat16 the values' spacing then stays below
    # a hundredth of the width, so rounding neither moves the variance nor the KS statistic.
    half = draw(st.floats(0.1, 2.0))
    centre = half * draw(st.floats(-2.0, 2.0))
    return {"low": centre - half, "high": centre + half}


@st.composite
def _normal_options(draw: st.DrawFn, kind: type[nn.Module]) -> dict[str, Any]:
    std = draw(_POSITIVE)
    return {"mean": std * draw(st.floats(-2.0, 2.0)), "std": std}


def _variance_scaling_options(kind: type[nn.Module]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"scale": _POSITIVE})


def _identity_options(kind: type[nn.Module]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"identity_gain": _POSITIVE | st.none()})


@st.composite
def _icnr_options(draw: st.DrawFn, kind: type[nn.Module]) -> dict[str, Any]:
    registered = initconv.schemes()
    bases = [n for n, c in registered.items() if not issubclass(c, initconv.ICNR)]
    name = draw(st.sampled_from(sorted(n for n in bases if kind in served_kinds(registered[n]))))
    base_cls = registered[name]
    base_options = draw(scheme_options(base_cls, kind))
    # The base takes the ICNR layer's gain; an identity_gain would be a second one (a ValueError).
    base_options.pop("identity_gain", None)
    # 2 first (Hypothesis starts from the first choice): 1 repeats nothing.
    factors = [*range(2, _MAX_UPSCALE[_DIMS.get(kind, 2)] + 1), 1]
    return {
        "upscale_factor": draw(st.sampled_from(factors)),
        "base": draw(st.sampled_from([name, base_cls])),
        "base_options": draw(st.sampled_from([base_options, None])),
    }


# The built-in schemes' options that are not a Literal, each drawn from values the scheme accepts.
# A subclass inherits its bases' entries.
_OPTION_STRATEGIES: dict[
    type[Scheme], Callable[[type[nn.Module]], st.SearchStrategy[dict[str, Any]]]
] = {
    initconv.VarianceScaling: _variance_scaling_options,
    initconv.Uniform: _uniform_options,
    initconv.Normal: _normal_options,
    initconv.Identity: _identity_options,
    initconv.ICNR: _icnr_options,
}


def _merge(parts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return {name: value for part in parts for name, value in part.items()}


def scheme_options(
    scheme: type[Scheme], kind: type[nn.Module] | str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """The scheme's own keyword options, each drawn from values it accepts for a layer of ``kind``.

    Options typed as a ``Literal`` are drawn from its values, read from the annotations of every
    ``configure`` (and ``__init__``) in the scheme's bases (``mode``, ``distribution``, ...), so a
    scheme added later is covered with no new test code. The built-in schemes' other options are
    drawn too: ``VarianceScaling``'s ``scale``, ``Uniform``'s ``low < high``, ``Normal``'s ``mean``
    and ``std``, ``Identity``'s ``identity_gain`` (or ``None``), and ``ICNR``'s ``upscale_factor``
    (with ``upscale_factor**d <= 16``), ``base`` (any registered scheme that serves ``kind``, by
    name or class) and ``base_options`` (the base's own, drawn alike, or ``None``). Any other
    option keeps its default. ``kind`` defaults to the first kind the scheme serves.
    """
    torch_kind = served_kinds(scheme)[0] if kind is None else resolve_kind(kind)
    own = scheme_of(scheme)
    parts: list[st.SearchStrategy[dict[str, Any]]] = [
        st.fixed_dictionaries(_literal_options(scheme))
    ]
    for klass in reversed(own.__mro__):
        strategy = _OPTION_STRATEGIES.get(klass)
        if strategy is not None:
            parts.append(strategy(torch_kind))
    return st.tuples(*parts).map(_merge)


def bias_options() -> st.SearchStrategy[dict[str, Any]]:
    """``bias_init`` as every layer takes it: ``"zeros"``, ``"torch"``, a constant in [-2, 2], and
    ``"normal"`` where the installed initconv accepts it (with ``bias_std``, where that is an
    option). Read from initconv's own list of accepted values, so nothing is drawn that it would
    refuse."""
    names = sorted(name for name in BIAS_INITS if name != "normal")
    choices: list[st.SearchStrategy[dict[str, Any]]] = [
        st.sampled_from(names).map(lambda name: {"bias_init": name}),
        st.floats(-2.0, 2.0).map(lambda value: {"bias_init": value}),
    ]
    if "normal" in BIAS_INITS:
        normal: dict[str, st.SearchStrategy[Any]] = {"bias_init": st.just("normal")}
        if "bias_std" in BASE_OPTIONS:
            normal["bias_std"] = _POSITIVE
        choices.append(st.fixed_dictionaries(normal))
    return st.one_of(choices)


@st.composite
def layer_options(
    draw: st.DrawFn, /, scheme: type[Scheme], kind: type[nn.Module] | str | None = None
) -> dict[str, Any]:
    """Every option a layer of ``scheme`` takes, valid together: :func:`scheme_options`, then the
    activation (:func:`activations`), a gain in [0.1, 4] or neither, then :func:`bias_options`.

    Two built-in rules keep the draw valid: ``identity_gain`` and ``gain`` are one setting, so a
    drawn ``identity_gain`` leaves out ``gain``; and :class:`~initconv.Zero` takes a zero bias only
    (``"zeros"`` or ``0.0``).
    """
    options = draw(scheme_options(scheme, kind))
    gains: list[st.SearchStrategy[dict[str, Any]]] = [
        st.just({}),
        activations().map(lambda spec: {"activation": spec}),
    ]
    if options.get("identity_gain") is None:
        gains.append(_POSITIVE.map(lambda g: {"gain": g}))
    options.update(draw(st.one_of(gains)))
    if issubclass(scheme_of(scheme), initconv.Zero):
        bias = st.sampled_from(["zeros", 0.0]).map(lambda value: {"bias_init": value})
    else:
        bias = bias_options()
    options.update(draw(bias))
    return options


class _Scaled:
    """``fn(a x)``: a plain callable with a drawn parameter, not a module and not a known function."""

    def __init__(self, fn: Callable[[Tensor], Tensor], a: float) -> None:
        self.fn, self.a = fn, a

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(self.a * x)

    def __repr__(self) -> str:
        return f"_Scaled({getattr(self.fn, '__name__', self.fn)}, {self.a!r})"


def _modules() -> st.SearchStrategy[nn.Module]:
    slope = st.floats(0.0, 1.0)
    positive = st.floats(0.1, 3.0)
    plain = [
        nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.Mish, nn.SELU, nn.Hardswish, nn.Hardsigmoid,
        nn.ReLU6, nn.Softsign, nn.LogSigmoid, nn.Identity,
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(plain).map(lambda cls: cls()),
        slope.map(nn.LeakyReLU),
        slope.map(lambda a: nn.PReLU(init=a)),
        positive.map(lambda a: nn.ELU(alpha=a)),
        positive.map(lambda a: nn.CELU(alpha=a)),
        positive.map(lambda b: nn.Softplus(beta=b)),
        st.sampled_from(["none", "tanh"]).map(lambda m: nn.GELU(approximate=m)),
        st.tuples(st.floats(-3.0, -0.1), st.floats(0.1, 3.0)).map(lambda b: nn.Hardtanh(*b)),
    )


def _callables() -> st.SearchStrategy[Callable[[Tensor], Tensor]]:
    # Elementwise, finite on the quadrature's float64 grid, and unknown to initconv's tables, so
    # their gains are derived.
    bases: list[Callable[[Tensor], Tensor]] = [torch.erf, torch.sin, torch.atan, F.softsign]
    return st.one_of(
        st.sampled_from(bases),
        st.floats(0.0, 1.0).map(lambda a: functools.partial(F.leaky_relu, negative_slope=a)),
        st.tuples(st.sampled_from(bases), st.floats(0.25, 4.0)).map(lambda t: _Scaled(*t)),
    )


def activations() -> st.SearchStrategy[Any]:
    """Activation specs ``activation=`` accepts: built-in names, ``nn.Module`` instances with drawn
    parameters, and plain elementwise callables whose gains initconv derives by quadrature."""
    return st.one_of(st.sampled_from(initconv.activations()), _modules(), _callables())
