"""The mutation set of ``benchmarks/mutation.py`` still applies to the code it mutates.

Each mutant replaces one exact piece of text; when the code around it is rewritten, the text is
gone and the mutant could no longer be planted, so the kill ratio the README reports would be
measured on fewer defects than it says. This fails first, naming the mutant to rewrite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import mutation  # noqa: E402


def test_every_mutant_finds_its_text_exactly_once() -> None:
    mutation.check_mutants(ROOT)


def test_a_mutant_whose_text_is_gone_is_named(tmp_path: Path) -> None:
    (tmp_path / "initconv").mkdir()
    for mutant in mutation.MUTANTS:
        target = tmp_path / "initconv" / mutant.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / "initconv" / mutant.path).read_text(encoding="utf-8"))
    first = mutation.MUTANTS[0]
    target = tmp_path / "initconv" / first.path
    target.write_text(target.read_text(encoding="utf-8").replace(first.old, "rewritten"))
    with pytest.raises(ValueError, match=f"mutant '{first.name}': its text occurs 0 times"):
        mutation.check_mutants(tmp_path)
