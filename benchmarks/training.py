"""Training deep plain CNNs on scikit-learn's digits: test accuracy after a fixed budget of steps.

A plain CNN (no normalisation, no skips): a stride-2 3x3 stem (1 -> 16 channels, 8x8 -> 4x4),
``depth - 1`` more 3x3 convs of 16 channels, all with circular padding (zero padding on a 4x4 map
would shrink the signal at every layer whatever the init), each followed by the activation, then
global average pooling and a linear classifier. SGD (lr 0.02, momentum 0.9, batch 32, gradient norm clipped at
1), 200 steps, test accuracy on 397 held-out digits; median [min, max] over seeds 0, 1, 2 (the
seed fixes the init, the batches and nothing else; the split is fixed).

Inits: ``nn.Conv2d``'s default; ``nn.init.kaiming_normal_`` after construction with
``nonlinearity`` = the activation where torch has a gain for it, else torch's default ("leaky_relu"
with a = 0, i.e. the relu gain), bias zeroed; ``initconv.KaimingNormalConv2d(activation=...)``;
and at the deepest depth ``DeltaOrthogonalConv2d`` + tanh at gain 1 (Xiao et al. 2018's critical
point without bias). Runs go to two worker processes with one thread each.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import initconv
from initconv._demo import digits, train

DEPTHS = (20, 100)
WIDTH = 16
STEPS = 200
SEEDS = (0, 1, 2)
LR = 0.02
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
TORCH_NAMES = {"relu": "relu", "tanh": "tanh"}
INITS = ("torch default", "kaiming_normal_", "initconv")


def _conv(init: str, activation: str) -> Callable[..., nn.Conv2d]:
    def build(*args: Any, **kwargs: Any) -> nn.Conv2d:
        if init == "torch default":
            return nn.Conv2d(*args, **kwargs)
        if init == "kaiming_normal_":
            conv = nn.Conv2d(*args, **kwargs)
            nonlinearity = TORCH_NAMES.get(activation, "leaky_relu")
            nn.init.kaiming_normal_(conv.weight, nonlinearity=nonlinearity)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            return conv
        if init == "delta-orthogonal":
            return initconv.DeltaOrthogonalConv2d(*args, **kwargs, activation=activation, gain=1.0)
        return initconv.KaimingNormalConv2d(*args, **kwargs, activation=activation)

    return build


def model(depth: int, init: str, activation: str) -> nn.Sequential:
    conv = _conv(init, activation)
    layers: list[nn.Module] = []
    for index in range(depth):
        stem = index == 0
        layers += [
            conv(1 if stem else WIDTH, WIDTH, 3, 2 if stem else 1, 1, padding_mode="circular"),
            ACTIVATIONS[activation](),
        ]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDTH, 10)]
    return nn.Sequential(*layers)


def one_run(job: tuple[int, str, str, int, int]) -> dict[str, Any]:
    depth, init, activation, seed, steps = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = model(depth, init, activation)
    losses, evaluations = train(net, digits(0), steps=steps, seed=seed, lr=LR, batch=32, clip=1.0)
    return {
        "depth": depth,
        "init": init,
        "activation": activation,
        "seed": seed,
        "accuracy": evaluations[-1][1],
        "final_loss": losses[-1],
        "diverged": not math.isfinite(losses[-1]),
    }


def jobs(quick: bool) -> list[tuple[int, str, str, int, int]]:
    depths = (3, 6) if quick else DEPTHS
    seeds = SEEDS[:2] if quick else SEEDS
    steps = 10 if quick else STEPS
    out = [
        (depth, init, activation, seed, steps)
        for depth in depths
        for activation in ACTIVATIONS
        for init in INITS
        for seed in seeds
    ]
    out += [(depths[-1], "delta-orthogonal", "tanh", seed, steps) for seed in seeds]
    # Longest first, so the two workers finish together.
    return sorted(out, key=lambda job: -job[0])


def run(quick: bool) -> tuple[dict[str, Any], str]:
    from tqdm import tqdm

    todo = jobs(quick)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = list(
            tqdm(pool.imap_unordered(one_run, todo), total=len(todo), desc="training", unit="run")
        )
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["depth"], r["activation"], r["init"]), []).append(r)
    steps = todo[0][4]
    seeds = sorted({r["seed"] for r in results})
    lines = [
        f"Test accuracy on digits after {steps} SGD steps, median [min, max] over seeds {seeds} "
        "(`python -m benchmarks training`); chance is 0.10.",
        "",
        "| depth | activation | init | test accuracy | runs diverged |",
        "|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate((*INITS, "delta-orthogonal"))}
    for key in sorted(groups, key=lambda k: (k[0], list(ACTIVATIONS).index(k[1]), order[k[2]])):
        runs = groups[key]
        acc = sorted(r["accuracy"] for r in runs)
        diverged = sum(r["diverged"] for r in runs)
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {statistics.median(acc):.3f} "
            f"[{acc[0]:.3f}, {acc[-1]:.3f}] | {diverged} of {len(runs)} |"
        )
    return {"steps": steps, "width": WIDTH, "lr": LR, "runs": sorted(results, key=str)}, "\n".join(
        lines
    )
