"""Every Python block of docs/*.md runs alone, as a reader who copies just that block runs it, and
prints what the page shows (the conventions are in tests/_markdown.py).

A page runs in a temporary directory, so a block that writes files leaves nothing behind, and the
schemes and activations a block registers are removed after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _markdown import blocks, run

import initconv

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
SLOW_PAGES = [
    page for page in PAGES if any(block.slow for block in blocks(page.read_text(encoding="utf-8")))
]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_python_block_of_the_page_runs_alone_and_prints_what_it_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(page)


@pytest.mark.slow
@pytest.mark.parametrize("page", SLOW_PAGES, ids=[page.name for page in SLOW_PAGES])
def test_every_block_of_a_page_with_slow_blocks_runs_alone_and_prints_what_it_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(page, slow=True)


def test_a_skipped_block_must_say_why_and_an_output_block_belongs_to_the_block_before() -> None:
    text = (
        "<!-- example: a -->\n<!-- not run: a test file -->\n```python\nz = 3\n```\n"
        "```python\nprint(1)\n```\n<!-- output -->\n```text\n1\n```\n"
    )
    first, second = blocks(text)
    assert (first.code, first.not_run, first.label) == ("z = 3\n", "a test file", "a")
    assert (second.code, second.not_run, second.output) == ("print(1)\n", None, "1\n")


def test_each_block_runs_alone_and_a_saved_file_is_importable_by_a_later_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n```python\nprint(x)\n```\n", encoding="utf-8")
    with pytest.raises(NameError, match="'x' is not defined"):
        run(page)
    scheme = (
        "import initconv\nimport torch\n\n\n"
        "class Half(initconv.Scheme, scheme='half_for_page'):\n"
        "    def init_weight(self, weight, generator):\n        weight.fill_(0.5)\n\n"
        "    def expected_variance(self):\n        return 0.0\n"
    )
    page.write_text(
        f"<!-- file: page_schemes.py -->\n```python\n{scheme}```\n"
        "```python\nimport initconv\nfrom page_schemes import Half\n\n"
        "print(initconv.linear('half_for_page', 2, 2).weight.sum().item())\n```\n"
        "<!-- output -->\n```text\n2.0\n```\n",
        encoding="utf-8",
    )
    run(page)  # the file block registers the name, and then the import does, as in two processes
    assert "page_schemes" not in sys.modules
    assert "half_for_page" not in initconv.schemes()
