"""Construction overhead: every iid scheme against nn.Conv2d, on the conv shapes of a ResNet-50.

Builds all 53 convolutions of torchvision's ResNet-50 (stem, bottlenecks, downsamples) in one
statement, timed by ``torch.utils.benchmark`` in one process, for:

- ``nn.Conv2d(...)``: the baseline (it initialises once, by kaiming_uniform_ with a = sqrt 5);
- ``nn.Conv2d(...)`` then ``nn.init.kaiming_normal_``: what users write today, two initialisations;
- each iid initconv scheme, ``activation="relu"``: one initialisation.

The ratio is the median time over the baseline's median; the spread is [q25 / q75, q75 / q25] of
the two measurements' interquartile ranges. The issue's target: at most 1.05x for every iid scheme,
and below the two-step path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils import benchmark

import initconv

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


def _builders() -> dict[str, Callable[[int, int, int, int], nn.Module]]:
    builders: dict[str, Callable[[int, int, int, int], nn.Module]] = {
        "nn.Conv2d": lambda i, o, k, s: nn.Conv2d(i, o, k, s, bias=False),
        "nn.Conv2d + kaiming_normal_": _two_step,
    }
    registry = initconv.schemes()
    for name in IID_SCHEMES:
        if name not in registry:
            continue
        cls = registry[name]
        builders[f"initconv {name}"] = lambda i, o, k, s, cls=cls: cls(
            i, o, k, s, bias=False, activation="relu"
        )
    return builders


def run(quick: bool) -> tuple[dict[str, Any], str]:
    shapes = resnet50_shapes()
    if quick:
        shapes = shapes[:8]
    min_run_time = 0.2 if quick else 3.0
    stats: dict[str, dict[str, float]] = {}
    for label, build in _builders().items():
        timer = benchmark.Timer(
            stmt="[build(*shape) for shape in shapes]",
            globals={"build": build, "shapes": shapes},
            label="construction",
            sub_label=label,
            num_threads=torch.get_num_threads(),
        )
        m = timer.blocked_autorange(min_run_time=min_run_time)
        stats[label] = {"median": m.median, "q25": m._p25, "q75": m._p75, "runs": len(m.times)}
    base = stats["nn.Conv2d"]
    lines = [
        f"Building ResNet-50's {len(shapes)} convolutions (no bias), "
        "`python -m benchmarks construction`:",
        "",
        "| constructor | median ms | IQR ms | ratio to nn.Conv2d [spread] | target |",
        "|---|---|---|---|---|",
    ]
    two_step = stats["nn.Conv2d + kaiming_normal_"]["median"]
    for label, s in stats.items():
        ratio = s["median"] / base["median"]
        low, high = s["q25"] / base["q75"], s["q75"] / base["q25"]
        s.update(ratio=ratio, ratio_low=low, ratio_high=high)
        if label.startswith("initconv"):
            met = ratio <= 1.05 and s["median"] < two_step
            target = "met" if met else "missed"
        else:
            target = ""
        lines.append(
            f"| {label} | {s['median'] * 1e3:.2f} | {(s['q75'] - s['q25']) * 1e3:.2f} | "
            f"{ratio:.3f} [{low:.3f}, {high:.3f}] | {target} |"
        )
    return {"shapes": shapes, "stats": stats}, "\n".join(lines)
