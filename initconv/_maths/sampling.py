"""Zero-mean draws of a given standard deviation: normal, uniform and truncated normal.

The samplers behind every iid scheme and :func:`initconv.variance_scaling_`. Each takes the
generator explicitly, as ``torch.nn.init`` does.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from initconv._validate import check_choice

__all__ = ["Distribution", "FanMode"]

FanMode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["normal", "uniform", "truncated_normal"]
FAN_MODES: tuple[str, ...] = ("fan_avg", "fan_in", "fan_out")
DISTRIBUTIONS: tuple[str, ...] = ("normal", "truncated_normal", "uniform")

# Standard deviation of N(0, 1) truncated to (-2, 2): sqrt(E[Z^2 | |Z| <= 2]) with
# E[Z^2 | |Z| <= c] = 1 - 2 c phi(c) / (2 Phi(c) - 1). Dividing the underlying std by it makes the
# truncated draw's variance exactly the target (the JAX, Keras and Haiku convention).
TRUNCATED_NORMAL_STD = 0.87962566103423978

# How many standard deviations from the mean a draw can land, for the dtype checks. torch draws
# normals by Box-Muller from uniforms of at most 53 bits, so |z| <= sqrt(-2 ln 2^-53) = 8.57.
# uniform_(-b, b) needs b - (-b) = 2 sqrt(3) std to be finite. The truncated normal stops at
# 2 / TRUNCATED_NORMAL_STD.
REACH: dict[str, float] = {
    "normal": 8.6,
    "uniform": 2 * math.sqrt(3.0),
    "truncated_normal": 2 / TRUNCATED_NORMAL_STD,
}


def std_for(gain: float, fan_in: float, fan_out: float, mode: str) -> float:
    """The standard deviation ``gain / sqrt(fan)`` for ``mode``, with fan_avg = (in + out) / 2."""
    # Each branch repeats torch.nn.init's own float arithmetic (xavier_* and kaiming_*), so that the
    # same generator gives bit-identical weights.
    check_choice("mode", mode, FAN_MODES)
    if mode == "fan_avg":
        return gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


# On CPU, normal_ on a contiguous tensor of 16 or more values draws all its uniforms first and then
# turns them into normals 16 at a time (Box-Muller): two passes over memory, and on a large tensor
# the second one misses the cache. Drawn in cache-sized pieces it costs about what uniform_ does.
# Every piece is a multiple of 16 values and the last is at least 16 long, so the values are bit for
# bit those of one normal_ call on the same generator (tests/layers/test_layer_contract.py checks the seams).
NORMAL_PIECE = 1 << 16


def draw_normal_(
    tensor: Tensor, mean: float, std: float, generator: torch.Generator | None
) -> None:
    """``tensor.normal_(mean, std, generator=generator)``, drawn in cache-sized pieces on CPU."""
    n = tensor.numel()
    if n <= NORMAL_PIECE or tensor.device.type != "cpu" or not tensor.is_contiguous():
        tensor.normal_(mean, std, generator=generator)
        return
    sizes = [NORMAL_PIECE] * (n // NORMAL_PIECE)
    rest = n % NORMAL_PIECE
    if rest >= 16:
        sizes.append(rest)
    else:
        sizes[-1] += rest
    for piece in torch.split(tensor.view(-1), sizes):
        piece.normal_(mean, std, generator=generator)


def draw_zero_mean_(
    tensor: Tensor, std: float, distribution: str, generator: torch.Generator | None
) -> None:
    """Fill ``tensor`` with zero-mean draws of standard deviation ``std`` from ``distribution``."""
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution == "normal":
        draw_normal_(tensor, 0.0, std, generator)
    elif distribution == "uniform":
        # U(-b, b) has variance b^2 / 3.
        bound = math.sqrt(3.0) * std
        tensor.uniform_(-bound, bound, generator=generator)
    else:
        truncated_normal_(tensor, std / TRUNCATED_NORMAL_STD, generator)


def truncated_normal_(tensor: Tensor, sigma: float, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` with N(0, sigma^2) draws conditioned on ``|x| <= 2 sigma``, by rejection.

    Every value is drawn from the normal and redrawn while it falls outside, which gives exactly
    the truncated normal. 95.4% of draws land inside, so the rounds of redraws shrink by a factor
    of 22 each. ``torch.nn.init.trunc_normal_`` inverts the CDF through ``erfinv`` instead, which
    on CPU costs about seven times a normal draw (``python -m benchmarks construction``).
    """
    if tensor.is_meta:  # nothing to draw, and nonzero() has no meta kernel
        return
    # Low precision and strided tensors get a contiguous float32 (float64) scratch.
    dtype = tensor.dtype
    in_place = dtype in (torch.float32, torch.float64) and tensor.is_contiguous()
    scratch = torch.float64 if dtype == torch.float64 else torch.float32
    work = tensor if in_place else torch.empty(tensor.shape, dtype=scratch, device=tensor.device)
    flat = work.view(-1)
    # Every value is tested as the tensor will store it, against the largest stored value within
    # 2 sigma: a float16 value just inside the bound in float32 can round to just outside it.
    bound = _largest_at_most(2.0 * sigma, dtype)
    draw_normal_(flat, 0.0, sigma, generator)
    outside = torch.nonzero(flat.to(dtype).abs() > bound).view(-1)
    while outside.numel():
        fresh = flat.new_empty(outside.numel()).normal_(0.0, sigma, generator=generator)
        flat[outside] = fresh
        outside = outside[fresh.to(dtype).abs() > bound]
    if work is not tensor:
        tensor.copy_(work)


def _largest_at_most(value: float, dtype: torch.dtype) -> float:
    """The largest ``dtype`` number that is at most ``value`` (>= 0)."""
    stored = torch.tensor(value, dtype=torch.float64).to(dtype)
    if float(stored) > value:
        stored = torch.nextafter(stored, torch.zeros_like(stored))
    return float(stored)
