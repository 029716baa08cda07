"""Every registered scheme, on every layer kind it serves, held to its own theory: discovered from
initconv.schemes(), so a scheme added later (in the package or in a test) is covered with no new
test code.

iid schemes (expected_distribution() is a family): on every drawn layer, the variance band, the
zero mean, the KS shape and uncorrelated output channels, at ALPHA_CHECK each. Structured schemes
(None): the exact invariants and the exact second moment. All schemes: the seed and reset contract.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from conftest import DEV_EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import initconv
from initconv import InitConv2d, InitLayer, Scheme
from initconv._pairing import served_kinds
from initconv.testing import ALPHA_CHECK, check_layer, check_scheme, min_sample_size
from initconv.testing.strategies import activations, layer_configs, scheme_options

SCHEMES = tuple(initconv.schemes())


def _gain_or_activation() -> st.SearchStrategy[dict[str, Any]]:
    # Gains from 0.1 keep float16 weights out of the subnormal range, where a variance is no longer
    # the drawn one; gain 0 (all weights 0) is the zero-variance branch of every assertion.
    return st.one_of(
        st.just({}),
        activations().map(lambda spec: {"activation": spec}),
        st.floats(0.1, 4.0).map(lambda g: {"gain": g}),
    )


@st.composite
def layers(draw: st.DrawFn, scheme: type[Scheme]) -> InitLayer:
    """A layer of ``scheme``, of a drawn kind it serves, with drawn options, activation or gain, and
    a configuration it serves."""
    kind = draw(st.sampled_from(served_kinds(scheme)))
    options = {**draw(scheme_options(scheme)), **draw(_gain_or_activation())}
    config = draw(layer_configs(scheme, kind, **options))
    layer: InitLayer = initconv.layer_class(scheme, kind)(**config, **options)
    return layer


def _same_config(layer: InitLayer, seed: int) -> InitLayer:
    """A fresh copy of ``layer`` (its configuration and options) drawn with ``seed``."""
    other = copy.deepcopy(layer)
    other.seed = seed
    other.reset_parameters()
    return other


def assert_matches_theory(layer: InitLayer) -> None:
    """The drawn layer's weights agree with its scheme's theory (initconv.testing.check_layer)."""
    ran = check_layer(layer, alpha=ALPHA_CHECK)
    assert "invariants" in ran


def assert_keeps_the_contract(layer: InitLayer) -> None:
    """Same seed, same weights; different seeds, different weights (iid); reset keeps the tensor."""
    weight: Tensor = layer.weight
    before = weight.detach().clone()
    state = (weight.dtype, weight.device, weight.shape, weight.requires_grad)
    layer.reset_parameters()
    assert layer.weight is weight
    assert (weight.dtype, weight.device, weight.shape, weight.requires_grad) == state
    assert torch.equal(weight.detach(), before)
    bias = layer.bias
    if isinstance(bias, Tensor):
        outputs = getattr(layer, "out_channels", None) or layer.out_features
        assert (bias.dtype, bias.shape, bias.requires_grad) == (weight.dtype, (outputs,), True)
    # No weight value of any float dtype has probability above 2^-8 (bfloat16's spacing is 2^-7 of
    # the value at most), so 4 weights repeat under a new seed with probability <= 2^-32 < ALPHA_CHECK.
    random = layer.expected_distribution() is not None and layer.expected_variance() > 0
    if random and weight.numel() >= 4:
        other = _same_config(layer, layer.seed + 1)
        assert not torch.equal(other.weight, weight), "a different seed gave the same weights"


@pytest.mark.parametrize("name", SCHEMES)
@given(data=st.data())
def test_every_drawn_layer_matches_its_schemes_theory(name: str, data: st.DataObject) -> None:
    assert_matches_theory(data.draw(layers(initconv.schemes()[name])))


@pytest.mark.parametrize("name", SCHEMES)
@given(data=st.data())
def test_seeds_reproduce_and_resets_keep_dtype_device_shape_and_grad(
    name: str, data: st.DataObject
) -> None:
    assert_keeps_the_contract(data.draw(layers(initconv.schemes()[name])))


@pytest.mark.parametrize("name", SCHEMES)
def test_check_scheme_passes_every_registered_scheme(name: str) -> None:
    report = check_scheme(initconv.schemes()[name], seed=1)
    assert "invariants" in report.checks
    if report.n:
        assert report.n >= min_sample_size("uniform")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCHEMES)
def test_a_pooled_million_weights_resolve_a_one_percent_variance_error(name: str) -> None:
    # STATS.md's layer 2: pool fresh seeds until the band resolves ~1% (n >= 1e6 for normal).
    report = check_scheme(initconv.schemes()[name], seed=2, detectable=0.01)
    assert report.n == 0 or report.n >= min_sample_size("uniform", 0.01)


@pytest.mark.slow
@settings(max_examples=DEV_EXAMPLES)
@given(data=st.data())
def test_a_dev_sized_sweep_over_every_scheme_matches_their_theory(data: st.DataObject) -> None:
    layer = data.draw(layers(initconv.schemes()[data.draw(st.sampled_from(SCHEMES))]))
    assert_matches_theory(layer)
    assert_keeps_the_contract(layer)


# --- A scheme the suite never names ----------------------------------------------------------------


def test_a_scheme_subclassed_in_a_test_file_is_picked_up_and_checked(clean_schemes: None) -> None:
    class HalfHeConv2d(InitConv2d, scheme="half_he_in_a_test"):
        """Var(W) = g^2 / (2 fan_in), normal."""

        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            weight.normal_(0.0, self.gain / (2 * self.fan_in) ** 0.5, generator=generator)

        def expected_variance(self) -> float:
            return self.gain**2 / (2 * self.fan_in)

        def expected_distribution(self) -> str:
            return "normal"

    added = set(initconv.schemes()) - set(SCHEMES)
    assert added == {"half_he_in_a_test"}

    @given(data=st.data())
    def every_new_scheme(data: st.DataObject) -> None:
        for new in sorted(added):
            layer = data.draw(layers(initconv.schemes()[new]))
            assert_matches_theory(layer)
            assert_keeps_the_contract(layer)

    every_new_scheme()
    assert "variance" in check_scheme(HalfHeConv2d).checks


def test_the_property_suite_fails_a_new_scheme_that_misstates_its_variance(
    clean_schemes: None,
) -> None:
    class WrongConv2d(InitConv2d, scheme="wrong_in_a_test"):
        """Draws Var(W) = 2 / fan_in but claims 1 / fan_in."""

        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            weight.normal_(0.0, (2 / self.fan_in) ** 0.5, generator=generator)

        def expected_variance(self) -> float:
            return 1 / self.fan_in

        def expected_distribution(self) -> str:
            return "normal"

    # 64 x 64 x 3 x 3 weights: the band at ALPHA_CHECK rejects r = 2 with power ~1 (STATS.md).
    layer = WrongConv2d(64, 64, 3, seed=0)
    with pytest.raises(AssertionError, match="variance does not match"):
        assert_matches_theory(layer)
    with pytest.raises(AssertionError, match="variance does not match"):
        check_scheme(WrongConv2d)
