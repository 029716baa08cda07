"""Hostile inputs for every public constructor and function: the answer is a ValueError or TypeError
that names the parameter, with the user's model, tensor and registry exactly as they were, or a
result whose weights are finite and match the scheme's theory.

Hostile values: NaN, infinities, huge and tiny floats, negative and huge ints, numpy scalars of
every kind, 0-d tensors of every dtype, and values of the wrong type. One parameter at a time gets
one; every other argument is valid, so an error can only be about that parameter. Only the
parameters initconv adds are attacked: the torch layer's own (``in_channels``, ...) are torch's.

Statistical assertions (check_layer's four on an iid layer, the variance band of
variance_scaling_) run at ALPHA_CHECK and are counted in tests/conftest.py's budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv
from initconv import InitLayer, Scheme, diagnostics
from initconv._activations import _REGISTERED
from initconv._layers.pairing import served_kinds
from initconv.testing import ALPHA_CHECK, assert_orthogonal, assert_variance_matches, check_layer
from initconv.testing.strategies import FLOAT_DTYPES, layer_configs

# Built-in schemes only: test modules register schemes of their own.
SCHEMES: tuple[type[Scheme], ...] = tuple(
    cls for cls in initconv.schemes().values() if cls.__module__.startswith("initconv.")
)

# A quarter of the profile's examples per test keeps the whole file near 20 s on 2 cores; the dev
# profile's 1,000 give 250.
EXAMPLES = max(10, settings().max_examples // 4)
ROBUSTNESS = settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_FLOATS = (
    math.nan, math.inf, -math.inf, 1e308, -1e308, 1e300, 3.5e38, -3.5e38, 7e4, 1e6, 1e-300,
    5e-324, 1e-8, -1.0, -0.0, 0.0, 0.5, 2.0,
)  # fmt: skip
_INTS = (0, 1, -1, 2, 3, 2**31, 2**32 + 5, 2**63, 2**64 - 1, 2**64, -(2**63), 10**400)
_OTHERS = (
    None, True, False, "", "x", "nan", "relu", "fan_in", "zeros", "normal", "orthogonal", [],
    [1.0], (1,), {}, {"mode": "fan_out"}, 1 + 2j, object(), torch.float32, torch.int64, nn.ReLU,
    float, b"1", math.sqrt,
)  # fmt: skip


def _numpy_scalars() -> st.SearchStrategy[Any]:
    floats = st.tuples(
        st.sampled_from([np.float16, np.float32, np.float64]), st.sampled_from(_FLOATS)
    )
    ints = st.tuples(
        st.sampled_from([np.int8, np.int64, np.uint64]), st.sampled_from([0, 1, 2, 7, 100])
    )

    def make(pair: tuple[Any, Any]) -> Any:
        with np.errstate(all="ignore"):
            return pair[0](pair[1])

    return st.one_of(floats, ints, st.just((np.bool_, True))).map(make)


def _tensor_scalars() -> st.SearchStrategy[Tensor]:
    floats = st.tuples(st.sampled_from(FLOAT_DTYPES), st.sampled_from(_FLOATS)).map(
        lambda pair: torch.tensor(pair[1], dtype=pair[0])
    )
    others = st.sampled_from([0, 1, 3]).map(torch.tensor) | st.just(torch.tensor([0.5]))
    return floats | others


def hostile() -> st.SearchStrategy[Any]:
    """Values of every kind but the one a parameter wants, and its worst values."""
    return st.one_of(
        st.sampled_from(_FLOATS),
        st.floats(),
        st.sampled_from(_INTS),
        st.integers(),
        _numpy_scalars(),
        _tensor_scalars(),
        st.sampled_from(_OTHERS),
    )


def _hostile_activation() -> st.SearchStrategy[Any]:
    functions: list[Callable[[Tensor], Tensor]] = [
        lambda x: x.sum(dim=-1),
        lambda x: torch.exp(x * x),
        lambda x: 0 * x,
        lambda x: 1e-200 * x,
        lambda x: x / x.abs().max(),
        torch.log,
    ]
    modules = [nn.Softmax(dim=1), nn.Dropout(), nn.LayerNorm(21), nn.Module()]
    return st.one_of(hostile(), st.sampled_from(functions), st.sampled_from(modules))


def _value_for(parameter: str) -> st.SearchStrategy[Any]:
    return _hostile_activation() if "activation" in parameter else hostile()


def _names(error: BaseException, parameter: str) -> bool:
    return parameter in str(error)


def _attempt(
    function: Callable[..., Any],
    /,
    *,
    expected: tuple[type[Exception], ...] = (ValueError, TypeError),
    **kwargs: Any,
) -> tuple[Any, Exception | None]:
    """``function(**kwargs)`` and ``None``, or ``None`` and the ``expected`` error it raised (any
    other exception propagates and fails the test)."""
    try:
        return function(**kwargs), None
    except expected as error:
        return None, error


# --- What must hold after an error: the user's objects as they were ---------------------------


def _bits(tensor: Tensor) -> Tensor:
    """The tensor's bytes: NaN equals NaN, -0.0 differs from 0.0."""
    return tensor.detach().reshape(-1).clone().view(torch.uint8)


def _snapshot(value: object) -> object:
    if isinstance(value, Tensor):
        return (value.dtype, value.shape, _bits(value))
    if isinstance(value, nn.Module):
        classes = [(name, type(module)) for name, module in value.named_modules()]
        state = {key: tensor.detach().clone() for key, tensor in value.state_dict().items()}
        modes = [module.training for module in value.modules()]
        return classes, state, modes
    return None


def _unchanged(value: object, before: object) -> bool:
    now = _snapshot(value)
    if isinstance(value, Tensor):
        dtype, shape, data = before  # type: ignore[misc]
        return value.dtype == dtype and value.shape == shape and torch.equal(_bits(value), data)
    if isinstance(value, nn.Module):
        classes, state, modes = before  # type: ignore[misc]
        now_classes, now_state, now_modes = now  # type: ignore[misc]
        return (
            now_classes == classes
            and now_modes == modes
            and set(now_state) == set(state)
            and all(torch.equal(now_state[k], state[k]) for k in state)
        )
    return True


def _assert_finite(module: nn.Module) -> None:
    for name, tensor in module.named_parameters():
        assert bool(torch.isfinite(tensor).all()), name


def _assert_matches_theory(layer: InitLayer) -> None:
    _assert_finite(layer)
    check_layer(layer, alpha=ALPHA_CHECK)


@contextlib.contextmanager
def _replayable(seed: int) -> Iterator[None]:
    """Unseeded draws from the global generator replay from the example; warnings are expected."""
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        yield


# --- Layers: hostile options at construction, and hostile attributes at the next reset ---------


def _layer_options(scheme: type[Scheme]) -> tuple[str, ...]:
    return ("activation", "gain", "bias_init", "seed", "dtype", *scheme.options())


@st.composite
def _layer_class_and_config(
    draw: st.DrawFn,
) -> tuple[type[InitLayer], type[Scheme], dict[str, Any]]:
    scheme = draw(st.sampled_from(SCHEMES))
    kind = draw(st.sampled_from(served_kinds(scheme)))
    config = draw(layer_configs(scheme, kind, max_per_group=6, max_kernel=4))
    return initconv.layer_class(scheme, kind), scheme, config


@ROBUSTNESS
@given(drawn=_layer_class_and_config(), data=st.data())
def test_a_layer_given_a_hostile_option_refuses_it_by_name_or_matches_its_theory(
    drawn: tuple[type[InitLayer], type[Scheme], dict[str, Any]], data: st.DataObject
) -> None:
    cls, scheme, config = drawn
    option = data.draw(st.sampled_from(_layer_options(scheme)), label="option")
    value = data.draw(_value_for(option), label="value")
    with _replayable(config["seed"]):
        layer, error = _attempt(cls, **{**config, option: value})
        if error is not None:
            assert _names(error, option), (option, value, error)
        else:
            _assert_matches_theory(layer)


@ROBUSTNESS
@given(drawn=_layer_class_and_config(), data=st.data())
def test_a_layer_whose_attribute_turns_hostile_refuses_it_at_reset_or_matches_its_theory(
    drawn: tuple[type[InitLayer], type[Scheme], dict[str, Any]], data: st.DataObject
) -> None:
    cls, scheme, config = drawn
    attribute = data.draw(
        st.sampled_from(("gain", "bias_init", "seed", *scheme.options())), label="attribute"
    )
    value = data.draw(hostile(), label="value")
    with _replayable(config["seed"]):
        layer = cls(**config)
        before = _snapshot(layer)

        def assign() -> None:
            setattr(layer, attribute, value)

        # An option whose setter checks its value (Identity's identity_gain) refuses it there,
        # earlier than reset: as good, if it names the attribute and leaves the layer alone.
        _, error = _attempt(assign)
        if error is None:
            _, error = _attempt(layer.reset_parameters)
        if error is not None:
            assert _names(error, attribute), (attribute, value, error)
            assert _unchanged(layer, before)
        else:
            _assert_matches_theory(layer)


# --- Functions: one hostile argument, the others valid -------------------------------------------


@dataclasses.dataclass(frozen=True)
class Call:
    """A public function, valid arguments for it, and what its success must satisfy."""

    function: Callable[..., Any]
    arguments: Callable[[st.DataObject], dict[str, Any]]
    hostile: tuple[str, ...]
    check: Callable[[Any, dict[str, Any]], None] = lambda result, arguments: None
    # Parameters for which a RuntimeError is a documented answer: an input the user's own model
    # rejects (torch's error, with the model restored), or an LSUV tolerance it cannot reach.
    runtime: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return getattr(self.function, "__name__", repr(self.function))


def _weight(data: st.DataObject, dims: int = 4) -> Tensor:
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    shape = (8, 4, *([3] * (dims - 2)))
    return torch.empty(shape, dtype=dtype).uniform_(-1, 1)


def _model(_: st.DataObject | None = None) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))


def _wide_model(_: st.DataObject | None = None) -> nn.Module:
    """:func:`_model` at twice its hidden width, for mup_ against it."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 8, 3, padding=1))


def _initconv_model(_: st.DataObject | None = None) -> nn.Module:
    return nn.Sequential(
        initconv.KaimingNormalConv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        initconv.OrthogonalConv2d(8, 8, 3, padding=1),
    )


def _batch() -> Tensor:
    return torch.randn(4, 3, 8, 8)


class _Residual(nn.Module):
    """One residual block of initconv layers: x + conv(relu(conv(x)))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = initconv.KaimingNormalConv2d(3, 3, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = initconv.KaimingNormalConv2d(3, 3, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(x)))  # type: ignore[no-any-return]


def _check_critical(result: Any, arguments: dict[str, Any]) -> None:
    assert math.isfinite(result.weight_std)
    assert result.weight_std > 0


def _check_layers(result: object, arguments: dict[str, Any]) -> None:
    model = arguments["model"]
    _assert_finite(model)
    if arguments.get("reinit", True) is True:  # convert(reinit=False) keeps the weights it had
        for module in model.modules():
            if isinstance(module, InitLayer):
                check_layer(module, alpha=ALPHA_CHECK)


def _check_positive_gain(result: object, arguments: dict[str, Any]) -> None:
    assert isinstance(result, float)
    assert math.isfinite(result)
    assert result > 0


def _check_variance_scaling(result: object, arguments: dict[str, Any]) -> None:
    tensor = arguments["tensor"]
    assert bool(torch.isfinite(tensor).all())
    fan_in, fan_out = arguments.get("fans") or (36.0, 72.0)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    variance = float(arguments.get("gain", 1.0)) ** 2 / fan[arguments.get("mode", "fan_in")]
    assert_variance_matches(
        tensor, variance, arguments.get("distribution", "truncated_normal"), alpha=ALPHA_CHECK
    )


def _check_orthogonal(result: object, arguments: dict[str, Any]) -> None:
    tensor = arguments["tensor"]
    assert bool(torch.isfinite(tensor).all())
    assert_orthogonal(tensor, float(arguments.get("gain", 1.0)), groups=arguments.get("groups", 1))


def _check_finite_tensor(result: object, arguments: dict[str, Any]) -> None:
    assert isinstance(result, Tensor)
    assert bool(torch.isfinite(result).all())


def _check_seed(result: object, arguments: dict[str, Any]) -> None:
    assert isinstance(result, int)
    assert 0 <= result < 2**64


def _check_generator(result: object, arguments: dict[str, Any]) -> None:
    assert isinstance(result, torch.Generator)


def _check_lsuv(result: object, arguments: dict[str, Any]) -> None:
    _assert_finite(arguments["model"])
    for row in result:
        assert abs(row.variance - 1) <= float(arguments.get("tol", 0.02))


def _factory(function: Callable[..., Any], *shape: int) -> Call:
    return Call(
        lambda scheme, **kwargs: function(scheme, *shape, **kwargs),
        lambda data: {"scheme": "kaiming_normal"},
        ("scheme",),
    )


CALLS: tuple[Call, ...] = (
    Call(initconv.gain, lambda data: {"activation": "relu"}, ("activation",), _check_positive_gain),
    Call(initconv.fans, lambda data: {"layer": nn.Conv2d(2, 2, 3)}, ("layer",)),
    Call(
        initconv.variance_scaling_,
        lambda data: {"tensor": _weight(data)},
        ("tensor", "gain", "mode", "distribution", "fans", "generator"),
        _check_variance_scaling,
    ),
    Call(
        initconv.orthogonal_,
        lambda data: {"tensor": _weight(data)},
        ("tensor", "gain", "groups", "generator"),
        _check_orthogonal,
    ),
    Call(
        initconv.delta_orthogonal_,
        lambda data: {"tensor": _weight(data)},
        ("tensor", "gain", "groups", "transposed", "generator"),
        lambda result, arguments: _check_finite_tensor(arguments["tensor"], arguments),
    ),
    Call(
        initconv.identity_,
        lambda data: {"tensor": _weight(data)},
        ("tensor", "gain", "groups"),
        lambda result, arguments: _check_finite_tensor(arguments["tensor"], arguments),
    ),
    Call(
        initconv.icnr_,
        lambda data: {"tensor": _weight(data)},
        ("tensor", "upscale_factor", "init", "groups", "generator"),
        lambda result, arguments: _check_finite_tensor(arguments["tensor"], arguments),
    ),
    Call(
        initconv.convert,
        lambda data: {"model": _model()},
        ("model", "scheme", "activation", "reinit", "layers", "default_activation", "reconvert"),
        _check_layers,
    ),
    Call(initconv.to_torch, lambda data: {"model": _initconv_model()}, ("model",)),
    Call(
        initconv.residual_init_,
        lambda data: {"model": _Residual()},
        ("model", "method", "seed"),
        lambda result, arguments: _assert_finite(arguments["model"]),
    ),
    Call(
        initconv.critical,
        lambda data: {"activation": "tanh", "bias_std": 0.05},
        ("activation", "bias_std"),
        _check_critical,
    ),
    Call(
        initconv.seed_modules,
        lambda data: {"model": _initconv_model(), "seed": 0},
        ("model", "seed", "reset"),
        _check_layers,
    ),
    Call(
        initconv.module_seed, lambda data: {"seed": 0, "name": "x"}, ("seed", "name"), _check_seed
    ),
    Call(
        initconv.lsuv_,
        lambda data: {"model": _initconv_model(), "batch": _batch()},
        ("model", "batch", "tol", "max_iters", "base"),
        _check_lsuv,
        runtime=("batch", "tol", "max_iters"),
    ),
    Call(
        initconv.mup_,
        lambda data: {"model": _wide_model(), "base": _model()},
        ("model", "base", "scheme"),
        lambda result, arguments: _assert_finite(arguments["model"]),
    ),
    Call(
        initconv.param_groups,
        lambda data: {"model": _initconv_model(), "lr": 1e-3},
        ("model", "lr", "optimizer", "weight_decay"),
    ),
    Call(
        initconv.layer_class,
        lambda data: {"scheme": "kaiming_normal", "kind": "conv2d"},
        ("scheme", "kind"),
    ),
    _factory(initconv.conv1d, 2, 4, 3),
    _factory(initconv.conv2d, 2, 4, 3),
    _factory(initconv.conv3d, 2, 4, 3),
    _factory(initconv.conv_transpose1d, 2, 4, 3),
    _factory(initconv.conv_transpose2d, 2, 4, 3),
    _factory(initconv.conv_transpose3d, 2, 4, 3),
    _factory(initconv.linear, 2, 4),
    Call(
        initconv.seeded_generator,
        lambda data: {"seed": 0, "device": "cpu"},
        ("seed", "device"),
        _check_generator,
    ),
    Call(
        initconv.pixel_shuffle,
        lambda data: {"input": torch.randn(1, 8, 3, 3), "upscale_factor": 2},
        ("input", "upscale_factor"),
        _check_finite_tensor,
    ),
    Call(initconv.PixelShuffle, lambda data: {"upscale_factor": 2}, ("upscale_factor",)),
    Call(
        diagnostics.variance_map,
        lambda data: {"activation": "tanh"},
        ("activation", "gain"),
    ),
    Call(
        diagnostics.propagation,
        lambda data: {"model": _initconv_model(), "example_input": _batch()},
        ("model", "example_input", "label", "seed"),
        runtime=("example_input",),
    ),
    Call(
        diagnostics.jacobian_spectrum,
        lambda data: {
            "model": nn.Sequential(initconv.KaimingNormalConv2d(2, 2, 1)),
            "example_input": torch.randn(1, 2, 2, 2),
        },
        # Not iterations: every positive int is valid there, and a huge one is a long run asked for.
        ("model", "example_input", "k", "seed"),
        runtime=("example_input",),
    ),
)


def _expecting(expected: tuple[type[Exception], ...] | None) -> dict[str, Any]:
    return {} if expected is None else {"expected": expected}


@pytest.mark.parametrize("call", CALLS, ids=repr)
@ROBUSTNESS
@given(data=st.data())
def test_a_function_given_a_hostile_argument_refuses_it_by_name_or_returns_a_sound_result(
    call: Call, data: st.DataObject
) -> None:
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    with _replayable(seed):
        arguments = call.arguments(data)
        parameter = data.draw(st.sampled_from(call.hostile), label="parameter")
        arguments[parameter] = data.draw(_value_for(parameter), label="value")
        before = {name: _snapshot(value) for name, value in arguments.items()}
        registered = dict(_REGISTERED)
        expected = (ValueError, TypeError, RuntimeError) if parameter in call.runtime else None
        result, error = _attempt(call.function, **arguments, **_expecting(expected))
        if error is not None:
            named = isinstance(error, RuntimeError) or _names(error, parameter)
            assert named, (parameter, arguments[parameter], error)
            assert all(_unchanged(arguments[name], before[name]) for name in arguments)
            assert registered == _REGISTERED
        else:
            call.check(result, arguments)


@ROBUSTNESS
@given(data=st.data())
def test_registering_a_hostile_activation_refuses_it_by_name_and_keeps_the_registry(
    data: st.DataObject,
) -> None:
    arguments: dict[str, Any] = {"name": "robustness_probe", "fn": torch.tanh}
    parameter = data.draw(st.sampled_from(("name", "fn", "gain", "overwrite")), label="parameter")
    arguments[parameter] = data.draw(_value_for(parameter), label="value")
    registered = dict(_REGISTERED)
    try:
        _, error = _attempt(initconv.register_activation, **arguments)
        if error is not None:
            assert _names(error, parameter), (parameter, arguments[parameter], error)
            assert registered == _REGISTERED
        else:
            value = initconv.gain(arguments["name"])
            assert math.isfinite(value)
            assert value >= 0
    finally:
        _REGISTERED.clear()
        _REGISTERED.update(registered)


def test_every_public_function_is_attacked() -> None:
    attacked = {getattr(call.function, "__name__", "") for call in CALLS}
    public = {name for name in initconv.__all__ if inspect.isfunction(getattr(initconv, name))}
    # The factories are attacked through a lambda each; activations() and schemes() take nothing.
    factories = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "linear"}  # fmt: skip
    others = {"activations", "schemes", "register_activation"}
    assert public - attacked == factories | others - {"register_activation"} | {
        "register_activation"
    }


def test_convert_names_layers_in_its_errors() -> None:
    model = _model()
    with pytest.raises(ValueError, match=r"layers: kind must be one of .*got 'x'"):
        initconv.convert(model, "kaiming_normal", layers="x")
    with pytest.raises(TypeError, match=r"layers must be a layer class, a name or a list"):
        initconv.convert(model, "kaiming_normal", layers=torch.tensor(0))
    assert type(model[0]) is nn.Conv2d
