"""LSUV against the analytic gain in 200-layer plain width-64 conv stacks.

Each stack is ``depth`` KaimingNormalConv2d (3x3, circular padding, no bias, the activation's gain)
+ activation pairs, the last activation dropped. For each activation and seed it reports the
second moment q = mean(y^2) of the final output on a calibration batch:

- with the analytic gain alone (log2 q: 0 is unit variance);
- after ``initconv.lsuv_`` on that batch;
- after ``initconv.lsuv_``, on a held-out batch from the same distribution (iid N(0, 1) inputs).

The mean-field variance map at the derived gain has slope M'(1) = 1.144 (gelu) and 1.173 (silu),
1 for relu and 0.46 for tanh at 5/3 (initconv.diagnostics.variance_map). LSUV pins the
calibration batch to q = 1 layer by layer, but it does not change the slope, so a held-out batch's
own deviation still grows by about M'(1) per layer.

LSUV fixes the variance, as the paper does; the second moment q also counts the output's squared
mean, which relu stacks keep.

Run ``python benchmarks/lsuv_depth.py`` (a few seconds per stack).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import subprocess

import torch
from torch import nn

import initconv
from initconv._maths.quadrature import gaussian_expectation

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


def stack(activation: str, depth: int, width: int, seed: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index in range(depth):
        conv = initconv.KaimingNormalConv2d(
            width,
            width,
            3,
            padding=1,
            padding_mode="circular",
            bias=False,
            activation=activation,
            seed=seed * depth + index,
        )
        layers += [conv, ACTIVATIONS[activation]()]
    return nn.Sequential(*layers[:-1])


def slope(activation: str) -> float:
    """M'(1) of the variance map M(q) = g^2 E[phi(sqrt(q) z)^2] at the layer's gain g.

    A central difference in q, with step 1e-4: error O(1e-8), far below the 3 digits printed.
    """
    phi, g = ACTIVATIONS[activation](), initconv.gain(activation)

    def m(q: float) -> float:
        return g**2 * gaussian_expectation(lambda z: phi(math.sqrt(q) * z) ** 2)

    h = 1e-4
    return (m(1 + h) - m(1 - h)) / (2 * h)


def moments(model: nn.Module, batch: torch.Tensor) -> tuple[float, float]:
    """(second moment, variance) of the final output."""
    with torch.no_grad():
        output = model(batch).double()
    return float(output.pow(2).mean()), float(output.var(correction=0))


def run(activation: str, depth: int, width: int, size: int, n: int, seed: int) -> tuple[float, ...]:
    model = stack(activation, depth, width, seed)
    generator = torch.Generator().manual_seed(seed)
    batch = torch.randn(n, width, size, size, generator=generator)
    held_out = torch.randn(n, width, size, size, generator=generator)
    analytic = moments(model, batch)[0]
    torch.manual_seed(seed)
    initconv.lsuv_(model, batch)
    return analytic, *moments(model, batch), moments(model, held_out)[0]


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=200)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--size", type=int, default=8, help="spatial size (square)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=8)
    # Small convs in a long sequence: with 2 OpenMP threads on a busy 2-core machine one stack took
    # 64 s, with 1 thread 2.5 s (same stack, same machine, minutes apart).
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"# commit {_commit()}, torch {torch.__version__}, python {platform.python_version()}, "
        f"threads {torch.get_num_threads()}; depth {args.depth}, width {args.width}, "
        f"{args.batch}x{args.width}x{args.size}x{args.size} batches, seeds 0..{args.seeds - 1}"
    )
    print()
    print(
        "| activation | M'(1) | analytic gain: log2 q, median [min, max] | LSUV, calibration batch: "
        "max abs(var - 1) | max abs(q - 1) | LSUV, held-out batch: q median [min, max] | "
        "held-out within 2x |"
    )
    print("|---|---|---|---|---|---|---|")
    for activation in ACTIVATIONS:
        results = [
            run(activation, args.depth, args.width, args.size, args.batch, seed)
            for seed in range(args.seeds)
        ]
        analytic = [math.log2(a) for a, _, _, _ in results]
        variance = max(abs(v - 1) for _, _, v, _ in results)
        calibrated = max(abs(c - 1) for _, c, _, _ in results)
        held = [h for _, _, _, h in results]
        within = sum(0.5 <= h <= 2 for h in held)
        print(
            f"| {activation} | {slope(activation):.3f} | {statistics.median(analytic):.1f} "
            f"[{min(analytic):.1f}, "
            f"{max(analytic):.1f}] | {variance:.4f} | {calibrated:.4f} | "
            f"{statistics.median(held):.3g} [{min(held):.3g}, {max(held):.3g}] | "
            f"{within} of {len(held)} |"
        )


if __name__ == "__main__":
    main()
