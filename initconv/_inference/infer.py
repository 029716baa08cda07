"""Which activation acts on each layer's output: the rule (``rule``) applied to what runs.

With an example input, to what a forward pass on a copy of the model executes (``recorded``);
for layers that pass never calls, and without an input, to the graphs torch.fx traces from a
structural copy (``symbolic``); where neither decides, to the layer's ``nn.Sequential``. Nothing of
the user's model is run, so nothing of it changes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from torch import Tensor, nn

from initconv._inference.copies import copy_error, preserved_rng, structural_copy
from initconv._inference.recorded import run
from initconv._inference.rule import Inference
from initconv._inference.symbolic import TRACE_LOCK, Symbolic, sequential
from initconv._validate import describe

__all__: list[str] = []


def check_inputs(example_inputs: object) -> tuple[Any, ...] | None:
    """``example_inputs`` as a tuple of positional arguments (a single tensor is one)."""
    if example_inputs is None:
        return None
    if isinstance(example_inputs, Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs)
    raise TypeError(
        "example_inputs must be a tensor or a tuple of the forward's positional arguments, got "
        f"{describe(example_inputs)}"
    )


def _run(model: nn.Module, inputs: tuple[Any, ...], wanted: list[str]) -> dict[str, Inference]:
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
        return Symbolic(duplicate).infer(names, wanted)


def infer_activations(
    model: nn.Module, wanted: Collection[str], inputs: tuple[Any, ...] | None = None
) -> dict[str, tuple[Inference, str]]:
    """Each wanted layer's activation and how it was found: ``"run"`` (recorded on ``inputs``),
    ``"traced"`` (torch.fx), ``"sequential"`` (the rule on its nn.Sequential, where neither
    decided) or ``"default"`` (unresolved: ``spec`` is ``None`` and ``detail`` says why)."""
    order = list(wanted)
    found: dict[str, tuple[Inference, str]] = {}
    if inputs is not None:
        for name, outcome in _run(model, inputs, order).items():
            found[name] = (outcome, "run")
    unseen = [name for name in order if name not in found]
    for name, outcome in _symbolic(model, unseen).items():
        if inputs is not None:
            outcome = Inference(outcome.spec, f"not called on example_inputs; {outcome.detail}")
        found[name] = (outcome, "traced")
    result: dict[str, tuple[Inference, str]] = {}
    for name in order:
        outcome, source = found[name]
        if outcome.spec is not None:
            result[name] = (outcome, source)
            continue
        neighbour = sequential(model, name)
        if neighbour.spec is not None:
            detail = f"{neighbour.detail} ({outcome.detail})"
            result[name] = (Inference(neighbour.spec, detail), "sequential")
        else:
            result[name] = (Inference(None, f"{outcome.detail}; {neighbour.detail}"), "default")
    return result
