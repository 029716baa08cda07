"""Mechanical mutants: one per numeric constant, comparison and arithmetic operator of the maths,
rule and kit modules, found with ``ast`` and replaced at its exact source span.

``python -m benchmarks mutation --mechanical [--modules initconv/_maths/fans.py ...] [--limit N]``
plants each mutant in a scratch copy (as ``benchmarks/mutation.py`` does), runs the test files
aimed at its module and writes the kill ratio by module to
``benchmarks/results/mutation_mechanical.md``. Constants c become c + 1 (0 -> 1, 1 -> 2, 2.0 ->
3.0); comparisons swap to their neighbour (< <=, > >=, == !=); arithmetic operators swap within
their family (+ -, * /, // %, **  *). Docstrings and type annotations are left alone.
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
from typing import Any

from benchmarks import mutation

MODULES: dict[str, tuple[str, ...]] = {
    "initconv/_maths/fans.py": (
        "tests/maths/test_fans.py", "tests/maths/test_fans_dilation.py",
        "tests/schemes/test_scheme_properties.py",
    ),
    "initconv/_maths/sampling.py": (
        "tests/maths/test_sampling.py", "tests/maths/test_sampling_reach.py",
        "tests/schemes/test_scheme_properties.py",
    ),
    "initconv/testing/_laws.py": (
        "tests/testing/test_testing_kit.py", "tests/testing/test_variance_about_mean.py",
    ),
    "initconv/testing/_assertions.py": (
        "tests/testing/test_testing_kit.py", "tests/testing/test_variance_about_mean.py",
    ),
    "initconv/_inference/rule.py": ("tests/inference/test_inference_rule.py",),
    "initconv/_inference/roles.py": ("tests/inference/test_inference_rule.py",),
}  # fmt: skip
COMPARE = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "=="}
ARITH = {ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.Div: "*", ast.FloorDiv: "%",
         ast.Mod: "//", ast.Pow: "*"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Site:
    path: str
    line: int
    start: int  # character offset into the file
    end: int
    old: str
    new: str


def _offsets(text: str) -> list[int]:
    starts, total = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(total)
        total += len(line.encode("utf-8"))
    return starts


def _skipped(tree: ast.AST) -> set[int]:
    """ids of nodes inside docstrings and annotations."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            skip.update(id(n) for n in ast.walk(annotation))
    return skip


def sites(path: str) -> list[Site]:
    """Every mutation site of ``path`` (relative to the repository), in source order."""
    text = (mutation.ROOT / path).read_text(encoding="utf-8")
    data = text.encode("utf-8")
    tree = ast.parse(text)
    starts, skip = _offsets(text), _skipped(tree)
    found: list[Site] = []

    def span(node: ast.AST) -> tuple[int, int]:
        return (starts[node.lineno - 1] + node.col_offset,  # type: ignore[attr-defined]
                starts[node.end_lineno - 1] + node.end_col_offset)  # type: ignore[attr-defined]  # fmt: skip

    def operator(left: ast.AST, right: ast.AST, symbol: str, new: str, line: int) -> None:
        # the operator lies between the two operands' spans
        a, b = span(left)[1], span(right)[0]
        gap = data[a:b].decode("utf-8")
        index = gap.find(symbol)
        if index >= 0:
            found.append(Site(path, line, a + index, a + index + len(symbol), symbol, new))

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            value = node.value
            new = repr(value + 1)
            s, e = span(node)
            found.append(Site(path, node.lineno, s, e, data[s:e].decode("utf-8"), new))
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                symbol = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
                          ast.NotEq: "!="}.get(type(op))  # fmt: skip
                if symbol is not None:
                    operator(left, right, symbol, COMPARE[type(op)], node.lineno)
                left = right
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITH:
            symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                      ast.Mod: "%", ast.Pow: "**"}[type(node.op)]  # fmt: skip
            operator(node.left, node.right, symbol, ARITH[type(node.op)], node.lineno)
    # docstrings are Constant str, never numeric: nothing to skip there
    return sorted(found, key=lambda site: site.start)


def _run_site(site: Site, tests: tuple[str, ...]) -> dict[str, Any]:
    scratch = mutation._scratch(None)
    try:
        target = scratch / site.path
        data = target.read_bytes()
        target.write_bytes(data[: site.start] + site.new.encode() + data[site.end :])
        code, output, seconds = mutation._pytest(scratch, tests)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # -1: the mutated copy does not import (a mutant that breaks the import is killed by every test)
    status = {0: "survived", -1: "killed (import)", -2: "killed (timeout)"}.get(code, "killed")
    killer, _ = mutation._first_failure(output)
    return {**dataclasses.asdict(site), "status": status, "killed_by": killer,
            "seconds": round(seconds, 1)}  # fmt: skip


def run(modules: list[str] | None, limit: int | None) -> tuple[dict[str, Any], str]:
    chosen = modules or list(MODULES)
    rows: list[dict[str, Any]] = []
    unrun: dict[str, int] = {}
    for path in chosen:
        every = sites(path)
        picked = every[:limit] if limit else every
        unrun[path] = len(every) - len(picked)
        for index, site in enumerate(picked, 1):
            rows.append(_run_site(site, MODULES[path]))
            print(f"[{path} {index}/{len(picked)}] line {site.line} {site.old} -> {site.new}: "
                  f"{rows[-1]['status']}", flush=True)  # fmt: skip
    lines = ["| module | mutants run | killed | survived | not run |", "|---|---|---|---|---|"]
    for path in chosen:
        mine = [r for r in rows if r["path"] == path]
        killed = sum(r["status"].startswith("killed") for r in mine)
        lines.append(f"| {path} | {len(mine)} | {killed} | {len(mine) - killed} | {unrun[path]} |")
    survivors = [r for r in rows if r["status"] == "survived"]
    if survivors:
        lines += ["", "Survivors:", ""]
        lines += [f"- {r['path']}:{r['line']} `{r['old']}` -> `{r['new']}`" for r in survivors]
    return {"mutants": rows, "not_run": unrun}, "\n".join(lines)
