"""How long a new user's set-up takes: the README's quick-start commands, run as written, in a
fresh clone and a fresh virtual environment.

``python -m benchmarks setup_times`` (only when named) clones this repository's HEAD into a
temporary folder, makes a virtual environment there with this interpreter, and runs in the clone,
one after the other, each part of the README quick start's commands (the torch line (a), then
both halves of the demo line and of the test line), then the full ``python -m initconv demo``.
Line (b) needs download.pytorch.org and is not run. Each part is timed by the wall clock and by
the CPU time of its processes. The numbers need an idle machine: the metadata has the load.
``--quick`` only reads the commands from the README.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FULL_DEMO = "python -m initconv demo"


def commands(readme: str) -> list[str]:
    """The parts of the README quick start's commands a new user runs on this machine, in order:
    line (a), then each ``&&``-joined part of the lines after (b), then the full demo."""
    section = readme.split("\n## Quick start\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    parts: list[str] = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or "--index-url" in command:
            continue
        parts += [part.strip() for part in command.split("&&")]
    return [*parts, FULL_DEMO]


def _time(command: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{command!r} failed ({done.returncode}):\n{output}")
    return {"command": command, "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}


def run(quick: bool) -> tuple[dict[str, Any], str]:
    steps = commands((ROOT / "README.md").read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = []
    if not quick:
        folder = Path(tempfile.mkdtemp(prefix="initconv-setup-"))
        try:
            clone = folder / "initconv"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            venv = folder / "venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            env = {**os.environ, "VIRTUAL_ENV": str(venv)}
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
            env.pop("PYTHONPATH", None)
            for step in steps:
                rows.append(_time(step, clone, env))
                print(f"{step}: {rows[-1]['seconds']} s", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "The README's set-up, run as written in a fresh clone and virtual environment "
        "(`python -m benchmarks setup_times`):",
        "",
        "| command | wall s | CPU s |",
        "|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| `{row['command']}` | {row['seconds']:.0f} | {row['cpu_seconds']:.0f} |")
    if not rows:
        lines += [f"| `{step}` | - | - |" for step in steps]
    return {"commands": steps, "rows": rows}, "\n".join(lines)
