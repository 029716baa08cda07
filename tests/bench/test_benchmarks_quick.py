"""Every benchmark of ``python -m benchmarks`` runs in its quick mode and prints a table.

The benchmarks reach into initconv's private modules for the quantities they measure, so a
refactor can break them without breaking a unit test; this catches that before a results table
is regenerated. Slow: the quick modes still train, time and spawn processes.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# zoo needs timm; mutation copies the repository and runs the suite per mutant.
QUICK = (
    "construction",
    "orthogonal",
    "propagation",
    "training",
    "pathological",
    "width",
    "width_edge",
    "width_edge_bn",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_the_benchmark_runs_in_quick_mode_and_prints_a_table(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    data, markdown = module.run(True)
    assert data
    assert "\n|---|" in markdown
