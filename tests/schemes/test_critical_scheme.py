"""The critical scheme checks its options at every reset, naming what is wrong."""

from __future__ import annotations

import copy
import math
import pickle
import threading

import pytest
import torch
from _support import snapshot, unchanged
from torch import nn

import initconv
from initconv.testing import check_layer


def test_critical_refuses_a_bias_std_beyond_its_search_with_the_reason() -> None:
    # sigma_b^2 <= q*, and q* is sought up to 2^12: a bias std of 64 or more has no point.
    with pytest.raises(ValueError, match=r"bias_std=1e\+308.*must be below 64"):
        initconv.critical("tanh", bias_std=1e308)


@pytest.mark.parametrize("layer", [initconv.CriticalLinear(4, 4), initconv.CriticalConv2d(4, 4, 3)])
def test_a_critical_layer_whose_base_turns_bad_refuses_it_by_name_at_reset(
    layer: nn.Module,
) -> None:
    before = snapshot(layer)
    layer.base = float("nan")
    with pytest.raises(ValueError, match=r"base must be one of \('delta_orthogonal'"):
        layer.reset_parameters()
    assert unchanged(layer, before)


def test_a_critical_layers_gain_follows_a_bias_std_set_on_the_built_layer() -> None:
    layer = initconv.CriticalConv2d(8, 8, 3, padding=1, activation="tanh", seed=0)
    assert layer.gain == initconv.critical("tanh", 0.05).weight_std
    layer.bias_std = 0.2
    layer.reset_parameters()
    assert layer.gain == initconv.critical("tanh", 0.2).weight_std
    assert layer.critical_point == initconv.critical("tanh", 0.2)
    check_layer(layer)


def test_a_critical_layers_gain_given_or_set_since_ignores_the_bias_std() -> None:
    given = initconv.CriticalConv2d(8, 8, 3, activation="tanh", gain=1.3)
    given.bias_std = 0.2
    given.reset_parameters()
    assert given.gain == 1.3
    derived = initconv.CriticalConv2d(8, 8, 3, activation="tanh")
    derived.gain = 1.1
    derived.bias_std = 0.2
    derived.reset_parameters()
    assert derived.gain == 1.1


def test_a_copied_critical_layer_of_a_function_follows_its_bias_std_or_says_it_cannot() -> None:
    def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.tanh(x)

    layer = initconv.CriticalLinear(8, 8, activation=scaled_tanh)
    clone = copy.deepcopy(layer)
    assert layer.critical_point == initconv.critical(scaled_tanh, 0.05)
    with pytest.raises(ValueError, match=r"'.*scaled_tanh' of this layer cannot be resolved"):
        clone.critical_point  # noqa: B018
    layer.bias_std = 0.2
    layer.reset_parameters()
    assert layer.gain == initconv.critical(scaled_tanh, 0.2).weight_std
    # A copy keeps only the function's name, which names no activation.
    clone.bias_std = 0.2
    before = snapshot(clone)
    with pytest.raises(ValueError, match=r"cannot be resolved by name to derive it again"):
        clone.reset_parameters()
    assert unchanged(clone, before)
    assert clone.bias_std == 0.2
    pickle.dumps(layer)


def test_a_critical_layer_builds_under_the_meta_device_and_materialises_with_its_gain() -> None:
    def softsign(x: torch.Tensor) -> torch.Tensor:  # fresh: nothing is served from a cache
        return x / (1 + x.abs())

    with torch.device("meta"):
        layer = initconv.CriticalConv2d(8, 8, 3, padding=1, activation=softsign, seed=0)
    assert layer.weight.is_meta
    assert layer.gain == initconv.critical("softsign", 0.05).weight_std
    layer.to_empty(device="cpu")
    layer.reset_parameters()
    reference = initconv.CriticalConv2d(8, 8, 3, padding=1, activation="softsign", seed=0)
    assert torch.equal(layer.weight, reference.weight)


def test_a_critical_layer_of_a_step_activation_is_refused_naming_it() -> None:
    # Not the fallback gain 1 / sqrt(E[phi'(z)^2]) with a warning: there is no slope at all.
    def step(x: torch.Tensor) -> torch.Tensor:
        return (x > 0).double()

    with pytest.raises(ValueError, match=r"activation '.*step' has no slope"):
        initconv.CriticalConv2d(4, 4, 3, activation=step)


def test_critical_layers_built_in_threads_get_one_gain() -> None:
    gains: list[float] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            gains.append(initconv.CriticalLinear(4, 4, activation="elu", bias_std=0.3).gain)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert gains == [initconv.critical("elu", 0.3).weight_std] * 4
    assert math.isfinite(gains[0])
