"""Hypothesis strategies for initialisation schemes: layer configurations, activations, options.

Every strategy draws only valid inputs, by construction: no ``filter`` or ``assume`` that could
starve a run, and no early return in a test. Each configuration carries a ``seed`` for the layer, so
every random draw replays from the Hypothesis example.

Examples:
    >>> from hypothesis import given
    >>> import initconv
    >>> from initconv.testing.strategies import conv2d_configs
    >>> @given(conv2d_configs(initconv.DeltaOrthogonalConv2d))
    ... def test_builds(config):
    ...     initconv.DeltaOrthogonalConv2d(**config).check_invariants()
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
from initconv._base import InitConv2d

__all__ = ["FLOAT_DTYPES", "activations", "conv2d_configs", "scheme_options"]

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


@st.composite
def conv2d_configs(
    draw: st.DrawFn,
    /,
    scheme: type[InitConv2d] | None = None,
    *,
    dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES,
    max_groups: int = 4,
    max_per_group: int = 8,
    max_kernel: int = 5,
    **options: Any,
) -> dict[str, Any]:
    """Constructor keywords of a valid ``Conv2d``: channels, kernel, stride, groups, bias, dtype, seed.

    Groups are drawn first and both channel counts as multiples of them; kernels are 1 to
    ``max_kernel`` per side, even and rectangular ones included. With ``scheme``, the configuration
    is one it serves together with ``options`` (:meth:`~initconv.InitConv2d.serves`): a drawn one it
    refuses has its ``out_channels`` multiplied by the least of 2..16 that it accepts. A scheme
    that serves none of those raises its own error, so nothing is skipped silently.
    """
    groups = draw(st.integers(1, max_groups))
    side = st.integers(1, max_kernel)
    config: dict[str, Any] = {
        "in_channels": groups * draw(st.integers(1, max_per_group)),
        "out_channels": groups * draw(st.integers(1, max_per_group)),
        "kernel_size": (draw(side), draw(side)),
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "groups": groups,
        "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from(dtypes)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    if scheme is None:
        return config
    out = config["out_channels"]
    for multiplier in _OUT_MULTIPLIERS:
        config["out_channels"] = out * multiplier
        if scheme.serves(**config, **options):
            return config
    config["out_channels"] = out
    scheme(**config, **options)
    raise ValueError(
        f"{scheme.__name__} serves none of out_channels = {out} x 1..16 for {config!r}, "
        f"{options!r}; override {scheme.__name__}.serves or pass a narrower strategy"
    )


def scheme_options(scheme: type[InitConv2d]) -> st.SearchStrategy[dict[str, Any]]:
    """The scheme's keyword-only options whose type is a ``Literal``, each drawn from its values.

    Read from the annotations of every ``__init__`` from ``scheme`` up to ``InitConv2d``
    (``mode``, ``distribution``, ...); other options keep their defaults. A scheme added later is
    covered with no new test code.
    """
    choices: dict[str, st.SearchStrategy[Any]] = {}
    for klass in scheme.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or not issubclass(klass, InitConv2d) or klass is InitConv2d:
            continue
        try:
            hints = typing.get_type_hints(init)
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
