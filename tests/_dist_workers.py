"""Processes for tests/layers/test_sharding_distributed.py: gloo on 127.0.0.1, FSDP2 and DDP.

One spawn per world size runs every check of that world size; each rank saves what it saw with
``torch.save`` and the test process compares. The rendezvous store lives in the test process on a
port the OS picks (port 0), so parallel runs never collide.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import (
    KaimingNormalConv2d,
    OrthogonalConv2d,
    VarianceScalingConv2d,
    XavierUniformConv2d,
    seed_modules,
)

MODEL_SEED = 1234
PLACED_SEED = 77
# One scheme per kind of draw: normal, QR, and the truncated normal's rejection loop.
PLACED_SCHEMES = (KaimingNormalConv2d, OrthogonalConv2d, VarianceScalingConv2d)
TIMEOUT = timedelta(seconds=120)


class InitconvNet(nn.Module):
    """A small conv net whose channel counts split evenly over 1, 2 and 4 ranks."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = KaimingNormalConv2d(3, 8, 3, padding=1, activation="relu", bias_init="torch")
        self.body = OrthogonalConv2d(8, 8, 3, padding=1, activation="relu")
        self.head = XavierUniformConv2d(8, 4, 1, bias_init="torch")

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.relu(self.body(F.relu(self.stem(x)))))


class TorchNet(nn.Module):
    """InitconvNet's shapes with plain ``nn.Conv2d``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 1)


def reference_weights() -> dict[str, Tensor]:
    """InitconvNet built unsharded in one process, seeded by ``seed_modules``."""
    net = InitconvNet()
    seed_modules(net, MODEL_SEED)
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def _fsdp_materialise(net: nn.Module, world_size: int) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (world_size,))
    for layer in net.children():
        fully_shard(layer, mesh=mesh)
    fully_shard(net, mesh=mesh)
    net.to_empty(device="cpu")


def _shards(net: nn.Module) -> dict[str, tuple[Tensor, Tensor]]:
    """Each parameter's local shard and gathered full tensor."""
    return {
        name: (p.to_local().detach().clone(), p.full_tensor().detach().clone())
        for name, p in net.named_parameters()
    }


def _initconv_fsdp(rank: int, world_size: int) -> dict[str, Any]:
    # Each rank's global RNG differs: only the layers' own seeds may matter.
    torch.manual_seed(1000 + rank)
    with torch.device("meta"):
        net = InitconvNet()
    seed_modules(net, MODEL_SEED)
    _fsdp_materialise(net, world_size)
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            module.reset_parameters()
    shards = _shards(net)
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    loss = net(x).square().mean()
    loss.backward()
    optimiser.step()
    stepped = {name: p.full_tensor().detach().clone() for name, p in net.named_parameters()}
    return {"shards": shards, "loss": loss.item(), "stepped": stepped}


def _torch_fsdp(world_size: int) -> dict[str, tuple[Tensor, Tensor]]:
    with torch.device("meta"):
        net = TorchNet()
    _fsdp_materialise(net, world_size)
    # The usual advice: one seed on every rank, then nn.init.
    torch.manual_seed(0)
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return _shards(net)


def _placed(world_size: int) -> list[dict[str, Any]]:
    """Layouts beyond FSDP2's Shard(0), as tensor parallelism makes them: each scheme's 8x8x3x3
    weight as a zero DTensor sharded on dim 0 or 1 or replicated, then reset."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (world_size,))
    out = []
    for cls in PLACED_SCHEMES:
        for dim in (0, 1, None):
            layer = cls(8, 8, 3, seed=PLACED_SEED)
            placement = Replicate() if dim is None else Shard(dim)
            zeros = distribute_tensor(torch.zeros_like(layer.weight), mesh, [placement])
            layer.weight = nn.Parameter(zeros)
            layer.reset_parameters()
            weight = layer.weight
            assert isinstance(weight, DTensor)
            out.append(
                {
                    "scheme": cls.__name__,
                    "dim": dim,
                    "local": weight.to_local().detach().clone(),
                    "full": weight.full_tensor().detach().clone(),
                }
            )
    return out


def _ddp(rank: int, *, seeded: bool) -> list[dict[str, Tensor]]:
    """Every rank's parameters after DDP construction without its rank-0 broadcast."""
    torch.manual_seed(2000 + rank)
    net = InitconvNet()
    if seeded:
        seed_modules(net, MODEL_SEED)
    ddp = nn.parallel.DistributedDataParallel(net, init_sync=False)
    mine = {name: p.detach().clone() for name, p in ddp.module.named_parameters()}
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    # A crash in C++ (an abort in gloo, say) then prints every thread's Python stack to stderr.
    faulthandler.enable(all_threads=True)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    store = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=TIMEOUT)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=TIMEOUT)
    try:
        result = {
            "initconv": _initconv_fsdp(rank, world_size),
            "torch": _torch_fsdp(world_size),
            "ddp_seeded": _ddp(rank, seeded=True),
            "ddp_unseeded": _ddp(rank, seeded=False),
            "placed": _placed(world_size),
        }
        torch.save(result, Path(out) / f"rank{rank}.pt")
        # No rank tears down its gloo pairs while another still uses them.
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # The results are on disk: leave without the interpreter's teardown. Once in CI both ranks
    # aborted with "terminate called without an active exception" and no Python error: a
    # std::thread destroyed unjoined, which points at a destructor. It did not recur here in 170
    # runs; if it recurs before this line, faulthandler shows where.
    os._exit(0)


def run(world_size: int) -> list[dict[str, Any]]:
    """Run every distributed check on ``world_size`` gloo processes; each rank's results."""
    import torch.multiprocessing as mp

    # The test process hosts the store; port 0 lets the OS pick a free port.
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, timeout=TIMEOUT, wait_for_workers=False)
    with tempfile.TemporaryDirectory() as out:
        mp.start_processes(
            _worker,
            args=(world_size, store.port, out),
            nprocs=world_size,
            join=True,
            start_method="spawn",
        )
        return [torch.load(Path(out) / f"rank{r}.pt") for r in range(world_size)]
