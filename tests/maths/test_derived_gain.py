"""The derived gain of a callable: only for elementwise, deterministic activations, and within a
bounded number of evaluations, whatever the activation's scale, dtype or roughness.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv._maths.derived_gain import probe_evaluations
from initconv._maths.quadrature import MAX_EVALUATIONS

Conv = initconv.KaimingNormalConv2d


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_is_refused_as_not_elementwise(dim: int) -> None:
    with pytest.raises(ValueError, match=rf"activation Softmax\(dim={dim}\) is not elementwise"):
        initconv.gain(nn.Softmax(dim=dim))
    with pytest.raises(ValueError, match="is not elementwise"):
        Conv(16, 16, 3, activation=nn.Softmax(dim=dim))


def test_a_normalisation_by_the_whole_tensor_is_refused_as_not_elementwise() -> None:
    def by_largest(x: Tensor) -> Tensor:
        return x / x.abs().max()

    with pytest.raises(ValueError, match="by_largest is not elementwise"):
        initconv.gain(by_largest)


class _Counted:
    """An activation that counts the points it is evaluated at."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn
        self.evaluations = 0

    def __call__(self, x: Tensor) -> Tensor:
        self.evaluations += x.numel()
        return self.fn(x)


BUDGET = probe_evaluations() + MAX_EVALUATIONS


def test_a_large_activation_gets_its_gain_like_a_small_one() -> None:
    large = _Counted(lambda x: 1000 * torch.tanh(x))
    derived_tanh = initconv.gain(lambda x: torch.tanh(x))
    assert initconv.gain(large) == pytest.approx(derived_tanh / 1000, rel=1e-12)
    assert large.evaluations <= BUDGET


@pytest.mark.parametrize("narrow", [torch.float32, torch.bfloat16, torch.float16])
def test_an_activation_computed_in_a_narrow_dtype_answers_to_that_dtypes_precision(
    narrow: torch.dtype,
) -> None:
    mixed = _Counted(lambda x: F.silu(x.to(narrow)).type_as(x))
    value = initconv.gain(mixed)
    assert value == pytest.approx(initconv.gain("silu"), rel=4 * torch.finfo(narrow).eps)
    assert mixed.evaluations <= BUDGET


def test_a_random_activation_is_refused_as_not_deterministic() -> None:
    dropout = nn.Dropout()
    with pytest.raises(ValueError, match=r"activation Dropout\(p=0.5.*is not deterministic"):
        initconv.gain(dropout)


def test_an_activation_whose_second_moment_diverges_is_refused_quickly() -> None:
    divergent = _Counted(lambda x: torch.exp(x * x))
    with pytest.raises(ValueError, match=r"has no gain.*does not decay by"):
        initconv.gain(divergent)
    assert divergent.evaluations <= BUDGET


def test_an_activation_too_rough_to_integrate_stops_at_the_evaluation_budget() -> None:
    rough = _Counted(lambda x: torch.sin(1e5 * x))
    with pytest.raises(ValueError, match=f"did not converge .* within {MAX_EVALUATIONS} eval"):
        initconv.gain(rough)
    assert rough.evaluations <= BUDGET


def test_a_leaky_relu_with_a_huge_slope_has_a_finite_gain() -> None:
    assert initconv.gain(nn.LeakyReLU(1e200)) == pytest.approx(
        math.sqrt(2) / 1e200, rel=1e-15, abs=0
    )


def test_a_prelu_on_the_meta_device_gives_the_gain_of_its_init_slope() -> None:
    expected = initconv.gain(nn.PReLU(init=0.25))
    assert initconv.gain(nn.PReLU(init=0.25, device="meta")) == expected
    with torch.device("meta"):
        model = nn.Sequential(Conv(4, 8, 3, activation=nn.PReLU()), nn.PReLU())
    assert model[0].gain == expected


def test_a_gain_that_cannot_be_derived_keeps_its_message_through_re_raises_and_pickling() -> None:
    # convert() re-raises a bad argument's error as type(error)(f"{parameter}: {error}"), and
    # exceptions cross processes pickled: both build the error from one message. The derivation's
    # error took three arguments, so convert(activation=exp(x^2)) raised a TypeError instead.
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"activation: activation .* has no gain"):
        initconv.convert(model, activation=lambda x: torch.exp(x * x))
    with pytest.raises(ValueError, match="has no gain") as caught:
        initconv.gain(lambda x: torch.exp(x * x))
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is type(caught.value)
    assert str(again) == str(caught.value)
