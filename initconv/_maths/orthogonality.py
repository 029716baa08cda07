"""Whether blocks of a weight are orthogonal up to a gain: the one tolerance, for the structured
schemes' invariants and for :func:`initconv.testing.assert_orthogonal`."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__: list[str] = []

# Float32 QR leaves errors <= 1.6e-7 in W W^T; 1e-5 g^2 leaves room for every QR kernel.
_QR_ATOL = 1e-5


def blocks(weight: Tensor, groups: int) -> tuple[int, int]:
    """The (rows, cols) of each group's block of ``weight`` flattened after dim 0."""
    return weight.shape[0] // groups, math.prod(weight.shape[1:])


def orthogonality_atol(dtype: torch.dtype, gain: float, length: int = 1) -> float:
    """The tolerance on each entry of ``W W^T - g^2 I`` for a weight stored in ``dtype``."""
    # Cauchy-Schwarz: entry errors d_k on a row of norm g move an entry of W W^T by at most
    # 2 g |d| + |d|^2. Rounding g Q to dtype gives |d| <= g eps / 2 in the normal range (so eps g^2
    # plus a second-order term), and |d| <= sqrt(length) s with s the subnormal spacing below it
    # (which also covers a subnormal gain rounded in float32).
    info = torch.finfo(dtype)
    spacing = math.sqrt(length) * info.smallest_normal * info.eps
    return gain**2 * max(_QR_ATOL, 2 * info.eps) + 2 * gain * spacing + spacing**2


def assert_orthogonal_blocks(blocks: Tensor, gain: float, what: str) -> None:
    """Check that every matrix ``blocks[i]`` is orthogonal up to ``gain``, in float64."""
    rows, cols = blocks.shape[1:]
    w = blocks.detach().to("cpu", torch.float64)
    gram = w @ w.transpose(1, 2) if rows <= cols else w.transpose(1, 2) @ w
    eye = torch.eye(gram.shape[1], dtype=torch.float64)
    errors = (gram - gain**2 * eye).abs().amax(dim=(1, 2))
    atol = orthogonality_atol(blocks.dtype, gain, max(rows, cols))
    bad = (~(errors <= atol)).nonzero().flatten().tolist()
    if bad:
        product = "W W^T" if rows <= cols else "W^T W"
        raise AssertionError(
            f"{what} of group {bad[0]} ({rows} x {cols}) is not orthogonal up to the gain: "
            f"max |{product} - g^2 I| = {float(errors[bad[0]]):.3g} > atol {atol:.3g} "
            f"(g = {gain:.6g}, dtype {blocks.dtype}; {len(bad)} of {len(blocks)} groups fail)"
        )
