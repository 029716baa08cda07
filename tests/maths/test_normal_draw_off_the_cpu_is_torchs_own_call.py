"""Off the CPU, a normal draw is torch's own single ``normal_`` call, never the CPU's pieces.

docs/guarantees.md promises weights "bit for bit what torch.nn.init draws from the same generator",
on any device (it names CUDA's Philox). ``draw_normal_`` splits a large CPU draw into pieces; that
is bit-identical only because torch's CPU kernel turns uniforms into normals 16 at a time
(tests/layers/test_layer_contract.py checks the seams). No such argument holds elsewhere: a
Philox generator advances by a per-call offset, so two calls on two halves draw other numbers
than one call on the whole. Off the CPU the only draw that is torch's, whatever the kernel, is
the very call torch.nn.init makes: one ``normal_`` on the whole tensor.

This build has no CUDA device, so a stand-in plays a contiguous CUDA tensor too large for one
CPU piece: it reports its size, device and contiguity, and records every call made on it (a
split would have to ``view`` it first). Both ``draw_normal_`` and ``torch.nn.init.normal_`` are
given it; they must make the same calls, and that is one ``normal_``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor

from initconv._maths.sampling import NORMAL_PIECE, draw_normal_


class _OnCuda:
    """A contiguous CUDA tensor of ``n`` values, as draw_normal_ and torch.nn.init see one."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.device = torch.device("cuda")
        self.calls: list[tuple[Any, ...]] = []

    def numel(self) -> int:
        return self.n

    def is_contiguous(self) -> bool:
        return True

    def normal_(self, *args: Any, **kwargs: Any) -> _OnCuda:
        self.calls.append(("normal_", args, kwargs))
        return self

    def view(self, *shape: int) -> Tensor:
        self.calls.append(("view", shape))
        return torch.empty(self.n)


def test_a_large_normal_draw_on_a_non_cpu_device_makes_exactly_torch_inits_call() -> None:
    generator = torch.Generator()
    # Two whole pieces and a remainder of 17: on the CPU, three normal_ calls.
    for n in (NORMAL_PIECE + 1, 2 * NORMAL_PIECE + 17):
        ours, torchs = _OnCuda(n), _OnCuda(n)
        draw_normal_(cast("Tensor", ours), 0.5, 2.0, generator)
        torch.nn.init.normal_(cast("Tensor", torchs), 0.5, 2.0, generator=generator)
        assert ours.calls == torchs.calls, (ours.calls, torchs.calls)
        assert ours.calls == [("normal_", (0.5, 2.0), {"generator": generator})]
