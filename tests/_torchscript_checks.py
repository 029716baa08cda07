"""TorchScript checks, run by ``tests/layers/test_torchscript.py`` in an interpreter of their own.

Each check builds a module, scripts it with ``torch.jit.script`` and compares the scripted output
with eager, bit for bit. Prints one line per failure and exits 1 if any failed.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _architectures import resnet18

import initconv

# Every kind at a size each accepts: (constructor arguments, input shape).
KINDS: dict[type[nn.Module], tuple[tuple[int, ...], tuple[int, ...]]] = {
    nn.Conv1d: ((4, 8, 3), (2, 4, 6)),
    nn.Conv2d: ((4, 8, 3), (2, 4, 6, 6)),
    nn.Conv3d: ((4, 8, 3), (2, 4, 6, 6, 6)),
    nn.ConvTranspose1d: ((4, 8, 3), (2, 4, 6)),
    nn.ConvTranspose2d: ((4, 8, 3), (2, 4, 6, 6)),
    nn.ConvTranspose3d: ((4, 8, 3), (2, 4, 6, 6, 6)),
    nn.Linear: ((4, 8), (2, 4)),
}


def _matches(module: nn.Module, x: torch.Tensor) -> None:
    module.eval()
    expected = module(x)
    scripted = torch.jit.script(module)
    if not torch.equal(scripted(x), expected):
        raise AssertionError("the scripted output differs from eager")


def checks() -> Iterator[tuple[str, Callable[[], None]]]:
    generator = torch.Generator().manual_seed(0)

    def data(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    # Every registered scheme on a Conv2d that every scheme serves.
    for name in sorted(initconv.schemes()):
        yield (
            f"{name} Conv2d",
            lambda n=name: _matches(
                initconv.conv2d(n, 4, 8, 3, padding=1, seed=0), data(2, 4, 6, 6)
            ),
        )
    # One scheme on every kind.
    for kind, (args, shape) in KINDS.items():
        yield (
            f"kaiming_normal {kind.__name__}",
            lambda k=kind, a=args, s=shape: _matches(
                initconv.layer_class("kaiming_normal", k)(*a, seed=3), data(*s)
            ),
        )

    def calibrated() -> None:
        layer = initconv.KaimingNormalConv2d(3, 8, 3, seed=0)
        initconv.lsuv_(layer, data(16, 3, 8, 8))
        _matches(layer, data(2, 3, 8, 8))

    yield "an LSUV-calibrated layer", calibrated

    def converted() -> None:
        torch.manual_seed(0)
        model = resnet18()
        initconv.convert(model)
        _matches(model, data(2, 3, 32, 32))

    yield "a converted resnet18", converted

    def gated(conv: type[nn.Conv2d], plain: bool) -> None:
        class Block(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv1 = conv(4, 4, 3, padding=1)
                self.conv2 = conv(4, 4, 3, padding=1)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + self.conv2(torch.relu(self.conv1(x)))

        model = nn.Sequential(Block(), Block())
        initconv.residual_init_(model, "skipinit")
        if plain:
            initconv.to_torch(model)
        with torch.no_grad():  # a gate that has learnt: the scripted hook must apply it
            model[0].conv2.get_parameter(initconv.GATE).fill_(0.5)
        _matches(model, data(2, 4, 6, 6))

    yield "a SkipInit-gated model of torch layers", lambda: gated(nn.Conv2d, False)
    yield (
        "a SkipInit-gated model of initconv layers",
        lambda: gated(initconv.KaimingNormalConv2d, False),
    )
    yield "a SkipInit-gated model, then to_torch", lambda: gated(initconv.KaimingNormalConv2d, True)


def main() -> int:
    failures = count = 0
    for name, check in checks():
        count += 1
        try:
            check()
        except Exception:  # report every failure, not only the first
            failures += 1
            print(f"FAILED {name}:\n{traceback.format_exc()}")
    print(f"{count} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
