"""Hypothesis strategies for initialisation schemes: layer configurations, activations, options.

Every strategy draws only valid inputs, by construction: no ``filter`` or ``assume`` that could
starve a run, and no early return in a test. Each configuration carries a ``seed`` for the layer, so
every random draw replays from the Hypothesis example.

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
from initconv._pairing import layer_class, resolve_kind
from initconv._scheme import Scheme

__all__ = [
    "FLOAT_DTYPES",
    "activations",
    "bias_options",
    "conv2d_configs",
    "layer_configs",
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
# and "out divisible by groups * r^2" (ICNR, r <= 4), and needs no list of schemes.
_OUT_MULTIPLIERS = tuple(range(1, 17))


def _convolution_config(
    draw: st.DrawFn, d: int, transposed: bool, max_groups: int, max_per_group: int, max_kernel: int
) -> dict[str, Any]:
    groups = draw(st.integers(1, max_groups))
    # 3-d kernels stay small: their size is the product of three sides.
    side = st.integers(1, max_kernel if d < 3 else min(max_kernel, 3))
    config: dict[str, Any] = {
        "in_channels": groups * draw(st.integers(1, max_per_group)),
        "out_channels": groups * draw(st.integers(1, max_per_group)),
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


def bias_options() -> st.SearchStrategy[dict[str, Any]]:
    """``bias_init`` (and ``bias_std`` with ``"normal"``) as a layer takes them: the scheme's default
    (no key), ``"zeros"``, ``"torch"``, a constant, or ``"normal"`` with a standard deviation of 0
    or in [0.1, 2] (float16 stays out of its subnormal range there)."""
    return st.one_of(
        st.just({}),
        st.sampled_from(["zeros", "torch"]).map(lambda name: {"bias_init": name}),
        st.floats(-2.0, 2.0).map(lambda value: {"bias_init": value}),
        st.one_of(st.just(0.0), st.floats(0.1, 2.0)).map(
            lambda std: {"bias_init": "normal", "bias_std": std}
        ),
    )


_DIMS: dict[type[nn.Module], int] = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
_TRANSPOSED_DIMS: dict[type[nn.Module], int] = {
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
    **options: Any,
) -> dict[str, Any]:
    """Constructor keywords of a valid layer of ``kind``: its shape, bias, dtype and seed, and
    drawn :func:`bias_options` where the scheme serves them.

    Convolutions draw groups first and both channel counts as multiples of them; kernels are 1 to
    ``max_kernel`` per side (3 in 3-d), even and rectangular ones included, and strides 1 to 3.
    Linear layers draw 1 to ``max_groups * max_per_group * 4`` features each way. With ``scheme``
    (a :class:`~initconv.Scheme`, or a layer class), the configuration is one its layer of that
    kind serves together with ``options`` (:meth:`~initconv.InitLayer.serves`): a drawn one it
    refuses has its outputs multiplied by the least of 2..16 that it accepts, and failing that
    its stride set to 1 as well. A scheme that serves none of those raises its own error, so
    nothing is skipped silently.
    """
    torch_kind = resolve_kind(kind)
    if torch_kind is nn.Linear:
        config = _linear_config(draw, max_groups * max_per_group * 4)
    else:
        d = _DIMS.get(torch_kind) or _TRANSPOSED_DIMS[torch_kind]
        config = _convolution_config(
            draw, d, torch_kind in _TRANSPOSED_DIMS, max_groups, max_per_group, max_kernel
        )
    config["bias"] = draw(st.booleans())
    config["dtype"] = draw(st.sampled_from(dtypes))
    config["seed"] = draw(st.integers(0, 2**32 - 1))
    biases = draw(bias_options())
    if scheme is None:
        return {**config, **biases}
    cls = layer_class(scheme, torch_kind)
    # A scheme that refuses the drawn bias (a zero layer wants a zero bias) keeps its default.
    for extra in (biases, {}) if biases else ({},):
        served = _served(cls, {**config, **extra}, options)
        if served is not None:
            return served
    cls(**config, **options)
    raise ValueError(
        f"{cls.__name__} serves none of the outputs x 1..16, at the drawn stride or 1, for "
        f"{config!r}, {options!r}; override {cls.__name__}.serves or pass a narrower strategy"
    )


def _served(
    cls: type[Any], config: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any] | None:
    """``config`` repaired into one ``cls`` serves, or ``None``."""
    torch_kind = cls.torch_kind
    outputs = "out_features" if torch_kind is nn.Linear else "out_channels"
    out = config[outputs]
    # A scheme that refuses every stride but 1 (the identity of a transposed convolution) gets it.
    strides = [config["stride"], 1] if "stride" in config else [None]
    for stride in strides:
        if "stride" in config:
            config["stride"] = stride
        for multiplier in _OUT_MULTIPLIERS:
            config[outputs] = out * multiplier
            if cls.serves(**config, **options):
                return config
    return None


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
    return layer_configs(
        scheme,
        nn.Conv2d,
        dtypes=dtypes,
        max_groups=max_groups,
        max_per_group=max_per_group,
        max_kernel=max_kernel,
        **options,
    )


def scheme_options(scheme: type[Scheme]) -> st.SearchStrategy[dict[str, Any]]:
    """The scheme's keyword-only options whose type is a ``Literal``, each drawn from its values.

    Read from the annotations of every ``configure`` (and ``__init__``) in the scheme's bases
    (``mode``, ``distribution``, ...); other options keep their defaults. A scheme added later is
    covered with no new test code.
    """
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
                    choices[name] = st.sampled_from(typing.get_args(hint))
    return st.fixed_dictionaries(choices)


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
