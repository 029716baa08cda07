"""What every benchmark writes beside its numbers (kornia's benchmarks/README.md convention)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def metadata() -> dict[str, Any]:
    """Commit, torch version, threads and machine, as the README's Results section quotes them."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Changes to the code that measures (not to docs or stored results) mark the commit.
        "dirty": _measuring_code_changed(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "load_average_1min": load,
    }


def _measuring_code_changed() -> bool:
    """Whether the package or the benchmarks differ from the commit (docs and results do not
    count: they do not change what is measured)."""
    paths = (":(top)initconv", ":(top)benchmarks", ":(top,exclude)benchmarks/results")
    return bool(_git("status", "--porcelain", "--untracked-files=no", "--", *paths))


def describe(meta: dict[str, Any]) -> str:
    dirty = "+local changes" if meta["dirty"] else ""
    return (
        f"commit {meta['commit']}{dirty}, torch {meta['torch']}, Python {meta['python']}, "
        f"{meta['threads']} threads on {meta['cpus']} x {meta['cpu']} ({meta['machine']}), "
        f"1-min load average {meta['load_average_1min']:.1f} at the start, {meta['date']}"
    )


def spread(values: Sequence[float], digits: int = 1) -> str:
    """``median [min, max]`` of ``values``; ``-inf``/``inf`` say the signal under- or overflowed."""
    ordered = sorted(values)
    cells = [statistics.median(ordered), ordered[0], ordered[-1]]
    text = [
        f"{v:.{digits}f}" if abs(v) != float("inf") else ("-inf" if v < 0 else "inf") for v in cells
    ]
    return f"{text[0]} [{text[1]}, {text[2]}]"


def write(name: str, meta: dict[str, Any], data: Any, markdown: str) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` (metadata + data) and ``results/<name>.md`` (the table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    json_path.write_text(
        json.dumps({"benchmark": name, "metadata": meta, "results": data}, indent=2) + "\n",
        encoding="utf-8",
    )
    md_path.write_text(f"{markdown.rstrip()}\n\n_{describe(meta)}._\n", encoding="utf-8")
    return json_path, md_path
