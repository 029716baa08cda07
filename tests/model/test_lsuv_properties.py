"""LSUV replay under Hypothesis: a calibrated checkpoint loaded into a model that declares other
activations, biases and seeds replays the calibrated weights, or refuses to load, by name.

Properties, not examples: the calibrated model and the model that loads its state dict each draw
their declared activation (built-in names, parametrised modules, plain callables) and bias init;
the base scheme, the seed and the calibration batch are drawn too. Every assertion is exact (no
statistical check, so nothing to add to the suite's false-alarm budget in tests/conftest.py).
The default run is cheap (a tenth of the profile's examples, two small layers, one thread); the
slow variant draws ten times as many, on wider layers and a deeper model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from _support import saved_state
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv
from initconv._layers.calibration import METADATA_KEY
from initconv._model.lsuv import lsuv_

EXAMPLES = max(10, settings.default.max_examples // 10)
SLOW_EXAMPLES = 10 * EXAMPLES

_NAMES = ("linear", "relu", "tanh", "gelu", "silu", "selu", "sigmoid", "elu", "softplus", "mish")


def _activations() -> st.SearchStrategy[Any]:
    """What a layer may declare: a name, a parametrised module, or a callable of its own."""
    slopes = st.floats(0.0, 0.9, allow_nan=False, allow_subnormal=False)
    return st.one_of(
        st.sampled_from(_NAMES),
        slopes.map(lambda a: nn.LeakyReLU(a)),
        st.floats(0.2, 3.0).map(lambda s: lambda x: torch.tanh(s * x)),
    )


def _bias_inits() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"bias_init": "zeros"}),
        st.just({"bias_init": "torch"}),
        st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False).map(
            lambda c: {"bias_init": c}
        ),
        st.floats(0.01, 0.5).map(lambda s: {"bias_init": "normal", "bias_std": s}),
    )


Build = Callable[[list[Any], list[dict[str, Any]]], nn.Sequential]


def _model(widths: tuple[int, ...]) -> Build:
    """A conv-ReLU stack of the given widths; each conv declares what it is given."""

    def build(activations: list[Any], biases: list[dict[str, Any]]) -> nn.Sequential:
        layers: list[nn.Module] = []
        for index, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            layers.append(
                initconv.KaimingNormalConv2d(
                    c_in, c_out, 3, padding=1, activation=activations[index], **biases[index]
                )
            )
            layers.append(nn.ReLU())
        return nn.Sequential(*layers[:-1])

    return build


def _convs(model: nn.Module) -> list[initconv.InitConv2d]:
    return [m for m in model.modules() if isinstance(m, initconv.InitConv2d)]


def _weights(model: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _reset(model: nn.Module) -> None:
    for conv in _convs(model):
        conv.reset_parameters()


@st.composite
def _scenarios(draw: st.DrawFn, widths: tuple[int, ...]) -> dict[str, Any]:
    layers = len(widths) - 1
    return {
        "calibrated": [draw(_activations()) for _ in range(layers)],
        "calibrated_bias": [draw(_bias_inits()) for _ in range(layers)],
        "declared": [draw(_activations()) for _ in range(layers)],
        "declared_bias": [draw(_bias_inits()) for _ in range(layers)],
        "base": draw(st.sampled_from(("orthogonal", "kaiming_normal", "xavier_uniform"))),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "batch": draw(st.integers(2, 6)),
    }


def _calibrated(scenario: dict[str, Any], build: Build, channels: int) -> tuple[nn.Module, Tensor]:
    with torch.random.fork_rng():
        torch.manual_seed(scenario["seed"])
        model = build(scenario["calibrated"], scenario["calibrated_bias"])
        batch = torch.randn(scenario["batch"], channels, 6, 6)
        lsuv_(model, batch, base=scenario["base"])
    return model, batch


def _check_replay_follows_the_calibrated_law(
    scenario: dict[str, Any], build: Build, channels: int
) -> None:
    model, _ = _calibrated(scenario, build, channels)
    calibrated = _weights(model)
    fresh = build(scenario["declared"], scenario["declared_bias"])
    fresh.load_state_dict(saved_state(model))
    # The state dict's own weights load first; a reset must draw the same ones again.
    with torch.random.fork_rng():
        torch.manual_seed(scenario["seed"] + 1)
        _reset(fresh)
    assert all(torch.equal(a, b) for a, b in zip(_weights(fresh), calibrated, strict=True))
    for old, new in zip(_convs(model), _convs(fresh), strict=True):
        assert new.calibration == old.calibration
        assert new.calibration is not None
        assert new.calibration.gain == old.gain
        if scenario["base"] == "orthogonal":
            # The calibrated law itself: an orthogonal draw at the calibrated gain, rescaled.
            scale = new.calibration.gain * new.calibration.scale
            flat = new.weight.detach().double().reshape(new.weight.shape[0], -1)
            gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
            eye = torch.eye(gram.shape[0], dtype=torch.float64)
            # float32 rounding of entries of size g s / sqrt(c): 1e-5 (g s)^2, as check_invariants.
            assert torch.allclose(gram, scale**2 * eye, atol=1e-5 * scale**2, rtol=0)


def _check_a_legacy_calibration_replays_at_the_declared_gain_and_says_so(
    scenario: dict[str, Any], build: Build, channels: int
) -> None:
    model, _ = _calibrated(scenario, build, channels)
    state = saved_state(model)
    metadata = state._metadata  # type: ignore[attr-defined]
    for key in metadata:
        recorded = metadata[key].get(METADATA_KEY)
        if recorded is not None:
            metadata[key][METADATA_KEY] = {k: recorded[k] for k in ("base", "scale", "seed")}
    fresh = build(scenario["declared"], scenario["declared_bias"])
    with pytest.warns(UserWarning, match=r"was saved before calibrations recorded the law"):
        fresh.load_state_dict(state)
    _reset(fresh)
    assert len(_convs(fresh)) == len(_convs(model))
    for new in _convs(fresh):
        assert new.calibration is not None
        assert not new.calibration.recorded
        # As before: the base drawn at the loading layer's own gain, times the scale.
        base = initconv.conv2d(
            scenario["base"],
            new.in_channels,
            new.out_channels,
            3,
            padding=1,
            gain=new.gain,
            bias=False,
            seed=new.calibration.seed,
        )
        assert torch.equal(new.weight.detach(), base.weight.detach() * new.calibration.scale)


_SMALL = (3, 4, 4)


@settings(max_examples=EXAMPLES, deadline=None)
@given(scenario=_scenarios(_SMALL))
def test_a_reloaded_reset_model_replays_the_calibrated_law_whatever_it_declares(
    scenario: dict[str, Any],
) -> None:
    _check_replay_follows_the_calibrated_law(scenario, _model(_SMALL), _SMALL[0])


@settings(max_examples=EXAMPLES, deadline=None)
@given(scenario=_scenarios(_SMALL))
def test_a_legacy_calibration_replays_at_the_declared_gain_with_a_warning(
    scenario: dict[str, Any],
) -> None:
    _check_a_legacy_calibration_replays_at_the_declared_gain_and_says_so(
        scenario, _model(_SMALL), _SMALL[0]
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    scenario=_scenarios(_SMALL),
    corruption=st.sampled_from(
        [
            ("base", "orthogonl", r"calibrated_base must be one of"),
            ("gain", -1.0, r"calibrated gain must be finite and >= 0"),
            ("gain", math.inf, r"calibrated gain must be finite"),
            ("scale", 0.0, r"calibrated_scale must be finite and > 0"),
            ("bias_init", "uniform", r"bias_init must be one of"),
            ("seed", -3, r"calibration seed must be in \[0, 2\*\*64\)"),
            ("options", "fan_in", r"calibration options must be a mapping"),
        ]
    ),
)
def test_a_corrupt_calibration_refuses_to_load_by_name_and_leaves_the_model(
    scenario: dict[str, Any], corruption: tuple[str, object, str]
) -> None:
    model, _ = _calibrated(scenario, _model(_SMALL), _SMALL[0])
    state = saved_state(model)
    key, value, match = corruption
    state._metadata["2"][METADATA_KEY][key] = value  # type: ignore[attr-defined]
    fresh = _model(_SMALL)(scenario["declared"], scenario["declared_bias"])
    with pytest.raises(RuntimeError, match=rf"layer '2': .*{match}"):
        fresh.load_state_dict(state)
    assert _convs(fresh)[1].calibration is None


_WIDE = (5, 12, 9, 16)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None)
@given(scenario=_scenarios(_WIDE))
def test_slow_a_deeper_reloaded_model_replays_the_calibrated_law(scenario: dict[str, Any]) -> None:
    _check_replay_follows_the_calibrated_law(scenario, _model(_WIDE), _WIDE[0])


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None)
@given(scenario=_scenarios(_WIDE))
def test_slow_a_deeper_legacy_calibration_replays_at_the_declared_gain(
    scenario: dict[str, Any],
) -> None:
    _check_a_legacy_calibration_replays_at_the_declared_gain_and_says_so(
        scenario, _model(_WIDE), _WIDE[0]
    )
