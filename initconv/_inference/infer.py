"""Which activation acts on each layer's output: the rule (``rule``) applied to what runs.

With an example input, to what a forward pass on a working copy of the model executes
(``recorded``); for layers that pass never calls, and without an input, to the graphs torch.fx
traces from a structural copy (``symbolic``). Where tracing leaves layers undecided and the model
declares an example input of its own (a transformers model's ``dummy_inputs``, a timm model's
``pretrained_cfg["input_size"]``), a run on that input decides them. Where nothing decides, the
layer's ``nn.Sequential`` neighbour is a guess, reported as a fallback. Nothing of the user's model
is changed.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from initconv._inference.copies import copy_error, preserved_rng, structural_copy
from initconv._inference.recorded import Inputs, run
from initconv._inference.rule import Inference, combine
from initconv._inference.symbolic import TRACE_LOCK, Symbolic, sequential
from initconv._validate import describe

__all__: list[str] = []


def check_inputs(example_inputs: object) -> Inputs | None:
    """``example_inputs`` as positional and keyword arguments: a tensor or a list is one
    argument, a tuple is the positional arguments, a dict the keyword arguments."""
    if example_inputs is None:
        return None
    if isinstance(example_inputs, (Tensor, list)):
        return (example_inputs,), {}
    if isinstance(example_inputs, tuple):
        return tuple(example_inputs), {}
    if isinstance(example_inputs, Mapping):
        keys = [key for key in example_inputs if not isinstance(key, str)]
        if keys:
            raise TypeError(
                f"example_inputs: a dict is the forward's keyword arguments, so its keys must be "
                f"str, got {keys[0]!r}"
            )
        return (), dict(example_inputs)
    raise TypeError(
        "example_inputs must be a tensor, a list (one argument), a tuple of the forward's "
        f"positional arguments or a dict of its keyword arguments, got {describe(example_inputs)}"
    )


def _sample(model: nn.Module, *shape: int) -> Tensor:
    """A seeded standard normal batch on the model's device, in its dtype."""
    tensor = next(iter(model.parameters()), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    dtype = tensor.dtype if tensor is not None and tensor.is_floating_point() else None
    generator = torch.Generator(device="cpu").manual_seed(0)
    return torch.randn(*shape, generator=generator, dtype=dtype).to(device)


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _transformers_input(model: nn.Module, dummy: Mapping[str, Any]) -> tuple[Inputs, str] | None:
    """A transformers model's declared input: its ``dummy_inputs`` where they hold its main
    input (``main_input_name``); for a vision model, whose ``dummy_inputs`` are token ids it
    does not take, a batch of one image of its config's ``num_channels`` and ``image_size``."""
    main = getattr(model, "main_input_name", None)
    if main is None or main in dummy:
        return ((), dict(dummy)), "the model's dummy_inputs"
    config = getattr(model, "config", None)
    size = getattr(config, "image_size", None)
    channels = getattr(config, "num_channels", None)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        height, width = size
    else:
        height = width = size
    inputs: dict[str, Any] = {}
    if main == "pixel_values" and all(_positive(n) for n in (channels, height, width)):
        where = f"an image of its config's size ({channels}, {height}, {width})"
        inputs[main] = _sample(model, 1, channels, height, width)  # type: ignore[arg-type]
    elif main == "input_values":
        where = "one second of audio at 16 kHz"
        inputs[main] = _sample(model, 1, 16000)
    elif main == "input_features" and all(
        _positive(getattr(config, key, None)) for key in ("num_mel_bins", "max_source_positions")
    ):
        bins, frames = config.num_mel_bins, 2 * config.max_source_positions  # type: ignore[union-attr]
        where = f"log-mel features of its config's size ({bins}, {frames})"
        inputs[main] = _sample(model, 1, bins, frames)
    else:
        return None
    if getattr(config, "is_encoder_decoder", False) and "input_ids" in dummy:
        ids = dummy["input_ids"]
        inputs["decoder_input_ids"] = ids[:1] if isinstance(ids, Tensor) and ids.dim() > 1 else ids
    return ((), inputs), where


# A declared sample larger than this many elements per channel (a 64 x 64 latent) is halved
# along each dimension (while even, as a UNet's down-sampling needs) for the run: the layers and
# the path between them are the same at any size the model accepts, while attention over a
# 65,536-sample signal would hold a matrix of 2^32 scores.
_SAMPLE_ELEMENTS = 2**12


def _config_value(config: object, key: str) -> Any:
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)


def _sample_shape(model: nn.Module, size: object) -> list[int] | None:
    """The spatial shape of a declared ``sample_size``, with as many dimensions as the model's
    first convolution has."""
    conv = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    if conv is None:
        return None
    dims = conv.weight.dim() - 2
    shape = [size] * dims if _positive(size) else size
    if not isinstance(shape, (list, tuple)) or len(shape) != dims:
        return None
    if not all(_positive(n) for n in shape):
        return None
    spatial = [int(n) for n in shape]
    while math.prod(spatial) > _SAMPLE_ELEMENTS and all(n % 2 == 0 for n in spatial):
        spatial = [n // 2 for n in spatial]
    return spatial


def _diffusers_input(model: nn.Module) -> tuple[Inputs, str] | None:
    """A diffusers model's declared sample: a batch of one of its config's ``in_channels`` and
    ``sample_size``, passed as the forward's first argument (``sample`` or ``hidden_states``),
    with a timestep, text states of its ``cross_attention_dim`` and a class label where the
    forward takes them and the config declares them."""
    config = getattr(model, "config", None)
    channels = _config_value(config, "in_channels")
    if config is None or not _positive(channels):
        return None
    try:
        parameters = list(inspect.signature(type(model).forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if not parameters or parameters[0].name not in ("sample", "hidden_states"):
        return None
    spatial = _sample_shape(model, _config_value(config, "sample_size"))
    if spatial is None:
        return None
    inputs: dict[str, Any] = {parameters[0].name: _sample(model, 1, channels, *spatial)}
    device = inputs[parameters[0].name].device
    cross = _config_value(config, "cross_attention_dim")
    labelled = any(
        _positive(_config_value(config, key)) for key in ("num_class_embeds", "num_embeds_ada_norm")
    )
    for parameter in parameters[1:]:
        if parameter.name in ("timestep", "timesteps"):
            inputs[parameter.name] = torch.tensor([1], device=device)
        elif parameter.name == "encoder_hidden_states" and _positive(cross):
            inputs[parameter.name] = _sample(model, 1, 4, cross)
        elif parameter.name == "class_labels" and labelled:
            inputs[parameter.name] = torch.tensor([0], device=device)
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            return None  # an argument the config does not declare
    shape = (channels, *spatial)
    return ((), inputs), f"a sample of its config's in_channels and sample_size {shape}"


def declared_inputs(model: nn.Module) -> tuple[Inputs, str] | None:
    """The example input the model's library declares for it, and where it came from: a
    transformers model's ``dummy_inputs`` (keyword arguments; an image of its config's size for
    a vision model), or a batch of one image of a timm model's ``pretrained_cfg["input_size"]``
    (seeded, on the model's device), or a diffusers model's sample of its config's
    ``in_channels`` and ``sample_size`` (with a timestep, and text states or a class label where
    the config declares them)."""
    try:
        dummy = getattr(model, "dummy_inputs", None)
    except Exception:  # a library's property may fail on a model it was not built for
        dummy = None
    if isinstance(dummy, Mapping) and dummy and all(isinstance(k, str) for k in dummy):
        return _transformers_input(model, dummy)
    config = getattr(model, "pretrained_cfg", None)
    size = config.get("input_size") if isinstance(config, Mapping) else None
    if isinstance(size, (tuple, list)) and size and all(_positive(n) for n in size):
        image = _sample(model, 1, *size)
        return ((image,), {}), f"pretrained_cfg['input_size'] {tuple(size)}"
    return _diffusers_input(model)


def _run(model: nn.Module, inputs: Inputs, wanted: list[str]) -> dict[str, Inference]:
    try:
        return run(model, inputs, wanted)
    except Exception as error:  # the user's forward on the user's input
        raise ValueError(
            f"example_inputs: the forward pass on a copy of the model raised "
            f"{type(error).__name__}: {error}"
        ) from error


def _symbolic(model: nn.Module, wanted: list[str]) -> dict[str, Inference]:
    if not wanted:
        return {}
    try:
        duplicate = structural_copy(model)
    except Exception as error:  # any object a third-party model holds may refuse deepcopy
        return {name: Inference(None, copy_error(error)) for name in wanted}
    names = {id(module): name for name, module in duplicate.named_modules()}
    with TRACE_LOCK, preserved_rng(model):
        return Symbolic(duplicate, model).infer(names, wanted)


@dataclasses.dataclass
class Inferred:
    """Each wanted layer's activation and how it was found (``"run"``, ``"traced"``,
    ``"sequential"`` or ``"default"``), and what convert() should warn about the inference."""

    outcomes: dict[str, tuple[Inference, str]]
    notes: list[str]


def infer_activations(
    model: nn.Module, wanted: Collection[str], inputs: Inputs | None = None
) -> Inferred:
    """Each wanted layer's activation and how it was found: ``"run"`` (recorded on ``inputs``
    or on the model's declared example input), ``"traced"`` (torch.fx), ``"sequential"`` (a
    guess from its nn.Sequential neighbour, where neither decided: a fallback) or ``"default"``
    (unresolved: ``spec`` is ``None`` and ``detail`` says why)."""
    order = list(wanted)
    found: dict[str, tuple[Inference, str]] = {}
    notes: list[str] = []
    if inputs is not None:
        for name, outcome in _run(model, inputs, order).items():
            found[name] = (outcome, "run")
        if order and not found:
            notes.append(
                f"the forward pass on example_inputs reached none of the {len(order)} layers "
                "through values computed from the inputs (a forward that copies its input into "
                "a new tensor, or never calls them); they were traced instead"
            )
    unseen = [name for name in order if name not in found]
    for name, outcome in _symbolic(model, unseen).items():
        if inputs is not None:
            outcome = Inference(outcome.spec, f"not called on example_inputs; {outcome.detail}")
        found[name] = (outcome, "traced")
    undecided = [name for name in order if found[name][0].spec is None]
    if inputs is None and undecided:
        _declared(model, undecided, found)
    _tie(model, order, found)
    result: dict[str, tuple[Inference, str]] = {}
    for name in order:
        outcome, source = found[name]
        if outcome.spec is not None:
            result[name] = (outcome, source)
            continue
        neighbour = sequential(model, name)
        if neighbour.spec is not None:
            detail = f"{outcome.detail}; guessed from its nn.Sequential: {neighbour.detail}"
            result[name] = (Inference(neighbour.spec, detail), "sequential")
        else:
            result[name] = (Inference(None, f"{outcome.detail}; {neighbour.detail}"), "default")
    return Inferred(result, notes)


def _weights(module: nn.Module) -> tuple[int, ...]:
    """The identities of the Parameters a layer's weight is (a parametrized one's originals)."""
    return tuple(
        id(p)
        for n, p in module.named_parameters()
        if n == "weight" or n.startswith("parametrizations.weight.")
    )


def _tie(model: nn.Module, order: list[str], found: dict[str, tuple[Inference, str]]) -> None:
    """Layers that hold one weight (tied weights) get one draw for it: like a layer called more
    than once, the same activation for all, or none."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in order:
        key = _weights(model.get_submodule(name))
        if key:
            groups.setdefault(key, []).append(name)
    for names in groups.values():
        outcomes = [found[n][0] for n in names]
        undecided = all(o.spec is None for o in outcomes)
        if len(names) < 2 or undecided or combine(outcomes).spec is not None:
            continue
        for name in names:
            others = ", ".join(n for n in names if n != name)
            detail = f"shares its weight with {others}, whose activation differs"
            found[name] = (Inference(None, f"{detail} ({found[name][0].detail})"), found[name][1])


def _declared(
    model: nn.Module, undecided: list[str], found: dict[str, tuple[Inference, str]]
) -> None:
    """Decide ``undecided`` layers by a run on the model's declared example input, if any."""
    declared = declared_inputs(model)
    if declared is None:
        return
    inputs, where = declared
    try:
        outcomes = run(model, inputs, undecided)
    except Exception as error:  # a declared input the forward refuses: the trace stands
        for name in undecided:
            outcome, source = found[name]
            why = f"{outcome.detail}; a run on {where} raised {type(error).__name__}"
            found[name] = (Inference(None, why), source)
        return
    for name in undecided:
        decided = outcomes.get(name)
        if decided is not None and decided.spec is not None:
            found[name] = (Inference(decided.spec, f"run on {where}: {decided.detail}"), "run")
