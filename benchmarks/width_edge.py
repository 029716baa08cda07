"""Why µP's divergence edge moves with width on the width benchmark's CNN: its failed runs are
ReLU layers that died whole, and a wider layer dies whole only at a larger rate.

Under µP a unit's training dynamics do not depend on the width (Yang, G. et al. (2022), "Tensor
Programs V"), so neither does the chance that a unit dies (is positive for no input). A run fails
(ends no better than a uniform guess) when every channel of some layer has died: with a fraction
``a`` of a layer's ``w`` channels alive, about ``a w`` survive, and a layer of 16 channels is empty
long before one of 256 is. The edge the width benchmark measures is then a finite-width effect
that moves toward larger rates as the width grows, even where the fraction alive is the same at
every width.

For the width benchmark's CNN under µP (base width 16, the base trained as SP, which is the same
model) at the rates around the edge, each run records at its end the fraction of each ReLU's
channels alive on the first 512 digits (``benchmarks.width.alive``). Per width and rate: the median
loss over the seeds, how many seeds failed, the median fraction alive per layer, and the median
number of the fewest-alive layer's channels that survive; and over all runs, how the failed ones
split between runs with and without an empty layer.
"""

from __future__ import annotations

import math
import resource
import statistics
from typing import Any

from benchmarks import width

THREADS = 1
RATES = tuple(2.0**k for k in range(-5, 0))
QUICK: dict[str, Any] = {
    "network": "cnn",
    "widths": (16, 32),
    "rates": (2.0**-3, 2.0**-1),
    "seeds": (0,),
    "steps": 12,
}
FULL: dict[str, Any] = {
    "network": "cnn",
    "widths": width.WIDTHS,
    "rates": RATES,
    "seeds": width.SEEDS,
    "steps": width.STEPS,
}


DESCRIPTION = {
    "cnn": "The width benchmark's CNN",
    "cnn_bn": "The width benchmark's CNN with a BatchNorm before each ReLU",
}


def _jobs(config: dict[str, Any]) -> list[width.Job]:
    base = config["widths"][0]
    return [
        (config["network"], "SP" if size == base else "µP", size, base, rate, seed, config["steps"])
        for size in config["widths"]
        for rate in config["rates"]
        for seed in config["seeds"]
    ]


def _failed(run: dict[str, Any]) -> bool:
    return not math.isfinite(run["loss"]) or run["loss"] >= width.FAILED


def _survivors(run: dict[str, Any]) -> int:
    """The channels alive in the layer with the fewest."""
    return round(min(run["alive"]) * run["size"])


def table(runs: list[dict[str, Any]], config: dict[str, Any]) -> str:
    layers = len(runs[0]["alive"])
    lines = [
        "| width | rate | median loss | failed seeds | alive per ReLU (median) "
        "| fewest channels alive (median) |",
        "|---|---|---|---|---|---|",
    ]
    for size in config["widths"]:
        for rate in config["rates"]:
            chosen = [r for r in runs if r["size"] == size and r["rate"] == rate]
            fractions = ", ".join(
                f"{statistics.median(r['alive'][i] for r in chosen):.2f}" for i in range(layers)
            )
            lines.append(
                f"| {size} | 2^{round(math.log2(rate))} | "
                f"{statistics.median(r['loss'] for r in chosen):.3f} | "
                f"{sum(map(_failed, chosen))} of {len(chosen)} | {fractions} | "
                f"{statistics.median(map(_survivors, chosen)):g} |"
            )
    return "\n".join(lines)


def split(runs: list[dict[str, Any]]) -> dict[str, int]:
    """The runs counted by failed or not and by whether a layer has no channel alive."""
    counts = {"failed, a layer empty": 0, "failed, none empty": 0,
              "trained, a layer empty": 0, "trained, none empty": 0}  # fmt: skip
    for run in runs:
        outcome = "failed" if _failed(run) else "trained"
        empty = "a layer empty" if _survivors(run) == 0 else "none empty"
        counts[f"{outcome}, {empty}"] += 1
    return counts


def run(
    quick: bool, config: dict[str, Any] | None = None, name: str = "width_edge"
) -> tuple[dict[str, Any], str]:
    chosen = config if config is not None else (QUICK if quick else FULL)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = width.sweep(_jobs(chosen))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    runs.sort(key=lambda r: (r["size"], r["rate"], r["seed"]))
    counts = split(runs)
    markdown = "\n".join(
        [
            f"{DESCRIPTION[chosen['network']]} under µP (base width {chosen['widths'][0]}) near "
            f"its divergence edge: Adam, {chosen['steps']} steps of batch {width.BATCH} on "
            f"digits, seeds {list(chosen['seeds'])}; a channel is alive if positive for at least "
            f"one of the first {width.ALIVE_INPUTS} digits (`python -m benchmarks {name}`).",
            "",
            table(runs, chosen),
            "",
            "All runs: " + "; ".join(f"{key}: {value}" for key, value in counts.items()) + ".",
            "",
            f"Workers' CPU time: {cpu:.0f} s over {len(runs)} runs.",
        ]
    )
    data = width._json_safe(
        {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in chosen.items()},
            "cpu_seconds": round(cpu, 1),
            "split": counts,
            "runs": runs,
        }
    )
    return data, markdown
