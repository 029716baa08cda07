"""Orthogonal init throughput: ``initconv.orthogonal_`` against ``torch.nn.init.orthogonal_``.

Large conv weights (ResNet-50's widest 3x3 and 1x1 layers, and a 1024-channel 3x3), in float32
and bfloat16, timed by ``torch.utils.benchmark`` in one process. torch runs QR in the tensor's
dtype and has no bfloat16 QR on CPU, so it raises there (pytorch#9315); initconv computes its own
thread-count-independent factorisation in float64 and casts once. What it measures: the price of
that reproducibility against LAPACK's QR, and that bfloat16 works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils import benchmark

import initconv

SHAPES = ((512, 512, 3, 3), (2048, 512, 1, 1), (512, 2048, 1, 1), (1024, 1024, 3, 3))
DTYPES = (torch.float32, torch.bfloat16)


def _time(fn: Any, weight: torch.Tensor, min_run_time: float) -> dict[str, float] | str:
    try:
        fn(weight)
    except Exception as error:  # torch's bfloat16 QR: NotImplementedError
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    timer = benchmark.Timer(
        stmt="fn(weight)",
        globals={"fn": fn, "weight": weight},
        num_threads=torch.get_num_threads(),
    )
    m = timer.blocked_autorange(min_run_time=min_run_time)
    return {"median": m.median, "q25": m._p25, "q75": m._p75, "runs": len(m.times)}


def run(quick: bool) -> tuple[dict[str, Any], str]:
    shapes = SHAPES[:1] if quick else SHAPES
    min_run_time = 0.2 if quick else 3.0
    rows: list[dict[str, Any]] = []
    for shape in shapes:
        for dtype in DTYPES:
            weight = torch.empty(shape, dtype=dtype)
            ours = _time(initconv.orthogonal_, weight, min_run_time)
            theirs = _time(torch.nn.init.orthogonal_, weight, min_run_time)
            rows.append(
                {"shape": list(shape), "dtype": str(dtype), "initconv": ours, "torch": theirs}
            )
    lines = [
        "Median ms [IQR] per call, `python -m benchmarks orthogonal`:",
        "",
        "| weight | dtype | initconv.orthogonal_ | torch.nn.init.orthogonal_ | torch / initconv |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for key in ("initconv", "torch"):
            s = row[key]
            cells.append(
                s
                if isinstance(s, str)
                else f"{s['median'] * 1e3:.1f} [{s['q25'] * 1e3:.1f}, {s['q75'] * 1e3:.1f}]"
            )
        ours, theirs = row["initconv"], row["torch"]
        ratio = (
            f"{theirs['median'] / ours['median']:.2f}"
            if isinstance(ours, dict) and isinstance(theirs, dict)
            else "-"
        )
        shape = "x".join(map(str, row["shape"]))
        dtype = row["dtype"].removeprefix("torch.")
        lines.append(f"| {shape} | {dtype} | {cells[0]} | {cells[1]} | {ratio} |")
    return {"rows": rows}, "\n".join(lines)
