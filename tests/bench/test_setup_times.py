"""benchmarks/setup_times.py times what the README's quick start says to type: the commands it
reads are that block's, split at ``&&``, without the online-only line (b)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import setup_times  # noqa: E402


def test_the_timed_commands_are_the_readmes_quick_start_in_order() -> None:
    steps = setup_times.commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert steps == [
        "python -m pip install torch==2.13.0",
        'python -m pip install -e ".[demo]"',
        "python -m initconv demo --quick",
        'python -m pip install -e ".[test]"',
        "python -m pytest",
        "python -m initconv demo",
    ]


def test_quick_mode_lists_the_commands_without_running_them() -> None:
    data, markdown = setup_times.run(True)
    assert data["rows"] == []
    assert "| `python -m pytest` | - | - |" in markdown
