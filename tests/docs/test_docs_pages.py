"""Every Python block of docs/*.md runs, in order, one namespace per page, and prints what the page
shows (the conventions are in tests/_markdown.py).

A page runs in a temporary directory, so a block that writes files leaves nothing behind, and the
schemes and activations it registers are removed afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _markdown import blocks, run

from initconv import _activations

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_python_block_of_the_page_runs_and_prints_what_it_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_schemes: None
) -> None:
    monkeypatch.setattr(_activations, "_REGISTERED", dict(_activations._REGISTERED))
    monkeypatch.chdir(tmp_path)
    run(page, {"__name__": f"docs_{page.stem}"})


def test_a_skipped_block_must_say_why_and_an_output_block_belongs_to_the_block_before() -> None:
    text = (
        "<!-- example: a -->\n<!-- not run: a test file -->\n```python\nz = 3\n```\n"
        "```python\nprint(1)\n```\n<!-- output -->\n```text\n1\n```\n"
    )
    first, second = blocks(text)
    assert (first.code, first.not_run, first.label) == ("z = 3\n", "a test file", "a")
    assert (second.code, second.not_run, second.output) == ("print(1)\n", None, "1\n")
