"""Totals of a zoo result file by library: ``python -m benchmarks.zoo_summary zoo_hf``.

Reads ``benchmarks/results/<name>.json`` and prints, per group of models (transformers,
diffusers, torchvision for zoo_hf; timm for zoo), the converted layers, the fallbacks without an
input and with example_inputs, and the silently wrong rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

_DIFFUSERS = ("unet", "autoencoder", "vq model", "dit")


def group(name: str, benchmark: str) -> str:
    if benchmark == "zoo":
        return "timm"
    if name.startswith("tv "):
        return "torchvision"
    return "diffusers" if name.startswith(_DIFFUSERS) else "transformers"


def main(name: str) -> None:
    path = Path(__file__).resolve().parent / "results" / f"{name}.json"
    rows = json.loads(path.read_text(encoding="utf-8"))["results"]
    totals: dict[str, list[int]] = {}
    for row in rows:
        if "crash" in row:
            continue
        t = totals.setdefault(group(row["model"], name), [0, 0, 0, 0, 0, 0, 0])
        s, r = row["symbolic"], row["run"]
        t[0] += 1
        t[1] += row["converted"]
        t[2] += s["fallback"]
        t[3] += r["fallback"]
        t[4] += s["silently_wrong"] + s["decided_undecidable"]
        t[5] += r["silently_wrong"] + r["decided_undecidable"]
        t[6] += row["undecided_truth"]
    print(
        "| models | converted | fallbacks without an input | fallbacks with example_inputs | "
        "layers whose truth is undecided | silently wrong (without / with) |"
    )
    print("|---|---|---|---|---|---|")
    for key, (models, conv, fs, fr, ws, wr, und) in totals.items():
        print(
            f"| {key} ({models}) | {conv} | {fs} ({fs / conv:.1%}) | {fr} ({fr / conv:.1%}) | "
            f"{und} | {ws} / {wr} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "zoo_hf")
