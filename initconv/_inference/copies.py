"""Copies of a model to run inference on, so that the user's model is never touched.

A forward run for inference (traced with proxies or executed on an example input) may set
attributes, advance counters, update norm statistics or draw random numbers. It runs on a copy,
inside :func:`preserved_rng`, and forward hooks that are plain functions (which may write to
objects outside the model) are dropped from the copy.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import random
import sys
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

__all__: list[str] = []

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, functools.partial)


def _drop_function_hooks(model: nn.Module) -> None:
    """Remove hooks that are plain functions: a deep copy shares them, and with them whatever
    they close over. Hook objects and bound methods were copied with the model and stay."""
    for module in model.modules():
        for key in _HOOK_DICTS:
            hooks = getattr(module, key, None)
            if not hooks:
                continue
            for handle_id in [k for k, hook in hooks.items() if isinstance(hook, _FUNCTIONS)]:
                del hooks[handle_id]


def _meta_like(tensor: Tensor) -> Tensor:
    return torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device="meta")


def structural_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose parameters and buffers are meta tensors of the same shapes and dtypes:
    the model's structure and code without a second copy of its values."""
    memo: dict[int, Any] = {}
    for _, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) not in memo:
            memo[id(parameter)] = nn.Parameter(
                _meta_like(parameter), requires_grad=parameter.requires_grad
            )
    for _, buffer in model.named_buffers(remove_duplicate=False):
        if id(buffer) not in memo:
            memo[id(buffer)] = _meta_like(buffer)
    duplicate = copy.deepcopy(model, memo)
    _drop_function_hooks(duplicate)
    return duplicate


def working_copy(model: nn.Module) -> nn.Module:
    """A full deep copy that a forward pass can run on."""
    duplicate = copy.deepcopy(model)
    _drop_function_hooks(duplicate)
    return duplicate


def copy_error(error: Exception) -> str:
    return f"the model cannot be deep-copied ({type(error).__name__}: {error})"


@contextlib.contextmanager
def preserved_rng(model: nn.Module) -> Iterator[None]:
    """Run a block and put back every random state it may draw from: torch's CPU generator and
    the CUDA generators of the model's devices, Python's ``random`` and NumPy's global state."""
    cuda = sorted(
        {
            tensor.device.index or 0
            for tensor in (*model.parameters(), *model.buffers())
            if tensor.device.type == "cuda"
        }
    )
    python_state = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_state = numpy.random.get_state() if numpy is not None else None
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(python_state)
        if numpy is not None:
            numpy.random.set_state(numpy_state)
