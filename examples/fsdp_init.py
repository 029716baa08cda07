"""Build a conv net on the meta device, shard it with FSDP2, materialise it with initconv.

    torchrun --nproc-per-node 2 examples/fsdp_init.py            # CPU, gloo
    torchrun --nproc-per-node 8 examples/fsdp_init.py            # GPUs, nccl

Every rank draws each layer's full weight from the layer's own seed (``seed_modules``) and keeps
its shard, so the model equals the unsharded one bit for bit at any world size, and no two
shards repeat each other. Rank 0 checks both and runs one training step.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

import initconv
from initconv import KaimingNormalConv2d, OrthogonalConv2d, XavierNormalConv2d

SEED = 2024


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = KaimingNormalConv2d(channels, channels, 3, padding=1, activation="relu")
        self.conv2 = OrthogonalConv2d(channels, channels, 3, padding=1, activation="linear")

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class Net(nn.Module):
    def __init__(self, channels: int = 32, depth: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = KaimingNormalConv2d(3, channels, 3, padding=1, activation="relu")
        self.blocks = nn.Sequential(*(Block(channels) for _ in range(depth)))
        self.head = XavierNormalConv2d(channels, classes, 1, bias_init="torch")

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(F.relu(self.stem(x)))).mean(dim=(2, 3))


def materialise(device: torch.device, world_size: int) -> Net:
    """The FSDP2 path: meta construction, per-module seeds, fully_shard, to_empty, reset."""
    with torch.device("meta"):
        model = Net()
    initconv.seed_modules(model, SEED)  # on meta: records the seeds, draws nothing
    mesh = init_device_mesh(device.type, (world_size,))
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device=device)
    for module in model.modules():
        if isinstance(module, initconv.InitConv2d):
            module.reset_parameters()
    return model


def main() -> int:
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    # Different global RNGs on purpose: the layers' seeds alone decide the weights.
    torch.manual_seed(rank)
    try:
        model = materialise(device, world_size)

        reference = Net().to(device)
        initconv.seed_modules(reference, SEED)
        for (name, sharded), plain in zip(
            model.named_parameters(), reference.parameters(), strict=True
        ):
            full = sharded.full_tensor()
            if not torch.equal(full, plain):
                raise RuntimeError(f"{name}: the sharded model differs from the unsharded one")
            local = sharded.to_local().detach().contiguous()
            shards = [torch.empty_like(local) for _ in range(world_size)]
            dist.all_gather(shards, local)
            duplicated = local.abs().sum() > 0 and any(
                torch.equal(shards[i], shards[j])
                for i in range(world_size)
                for j in range(i + 1, world_size)
            )
            if duplicated:
                raise RuntimeError(f"{name}: two ranks hold the same shard")

        optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
        batch = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)).to(device)
        labels = torch.arange(8, device=device) % 10
        loss = F.cross_entropy(model(batch), labels)
        loss.backward()
        optimiser.step()
        if rank == 0:
            parameters = sum(p.numel() for p in reference.parameters())
            # The transient memory of the full draw: one full parameter at a time, per rank.
            largest = max(p.numel() * p.element_size() for p in reference.parameters())
            print(
                f"world size {world_size}: {parameters} parameters equal the unsharded model "
                f"bit for bit, no shard repeats another; one step, loss {loss.item():.4f}; "
                f"largest full draw per rank {largest / 1024:.1f} KiB"
            )
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
