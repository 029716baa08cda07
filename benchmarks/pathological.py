"""The gain of pathological activations: each answers or is refused, quickly and in little memory.

``initconv.gain`` of each activation below, each in a fresh Python process (so that its peak memory
is its own): the outcome (the gain, or the error's first words), the points the activation was
evaluated at (counted by a wrapper), the wall time of the call and the process's peak resident
memory above what it held after importing torch and initconv and deriving one gain. Goal: under
5 s and 500 MB each. Before the evaluation budget and the relative tolerance, ``1000 * tanh`` took
18-27 s, ``F.silu(x.float()).type_as(x)`` ran out of memory at 3 GB and ``exp(x * x)`` at 15 GB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv._maths.derived_gain import probe_evaluations
from initconv._maths.quadrature import MAX_EVALUATIONS

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS, GOAL_MB = 5.0, 500.0

ACTIVATIONS: dict[str, Callable[[], Callable[[Tensor], Tensor]]] = {
    "1000 * tanh(x)": lambda: lambda x: 1000 * torch.tanh(x),
    "F.silu(x.float()).type_as(x)": lambda: lambda x: F.silu(x.float()).type_as(x),
    "F.silu(x.half()).type_as(x)": lambda: lambda x: F.silu(x.half()).type_as(x),
    "nn.Dropout()": nn.Dropout,
    "exp(x * x)": lambda: lambda x: torch.exp(x * x),
    "nn.Softmax(dim=1)": lambda: nn.Softmax(dim=1),
    "sin(1e5 x)": lambda: lambda x: torch.sin(1e5 * x),
    "x / max|x|": lambda: lambda x: x / x.abs().max(),
}


class _Counted:
    def __init__(self, name: str, fn: Callable[[Tensor], Tensor]) -> None:
        self.name, self.fn, self.evaluations = name, fn, 0

    def __call__(self, x: Tensor) -> Tensor:
        self.evaluations += x.numel()
        return self.fn(x)

    def __repr__(self) -> str:
        return self.name


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def child(name: str) -> None:
    """Measure one activation in this process and print the result as JSON."""
    initconv.gain(lambda x: torch.tanh(x))  # caches, quadrature nodes, first-call costs
    baseline = _peak_mb()
    activation = _Counted(name, ACTIVATIONS[name]())
    started = time.perf_counter()
    try:
        outcome = f"gain {initconv.gain(activation):.10g}"
    except (ValueError, TypeError) as error:
        outcome = f"{type(error).__name__}: {str(error)[:150]}"
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "activation": name,
                "outcome": outcome,
                "evaluations": activation.evaluations,
                "seconds": seconds,
                "peak_mb_above_baseline": _peak_mb() - baseline,
                "baseline_mb": baseline,
            }
        )
    )


def _measure(name: str) -> dict[str, Any]:
    code = f"from benchmarks.pathological import child; child({name!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> tuple[dict[str, Any], str]:
    names = list(ACTIVATIONS)[:3] if quick else list(ACTIVATIONS)
    rows = [_measure(name) for name in names]
    budget = probe_evaluations() + MAX_EVALUATIONS
    lines = [
        f"`initconv.gain` of pathological activations, each in a fresh process "
        f"(`python -m benchmarks pathological`); evaluation budget {budget:,} points, goal "
        f"< {GOAL_SECONDS:g} s and < {GOAL_MB:g} MB each:",
        "",
        "| activation | outcome | points evaluated | seconds | peak MB above baseline |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        outcome = row["outcome"].replace("|", "\\|")
        lines.append(
            f"| `{row['activation']}` | {outcome} | {row['evaluations']:,} | "
            f"{row['seconds']:.2f} | {row['peak_mb_above_baseline']:.0f} |"
        )
    within = all(
        row["seconds"] < GOAL_SECONDS and row["peak_mb_above_baseline"] < GOAL_MB for row in rows
    )
    lines += ["", f"All within the goal: {'yes' if within else 'NO'}."]
    return {"rows": rows, "evaluation_budget": budget, "within_goal": within}, "\n".join(lines)
