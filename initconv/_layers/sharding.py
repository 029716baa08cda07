"""Sharded parameters: draw the full tensor on every rank, keep this rank's shard.

FSDP2 (``fully_shard``) and tensor parallelism turn parameters into DTensors. ``torch.nn.init`` on a
Shard(0) DTensor on CPU/gloo fills each rank's local shard from that rank's generator, so ranks that
share a seed hold identical shards (torch 2.13, reproduced in
tests/layers/test_sharding_distributed.py). Drawing the full tensor and keeping the local slice
makes a sharded layer equal the unsharded one.
"""

from __future__ import annotations

import sys
from typing import cast

from torch import Tensor

__all__: list[str] = []


def is_dtensor(tensor: Tensor) -> bool:
    """Whether ``tensor`` is a ``torch.distributed.tensor.DTensor``.

    A DTensor exists only once its module is imported, so this reads ``sys.modules`` and never
    imports ``torch.distributed`` itself: ``import initconv`` stays fast and works where torch is
    built without distributed support.
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
