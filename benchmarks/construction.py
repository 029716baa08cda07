"""Construction overhead: every iid scheme against nn.Conv2d, on the conv shapes of a ResNet-50.

Builds all 53 convolutions of torchvision's ResNet-50 (stem, bottlenecks, downsamples) in one
statement, timed by ``torch.utils.benchmark`` in one process, for:

- ``nn.Conv2d(...)``: the baseline (it initialises once, by kaiming_uniform_ with a = sqrt 5);
- ``nn.Conv2d(...)`` then ``nn.init.kaiming_normal_``: what users write today, two initialisations;
- each iid initconv scheme, ``activation="relu"``: one initialisation;
- "by hand", per distribution: an ``nn.Conv2d`` subclass whose ``reset_parameters()`` is the one
  ``torch.nn.init`` call that draws the same distribution (``normal_``, ``uniform_``,
  ``trunc_normal_``). It is the least a drop-in layer drawing that distribution costs, so a scheme's
  ratio to it is what initconv itself adds.

The constructors are timed in interleaved rounds (each round times every one, starting one later
than the round before), and a ratio is taken within each round: the median [q25, q75] over rounds.
The target: at most 1.05x of ``nn.Conv2d`` for every iid scheme, and below the two-step
path.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils import benchmark

import initconv
from initconv._maths.sampling import TRUNCATED_NORMAL_STD

# (in, out, kernel, stride, count) for torchvision's resnet50: stem, then per stage the bottleneck's
# 1x1 reduce, 3x3, 1x1 expand (first block: strided 3x3 and a 1x1 downsample), blocks 3, 4, 6, 3.
_STAGES = ((64, 256, 3, 1), (256, 512, 4, 2), (512, 1024, 6, 2), (1024, 2048, 3, 2))


def resnet50_shapes() -> list[tuple[int, int, int, int]]:
    shapes = [(3, 64, 7, 2)]
    in_ch = 64
    for mid_in, out, blocks, stride in _STAGES:
        mid = out // 4
        for block in range(blocks):
            first = block == 0
            shapes += [
                (in_ch, mid, 1, 1),
                (mid, mid, 3, stride if first else 1),
                (mid, out, 1, 1),
            ]
            if first:
                shapes.append((in_ch, out, 1, stride))
            in_ch = out
        del mid_in
    return shapes


def _two_step(i: int, o: int, k: int, s: int) -> nn.Conv2d:
    conv = nn.Conv2d(i, o, k, s, bias=False)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return conv


ROUNDS = 15
IID_SCHEMES = (
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
    "lecun_normal",
    "lecun_uniform",
    "variance_scaling",
    "uniform",
    "normal",
    "torch_default",
)


def _truncated(weight: Tensor, std: float) -> None:
    sigma = std / TRUNCATED_NORMAL_STD
    nn.init.trunc_normal_(weight, 0.0, sigma, -2.0 * sigma, 2.0 * sigma)


_DRAWS: dict[str, Callable[[Tensor, float], object]] = {
    "normal": lambda weight, std: nn.init.normal_(weight, 0.0, std),
    "uniform": lambda weight, std: nn.init.uniform_(
        weight, -math.sqrt(3) * std, math.sqrt(3) * std
    ),
    "truncated_normal": _truncated,
}


def _by_hand(distribution: str) -> type[nn.Conv2d]:
    draw = _DRAWS[distribution]

    class ByHand(nn.Conv2d):
        def reset_parameters(self) -> None:
            draw(self.weight, math.sqrt(2.0 / (self.in_channels * math.prod(self.kernel_size))))

    return ByHand


def _builders() -> tuple[dict[str, Callable[[int, int, int, int], nn.Module]], dict[str, str]]:
    """The constructors to time, and each initconv scheme's by-hand floor."""
    builders: dict[str, Callable[[int, int, int, int], nn.Module]] = {
        "nn.Conv2d": lambda i, o, k, s: nn.Conv2d(i, o, k, s, bias=False),
        "nn.Conv2d + kaiming_normal_": _two_step,
    }
    for distribution in _DRAWS:
        cls = _by_hand(distribution)
        builders[f"by hand, {distribution}"] = lambda i, o, k, s, cls=cls: cls(
            i, o, k, s, bias=False
        )
    floors: dict[str, str] = {}
    for name in IID_SCHEMES:
        scheme = initconv.layer_class(name, nn.Conv2d)
        label = f"initconv {name}"
        builders[label] = lambda i, o, k, s, scheme=scheme: scheme(
            i, o, k, s, bias=False, activation="relu"
        )
        distribution = scheme(1, 1, 1, device="meta").expected_distribution()
        assert distribution is not None, f"{name} is not an iid scheme"
        floors[label] = f"by hand, {distribution}"
    return builders, floors


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q25, median, q75 = statistics.quantiles(values, n=4, method="inclusive")
    return q25, median, q75


def run(quick: bool) -> tuple[dict[str, Any], str]:
    shapes = resnet50_shapes()
    if quick:
        shapes = shapes[:8]
    rounds, number = (3, 1) if quick else (ROUNDS, 3)
    builders, floors = _builders()
    timers = {
        label: benchmark.Timer(
            stmt="[build(*shape) for shape in shapes]",
            globals={"build": build, "shapes": shapes},
            label="construction",
            sub_label=label,
            num_threads=torch.get_num_threads(),
        )
        for label, build in builders.items()
    }
    labels = list(timers)
    for timer in timers.values():
        timer.timeit(1)  # warm-up
    # Round-robin, each round starting one constructor later: the machine's state drifts over a
    # run (the allocator's reuse of freed pages, above all), and a constructor timed in one block
    # early or late would carry that drift into its ratio. Ratios are taken within a round.
    times: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            times[label].append(timers[label].timeit(number).median)

    def ratios(label: str, to: str) -> list[float]:
        return [a / b for a, b in zip(times[label], times[to], strict=True)]

    lines = [
        f"Building ResNet-50's {len(shapes)} convolutions (no bias), "
        f"`python -m benchmarks construction`: {rounds} interleaved rounds, ratios taken within a "
        'round, median [q25, q75] over rounds. "by hand": an nn.Conv2d subclass whose '
        "reset_parameters() is the one torch.nn.init call drawing that distribution.",
        "",
        "| constructor | median ms [q25, q75] | ratio to nn.Conv2d | ratio to its draw by hand "
        "| target |",
        "|---|---|---|---|---|",
    ]
    stats: dict[str, dict[str, Any]] = {}
    for label in labels:
        ms = _quartiles([t * 1e3 for t in times[label]])
        ratio = _quartiles(ratios(label, "nn.Conv2d"))
        stats[label] = {"seconds": times[label], "ms": ms, "ratio": ratio}
        by_hand = target = ""
        if label in floors:
            floor = _quartiles(ratios(label, floors[label]))
            to_two_step = _quartiles(ratios(label, "nn.Conv2d + kaiming_normal_"))
            stats[label].update(floor=floors[label], ratio_to_floor=floor)
            kind = floors[label].split(", ")[1]
            by_hand = f"{floor[1]:.3f} [{floor[0]:.3f}, {floor[2]:.3f}] ({kind})"
            target = "met" if ratio[1] <= 1.05 and to_two_step[1] < 1 else "missed"
        lines.append(
            f"| {label} | {ms[1]:.1f} [{ms[0]:.1f}, {ms[2]:.1f}] | "
            f"{ratio[1]:.3f} [{ratio[0]:.3f}, {ratio[2]:.3f}] | {by_hand} | {target} |"
        )
    return {"shapes": shapes, "rounds": rounds, "number": number, "stats": stats}, "\n".join(lines)
