"""The code blocks of README.md and docs/*.md, and what they say they print.

Conventions, for the tests that run them:

- every ```python block runs alone, as a reader who copies only that block runs it: in a namespace
  of its own, with the schemes and activations it registers and the modules it imports from the
  page's files removed afterwards, so each block carries its own imports and definitions;
- a block preceded by ``<!-- not run: <reason> -->`` is skipped, and the reason is required;
- a block preceded by ``<!-- slow: <reason> -->`` runs only in the slow suite;
- a block preceded by ``<!-- file: NAME.py -->`` is also written to NAME.py in the current folder
  (the tests run a page in a temporary one), where later blocks of the page import it from, as a
  reader saves it there;
- a ```text block preceded by ``<!-- output -->`` is exactly what the Python block before it
  printed;
- ``<!-- example: <label> -->`` names a block, for a test that reads it on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

import initconv
from initconv import _activations
from initconv._schemes.base import restore_registry

_BLOCK = re.compile(
    r"(?P<comments>(?:<!--[^>]*-->\s*)*)```(?P<language>python|text)\n(?P<code>.*?)```", re.S
)
_NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]+?) -->")
_LABEL = re.compile(r"<!-- example: (?P<label>[^>]+?) -->")
_SLOW = re.compile(r"<!-- slow: (?P<reason>[^>]+?) -->")
_FILE = re.compile(r"<!-- file: (?P<file>[\w/]+\.py) -->")


@dataclasses.dataclass
class Block:
    """A Python block: its code, why it is not run (``None``: it runs), its label, the output the
    page shows for it (``None``: none shown), the file it is saved as (``None``: none) and why
    it runs only in the slow suite (``None``: it runs in the default one)."""

    code: str
    not_run: str | None = None
    label: str | None = None
    output: str | None = None
    file: str | None = None
    slow: str | None = None


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
        file = _FILE.search(comments)
        slow = _SLOW.search(comments)
        found.append(
            Block(
                match["code"],
                not_run=None if not_run is None else not_run["reason"],
                label=None if label is None else label["label"],
                file=None if file is None else file["file"],
                slow=None if slow is None else slow["reason"],
            )
        )
    return found


def example(path: Path, label: str) -> str:
    """The code of the block labelled ``label`` in ``path``."""
    for block in blocks(path.read_text(encoding="utf-8")):
        if block.label == label:
            return block.code
    raise AssertionError(f"{path.name} has no example labelled {label!r}")


@contextlib.contextmanager
def _alone(modules: set[str]) -> Iterator[None]:
    """As if in a fresh interpreter: the registries, torch's global RNG and the page's own
    modules are as they were before, once the block has run. One torch thread: the examples' small
    tensors gain nothing from a second, which on a busy machine spends its time waiting."""
    schemes = initconv.schemes()
    registered = dict(_activations._REGISTERED)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            yield
    finally:
        torch.set_num_threads(threads)
        restore_registry(schemes)
        _activations._REGISTERED.clear()
        _activations._REGISTERED.update(registered)
        for name in modules:
            sys.modules.pop(name, None)


def run(path: Path, *, slow: bool = False) -> dict[str, dict[str, object]]:
    """Run every block of ``path`` that runs (the slow ones too if ``slow``), each alone (the module
    docstring says how), in the current folder; each shown output must be what its block printed.
    Returns the namespace each block left, by its label (or ``"block N"``)."""
    folder = Path.cwd()
    modules: set[str] = set()
    namespaces: dict[str, dict[str, object]] = {}
    sys.path.insert(0, str(folder))
    try:
        for index, block in enumerate(blocks(path.read_text(encoding="utf-8"))):
            if block.file is not None:
                (folder / block.file).parent.mkdir(parents=True, exist_ok=True)
                (folder / block.file).write_text(block.code, encoding="utf-8")
                modules.add(block.file.removesuffix(".py").replace("/", "."))
            if block.not_run is not None or (block.slow is not None and not slow):
                continue
            name = block.label or f"block {index}"
            namespace: dict[str, object] = {"__name__": f"{path.stem}[{name}]"}
            printed = io.StringIO()
            with _alone(modules), contextlib.redirect_stdout(printed):
                exec(compile(block.code, f"{path.name}[block {index}]", "exec"), namespace)
            if block.output is not None:
                assert printed.getvalue() == block.output, (
                    f"{path.name} block {index} printed\n{printed.getvalue()}\nbut the page shows\n"
                    f"{block.output}"
                )
            namespaces[name] = namespace
    finally:
        sys.path.remove(str(folder))
    return namespaces
