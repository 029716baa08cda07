"""The mechanical mutation run's set-up: its modules and test files exist, its sample is the same
for the same seed, and its Clopper-Pearson bound is the known one.

A module moved or a test file renamed would leave the run mutating a file nobody tests, or running
pytest on a path that is gone; these fail first, naming the path.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import mutation_mechanical as mechanical  # noqa: E402

MATHS_RULE_KIT = (
    *(f"initconv/_maths/{name}.py" for name in
      ("fans", "sampling", "derived_gain", "quadrature", "generators", "orthogonality")),
    *(f"initconv/_meanfield/{name}.py" for name in
      ("gaussian", "slopes", "variance_map", "correlation_map", "critical_line", "line_end")),
    *(f"initconv/_inference/{name}.py" for name in ("rule", "roles", "elementwise", "gates")),
    *(f"initconv/testing/{name}.py" for name in ("_laws", "_assertions", "_checks", "_bias")),
)  # fmt: skip


def test_the_run_covers_every_maths_rule_and_kit_module() -> None:
    assert sorted(mechanical.MODULES) == sorted(MATHS_RULE_KIT)


@pytest.mark.parametrize("path", sorted(mechanical.MODULES))
def test_every_module_and_its_test_files_exist(path: str) -> None:
    assert (ROOT / path).is_file(), path
    tests = mechanical.MODULES[path]
    assert tests, f"{path} has no test file"
    for test in tests:
        file, _, name = test.partition("::")
        assert file.startswith("tests/"), f"{path}: {file} is outside tests/"
        assert (ROOT / file).is_file(), f"{path}: {file} is gone"
        if name:  # a test id: the test is still defined in its file
            text = (ROOT / file).read_text(encoding="utf-8")
            assert f"def {name}(" in text, f"{path}: {test} is gone"


def test_every_equivalent_entry_names_a_site() -> None:
    every = [s for p in mechanical.MODULES for s in mechanical.sites(p)]
    keys = {(s.path, s.line, s.old, s.new) for s in every}
    keys |= {(s.path, s.line, s.old, s.new, s.column) for s in every}
    stale = [key for key in mechanical.EQUIVALENT if key not in keys]
    assert not stale, f"EQUIVALENT entries that match no site: {stale}"


def test_a_sample_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    modules = ["initconv/_maths/fans.py", "initconv/_maths/sampling.py"]
    first, unrun = mechanical.choose(modules, sample=10, seed=3)
    again, _ = mechanical.choose(modules, sample=10, seed=3)
    other, _ = mechanical.choose(modules, sample=10, seed=4)
    assert first == again
    assert first != other  # 10 of 47 sites: two seeds drawing the same set has p ~ 1e-10
    assert len(set(first)) == 10  # without replacement
    every = [site for path in modules for site in mechanical.sites(path)]
    assert first == [site for site in every if site in first]  # module, then source order
    assert sum(unrun.values()) == len(every) - 10


def test_no_sample_is_every_site_and_a_bad_sample_is_refused() -> None:
    picked, unrun = mechanical.choose(["initconv/_maths/fans.py"])
    assert picked == mechanical.sites("initconv/_maths/fans.py")
    assert unrun == {"initconv/_maths/fans.py": 0}
    with pytest.raises(ValueError, match=r"sample must be in 1\.\.6"):
        mechanical.choose(["initconv/_maths/fans.py"], sample=7)
    with pytest.raises(ValueError, match="modules must be among"):
        mechanical.choose(["initconv/nope.py"])


def test_the_lower_bound_is_clopper_pearsons() -> None:
    # no survivor in 60: 0.05 ** (1 / 60)
    assert mechanical.clopper_pearson_lower(60, 60) == pytest.approx(0.95130, abs=1e-5)
    assert mechanical.clopper_pearson_lower(0, 10) == 0.0
    # one kill in one: 0.05; and Beta(0.05; k, n - k + 1) at k = 95, n = 100, from scipy
    assert mechanical.clopper_pearson_lower(1, 1) == pytest.approx(0.05, abs=1e-9)
    stats = pytest.importorskip("scipy.stats")
    expected = stats.beta.ppf(0.05, 95, 6)
    assert mechanical.clopper_pearson_lower(95, 100) == pytest.approx(expected, abs=1e-9)


def test_the_report_leaves_equivalent_mutants_out_of_the_ratio_and_lists_survivors() -> None:
    path = "initconv/_maths/fans.py"
    sites = mechanical.sites(path)[:3]

    def row(site: mechanical.Site, status: str, equivalent: str | None) -> dict[str, object]:
        return {"path": site.path, "line": site.line, "old": site.old, "new": site.new,
                "status": status, "killed_by": "", "equivalent": equivalent, "seconds": 2.0,
                "cpu_seconds": 1.0}  # fmt: skip

    rows = [row(sites[0], "killed", None), row(sites[1], "survived", None),
            row(sites[2], "survived", "a reason")]  # fmt: skip
    data, markdown = mechanical._report([path], rows, {path: 3}, {}, None, 0, 2)  # type: ignore[arg-type]
    assert (data["killed"], data["non_equivalent"]) == (1, 2)
    assert data["by_module"][path] == {
        "run": 3, "killed": 1, "survived": 1, "equivalent": 1, "errors": 0
    }  # fmt: skip
    s = sites[1]
    assert f"- {path}:{s.line} `{s.old}` -> `{s.new}`" in markdown
    assert "a reason" in markdown
    assert "Per mutant: 2.0 s wall, 1.0 s CPU" in markdown


def test_a_survivor_is_found_again_by_its_line_and_column_or_reported_moved() -> None:
    # current_site(row, then): row is a mutant of the file that read ``then``; it is looked up
    # in the file as it stands.
    path = "initconv/_maths/orthogonality.py"
    text = (mechanical.mutation.ROOT / path).read_text(encoding="utf-8")
    every = mechanical.sites(path)
    # A line holding the same operator twice: each mutant finds itself, not its twin.
    line = next(
        s.line for s in every if sum(t.line == s.line and t.old == s.old for t in every) > 1
    )
    lines = text.splitlines(keepends=True)
    removed = len((lines[1] + lines[2]).encode("utf-8"))
    earlier = "".join(lines[:1] + lines[3:])  # the file before two lines were added near its top
    for site in (s for s in every if s.line == line):
        row = dataclasses.asdict(site)
        assert mechanical.current_site(row, text) == site
        moved = {**row, "line": site.line - 2, "start": site.start - removed}
        assert mechanical.current_site(moved, earlier) == site
        # A line whose text has changed since is not found again.
        other = "".join(
            [*lines[: line - 1], lines[line - 1].rstrip("\n") + "  # x\n", *lines[line:]]
        )
        assert mechanical.current_site(row, other) is None
