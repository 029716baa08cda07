"""Every Python code block in docs/*.md runs, in order, one namespace per page.

A block preceded by ``<!-- not run: <reason> -->`` is skipped (a recipe that needs several
processes, a GPU, or a download); the reason is required, so no block is skipped silently. A page
runs in a temporary directory, so a block that writes files leaves nothing behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(<!-- not run: (?P<reason>[^>]+?) -->\s*)?```python\n(?P<code>.*?)```", re.S)


def python_blocks(text: str) -> list[tuple[str, str | None]]:
    """The page's Python blocks, each with the reason it is not run (``None``: it runs)."""
    return [(match["code"], match["reason"]) for match in _BLOCK.finditer(text)]


PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_python_block_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for index, (code, reason) in enumerate(python_blocks(page.read_text(encoding="utf-8"))):
        if reason is not None:
            continue
        exec(compile(code, f"{page.name}[block {index}]", "exec"), namespace)


def test_a_skipped_block_must_say_why() -> None:
    blocks = python_blocks("<!-- not run: needs two processes -->\n```python\nx = 1\n```\n")
    assert blocks == [("x = 1\n", "needs two processes")]
    assert python_blocks("```python\ny = 2\n```") == [("y = 2\n", None)]
