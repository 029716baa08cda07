"""Copies of a model to run inference on, so that the user's model is never touched.

A forward run for inference (traced with proxies or executed on an example input) may set
attributes, advance counters, update norm statistics or draw random numbers. It runs on a copy,
inside :func:`preserved_rng`. The copy duplicates only what a forward may write: the module
objects and their buffers (norm statistics, counters). Parameters and tensors held as plain
attributes are shared with the model, not copied (a 400 MB attribute costs nothing); a run that
writes to one in place has it put back afterwards (:class:`WorkingCopy`). Forward hooks that are
plain functions (which may write to objects outside the model) are dropped from the copy, unless
its forward needs them (a library that installs output-capturing hooks on its first call).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import random
import sys
import types
import warnings
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


def _plain_tensors(model: nn.Module) -> list[Tensor]:
    """Tensors a module holds as plain attributes, not as parameters or buffers."""
    return [
        value
        for module in model.modules()
        for value in vars(module).values()
        if isinstance(value, Tensor) and not isinstance(value, nn.Parameter)
    ]


def structural_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose parameters and buffers are meta tensors of the same shapes and dtypes,
    sharing the tensors held as plain attributes: the model's structure and code without a
    second copy of its values. Tracing reads a plain attribute (``if self.mask.any()``) and
    never writes to it."""
    memo: dict[int, Any] = {}
    for _, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) not in memo:
            memo[id(parameter)] = nn.Parameter(
                _meta_like(parameter), requires_grad=parameter.requires_grad
            )
    for _, buffer in model.named_buffers(remove_duplicate=False):
        if id(buffer) not in memo:
            memo[id(buffer)] = _meta_like(buffer)
    for tensor in _plain_tensors(model):
        memo.setdefault(id(tensor), tensor)
    duplicate = copy.deepcopy(model, memo)
    _drop_function_hooks(duplicate)
    return duplicate


def _storage(tensor: Tensor) -> int:
    try:
        return int(tensor.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):  # a tensor without storage (a subclass)
        return 0


class WorkingCopy:
    """A copy of a model a forward pass can run on: new module objects and buffers, the same
    parameters and plain tensor attributes as the model. :meth:`guard` puts back any of the
    shared tensors that the run writes to in place: :meth:`before_write`, called by the recorder
    before an in-place operation, keeps a copy of what it is about to change."""

    def __init__(self, model: nn.Module, keep_hooks: bool) -> None:
        memo: dict[int, Any] = {}
        shared: list[Tensor] = [p for _, p in model.named_parameters(remove_duplicate=False)]
        shared += _plain_tensors(model)
        for tensor in shared:
            memo[id(tensor)] = tensor
        self.module: nn.Module = copy.deepcopy(model, memo)
        if not keep_hooks:
            _drop_function_hooks(self.module)
        unique = {id(t): t for t in shared}
        self.shared = list(unique.values())
        self._storages = {_storage(t): t for t in self.shared if _storage(t)}
        self._saved: dict[int, tuple[Tensor, Tensor]] = {}

    def before_write(self, tensor: Tensor) -> None:
        """Keep what a shared tensor holds before an in-place write to ``tensor``."""
        owner = self._storages.get(_storage(tensor))
        if owner is not None and id(owner) not in self._saved:
            self._saved[id(owner)] = (owner, owner.detach().clone())

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        versions = {id(t): t._version for t in self.shared}
        try:
            yield
        finally:
            restored = set(self._saved)
            with torch.no_grad():
                for owner, value in self._saved.values():
                    owner.copy_(value)
            self._saved.clear()
            unseen = [
                t for t in self.shared if id(t) not in restored and t._version != versions[id(t)]
            ]
            if unseen:
                warnings.warn(
                    f"example_inputs: the forward pass wrote in place to {len(unseen)} of the "
                    "model's parameters or tensor attributes where inference could not see it "
                    "coming, so they were not put back",
                    UserWarning,
                    stacklevel=4,
                )


def working_copy(model: nn.Module, keep_hooks: bool = False) -> WorkingCopy:
    """A copy that a forward pass can run on (:class:`WorkingCopy`)."""
    return WorkingCopy(model, keep_hooks)


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
