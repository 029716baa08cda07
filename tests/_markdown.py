"""The code blocks of README.md and docs/*.md, and what they say they print.

Conventions, for the tests that run them:

- every ```python block runs, in order, in one namespace per file; a block preceded by
  ``<!-- not run: <reason> -->`` is skipped, and the reason is required;
- a ```text block preceded by ``<!-- output -->`` is exactly what the Python block before it
  printed;
- ``<!-- example: <label> -->`` names a block, for a test that reads it on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from pathlib import Path

_BLOCK = re.compile(
    r"(?P<comments>(?:<!--[^>]*-->\s*)*)```(?P<language>python|text)\n(?P<code>.*?)```", re.S
)
_NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]+?) -->")
_LABEL = re.compile(r"<!-- example: (?P<label>[^>]+?) -->")


@dataclasses.dataclass
class Block:
    """A Python block: its code, why it is not run (``None``: it runs), its label, and the output
    the page shows for it (``None``: none shown)."""

    code: str
    not_run: str | None = None
    label: str | None = None
    output: str | None = None


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    for match in _BLOCK.finditer(text):
        comments = match["comments"]
        if match["language"] == "text":
            if "<!-- output -->" in comments:
                if not found:
                    raise ValueError("an output block with no Python block before it")
                found[-1].output = match["code"]
            continue
        not_run = _NOT_RUN.search(comments)
        label = _LABEL.search(comments)
        found.append(
            Block(
                match["code"],
                None if not_run is None else not_run["reason"],
                None if label is None else label["label"],
            )
        )
    return found


def example(path: Path, label: str) -> str:
    """The code of the block labelled ``label`` in ``path``."""
    for block in blocks(path.read_text(encoding="utf-8")):
        if block.label == label:
            return block.code
    raise AssertionError(f"{path.name} has no example labelled {label!r}")


def run(path: Path, namespace: dict[str, object]) -> None:
    """Run every block of ``path`` that runs; each shown output must be what its block printed."""
    for index, block in enumerate(blocks(path.read_text(encoding="utf-8"))):
        if block.not_run is not None:
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block.code, f"{path.name}[block {index}]", "exec"), namespace)
        if block.output is not None:
            assert printed.getvalue() == block.output, (
                f"{path.name} block {index} printed\n{printed.getvalue()}\nbut the page shows\n"
                f"{block.output}"
            )
