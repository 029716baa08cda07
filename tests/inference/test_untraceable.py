"""Models torch.fx cannot trace, and the inputs convert() takes to run them instead.

Before: without example_inputs, every layer of an untraceable model fell back to the default with
a warning that listed every name (3,887 characters on a transformers zoo), though the model
declared an example input; a list was read as positional arguments, a dict refused; a run that
reached none of the layers said nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import convert


class Untraceable(nn.Module):
    """Control flow on a value in every block: torch.fx traces none of them."""

    def __init__(self, blocks: int = 5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(blocks))

    def forward(self, input_ids: Tensor) -> Tensor:
        x = input_ids.float()
        for layer in self.layers:
            y = layer(x)
            x = F.gelu(y) if bool(y.abs().sum() >= 0) else y
        return x


class Declared(Untraceable):
    """A transformers-style model: the library declares an input for it."""

    @property
    def dummy_inputs(self) -> dict[str, Tensor]:
        return {"input_ids": torch.ones(2, 8, dtype=torch.long)}


class ImageDeclared(nn.Module):
    """A timm-style model: pretrained_cfg names its input size."""

    def __init__(self) -> None:
        super().__init__()
        self.pretrained_cfg: dict[str, Any] = {"input_size": (3, 8, 8)}
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return self.head(F.silu(y) if bool(y.sum() != 0) else y)  # type: ignore[no-any-return]


def test_an_untraceable_model_is_run_on_the_example_input_its_library_declares() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(Declared(), reinit=False)
        image = convert(ImageDeclared(), reinit=False)
    for row in report.rows[:-1]:
        assert (row.activation, row.source) == ("gelu", "run")
        assert row.detail.startswith("run on the model's dummy_inputs")
    assert (image["conv"].activation, image["conv"].source) == ("silu", "run")
    assert "pretrained_cfg['input_size'] (3, 8, 8)" in image["conv"].detail


def test_without_any_input_one_short_warning_counts_the_fallbacks_and_says_how_to_fix_them() -> (
    None
):
    with pytest.warns(UserWarning, match=r"could not be inferred") as caught:
        report = convert(Untraceable(blocks=40), reinit=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "40 of 40 layer(s) could not be inferred (layers.0, layers.1, layers.2 and 37 more)" in (
        message
    )
    assert "example_inputs=" in message
    assert len(message) < 400
    assert len(report.fallbacks) == 40
    assert all("torch.fx could not trace" in row.detail for row in report.fallbacks)


class KeywordsAndLists(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Conv2d(4, 4, 1)

    def forward(self, images: list[Tensor], scale: float = 1.0) -> Tensor:
        x = torch.stack(images)
        y = self.conv(x)
        return self.head(torch.tanh(y * scale) if bool(y.sum() != 0) else y)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "example_inputs",
    [
        [torch.randn(3, 8, 8)],  # a list is one argument: a detection model's [image]
        ([torch.randn(3, 8, 8)], 1.0),  # a tuple is the positional arguments
        {"images": [torch.randn(3, 8, 8)], "scale": 1.0},  # a dict the keyword arguments
    ],
    ids=["list", "tuple", "dict"],
)
def test_example_inputs_take_a_list_as_one_argument_a_tuple_and_a_dict(
    example_inputs: object,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(KeywordsAndLists(), reinit=False, example_inputs=example_inputs)
    assert (report["conv"].activation, report["conv"].source) == ("tanh", "run")


def test_a_dict_with_keys_that_are_not_names_is_refused() -> None:
    with pytest.raises(TypeError, match=r"example_inputs: a dict .* keys must be str, got 0"):
        convert(KeywordsAndLists(), example_inputs={0: torch.randn(3, 8, 8)})


class NewBatch(nn.Module):
    """A detection model's transform: the images copied into a new, padded batch tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1)

    def forward(self, images: list[Tensor]) -> Tensor:
        batch = images[0].new_zeros(len(images), 3, 10, 10)
        for index, image in enumerate(images):
            batch[index, :, : image.shape[1], : image.shape[2]].copy_(image)
        return self.head(F.relu(self.conv(batch)))  # type: ignore[no-any-return]


def test_a_run_follows_values_written_into_a_new_tensor() -> None:
    """Before: the copy into the new batch was not followed: the run saw no layer."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(NewBatch(), reinit=False, example_inputs=[torch.randn(3, 8, 8)])
    assert (report["conv"].activation, report["conv"].source) == ("relu", "run")


class Detached(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv(torch.from_numpy(x.numpy().copy())))


def test_a_layer_applied_to_a_value_not_computed_from_the_inputs_is_still_followed() -> None:
    """Before: the run saw no layer (the input went through numpy) and said nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(Detached(), reinit=False, example_inputs=torch.randn(1, 3, 8, 8))
    assert (report["conv"].activation, report["conv"].source) == ("relu", "run")


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor, features: bool = False) -> Tensor:
        return F.relu(self.conv(x)) if features else x


def test_a_run_that_reaches_none_of_the_layers_says_so() -> None:
    with pytest.warns(UserWarning, match=r"reached none|could not be inferred") as caught:
        report = convert(Unused(), reinit=False, example_inputs=torch.randn(1, 3, 8, 8))
    assert "reached none of the 1 layers" in str(caught[0].message)
    # The trace (features=False) does not call it either: a warned fallback.
    assert report.fallbacks == (report["conv"],)


def stochastic_depth(x: Tensor, p: float, training: bool) -> Tensor:
    """torchvision's stochastic depth, under torchvision's own name for the tables."""
    return x


stochastic_depth.__module__ = "torchvision.ops.stochastic_depth"
torch.fx.wrap("stochastic_depth")


class StochasticDepth(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.head = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.gelu(x + stochastic_depth(self.fc(x), 0.1, self.training)))  # type: ignore[no-any-return]


def test_stochastic_depth_is_a_pass_through_by_what_it_computes() -> None:
    """Before: torchvision's stochastic_depth, kept whole by torch.fx, was unknown."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(StochasticDepth(), reinit=False)
    assert (report["fc"].activation, report["fc"].source) == ("gelu", "traced")
