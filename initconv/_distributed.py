"""Init under sharding and across world sizes: DTensor-aware draws and per-module seeds (issue 6).

FSDP2 (``fully_shard``) and tensor parallelism turn parameters into DTensors. ``torch.nn.init`` on a
Shard(0) DTensor on CPU/gloo fills each rank's local shard from that rank's generator, so ranks
that share a seed hold identical shards (torch 2.13, reproduced in tests/test_distributed.py).
:func:`shard_like` lets ``InitConv2d.reset_parameters()`` draw the full tensor instead and keep
this rank's shard.
"""

from __future__ import annotations

import hashlib
import sys
from typing import TYPE_CHECKING, cast

from torch import Tensor, nn

if TYPE_CHECKING:
    from initconv._base import InitConv2d

# initconv._base imports this module; it imports initconv._base inside the functions that need it.

__all__ = ["is_dtensor", "module_seed", "seed_modules", "shard_like"]

# blake2b personalisation: seeds derived here differ from any other use of the same hash.
_PERSON = b"initconv.seed"


def is_dtensor(tensor: Tensor) -> bool:
    """Whether ``tensor`` is a ``torch.distributed.tensor.DTensor``.

    A DTensor exists only once its module is imported, so this reads ``sys.modules`` and never
    imports ``torch.distributed`` itself: ``import initconv`` stays as fast as before and works
    where torch is built without distributed support.
    """
    module = sys.modules.get("torch.distributed.tensor")
    dtensor = getattr(module, "DTensor", None)
    return dtensor is not None and isinstance(tensor, dtensor)


def shard_like(full: Tensor, like: Tensor) -> Tensor:
    """``full`` laid out as ``like``: unchanged for a plain tensor, else this rank's shard of it.

    Every rank holds the same ``full`` (drawn from the same generator), so the split is local:
    ``distribute_tensor(..., src_data_rank=None)`` sends nothing and keeps this rank's slice.
    """
    if not is_dtensor(like):
        return full
    from torch.distributed.tensor import DTensor, distribute_tensor

    sharded = cast(DTensor, like)
    return distribute_tensor(full, sharded.device_mesh, sharded.placements, src_data_rank=None)


def _check_seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"seed must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {value!r}")
    return value


def module_seed(seed: int, name: str) -> int:
    """The seed :func:`seed_modules` gives the module called ``name``: a stable 64-bit hash.

    BLAKE2b (RFC 7693) of the module's qualified name, keyed by ``seed``: the same on every
    process, Python version and platform, unlike the salted built-in ``hash()``.

    Examples:
        >>> module_seed(0, "stem.conv") == module_seed(0, "stem.conv")
        True
    """
    checked = _check_seed(seed)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__} {name!r}")
    digest = hashlib.blake2b(
        name.encode("utf-8"), digest_size=8, key=checked.to_bytes(8, "little"), person=_PERSON
    ).digest()
    return int.from_bytes(digest, "little")


def seed_modules(model: nn.Module, seed: int, *, reset: bool = True) -> dict[str, int]:
    r"""Give every :class:`~initconv.InitConv2d` in ``model`` a seed derived from its name.

    Layer ``name`` (its qualified name in ``model.named_modules()``) gets

    .. math::
        \text{seed}_\text{name} = \operatorname{BLAKE2b}_{64}(\text{key}=\text{seed},\ \text{name})

    so its weights depend on ``seed`` and its name only: not on construction order, on the layers
    before it, on each rank's global RNG, or on the world size (pytorch#65049 asks for this;
    modules there cannot take a seed). Inserting a layer leaves every other layer's weights
    unchanged. Call it on the unwrapped model (DDP prefixes names with ``module.``); FSDP2's
    ``fully_shard`` keeps names.

    Args:
        model: the model; layers that are not InitConv2d are left alone.
        seed: the model's seed, in ``[0, 2**64)``.
        reset: re-initialise every seeded layer now (on the meta device this draws nothing, and
            ``to_empty()`` + ``reset_parameters()`` later uses the seeds).

    Returns:
        The seeds given, by qualified name.

    Examples:
        >>> from torch import nn
        >>> from initconv import KaimingNormalConv2d
        >>> model = nn.Sequential(KaimingNormalConv2d(3, 8, 3), nn.ReLU())
        >>> sorted(seed_modules(model, 0))
        ['0']
    """
    from initconv._base import InitConv2d

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__} {model!r}")
    _check_seed(seed)
    if not isinstance(reset, bool):
        raise TypeError(f"reset must be a bool, got {type(reset).__name__} {reset!r}")
    layers: dict[str, InitConv2d] = {
        name: module for name, module in model.named_modules() if isinstance(module, InitConv2d)
    }
    seeds = {name: module_seed(seed, name) for name in layers}
    for name, layer in layers.items():
        layer.seed = seeds[name]
        if reset:
            layer.reset_parameters()
    return seeds
