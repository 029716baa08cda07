"""Mutation testing of the default suite: plant 37 defects in initconv's maths one at a time and
count how many the tests kill.

Each mutant replaces one exact piece of initconv's source (found exactly once, or the run stops
naming the mutant) in a scratch copy of the repository (``initconv/``, ``tests/``, ``docs/``,
``examples/``, ``README.md``, ``pyproject.toml``, ``setup.cfg``) in a temporary directory; the
worktree's own files are never touched. ``python -m pytest -x -m "not slow"`` then runs in that
directory, so ``import initconv`` finds the copy (each run checks it first), with the Hypothesis
``ci`` profile (derandomized: the same examples every run) and only the test files aimed at the
mutant, which keeps the whole run tractable on two cores. The unmutated copy must pass every
selected file first. A mutant is killed when pytest fails, and survives when it passes; an
equivalent mutant behaves exactly like the original, so no test can kill it: each is named with
its argument and left out of the kill ratio.

The set is a review's list of plausible defects (variance off by 5%, bounds 3% wide,
gains ignoring a slope, fans ignoring groups, the truncation correction dropped, delta-orthogonal
off-centre, ICNR tiling instead of interleaving, seeds ignored, LSUV replay without its scale,
per-shard draws, module_seed's byte order, ...), written against the current code. ``gap`` names
the weakness of the suite a mutant probes; for those, the selected tests are the ones written to
close it, so a kill shows that they do.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("initconv", "tests", "docs", "examples", "README.md", "pyproject.toml", "setup.cfg")
TIMEOUT = 1800  # seconds per mutant; a run that hangs counts as killed, and is marked so

PROPERTIES = "tests/schemes/test_scheme_properties.py"
TRUNCATED = (
    f"{PROPERTIES}::test_the_truncated_normal_variance_is_held_to_one_percent_at_alpha_check"
)
PINNED = "tests/model/test_seeding_pinned.py"
APART = f"{PROPERTIES}::test_every_group_of_a_structured_random_layer_is_drawn_apart_and_keeps_its_invariant"

THEORY = "theory checks itself"
GROUPS = "groups told apart"
OPTIONS = "bias_init and options drawn"
SEEDS = "seeds pinned"
POWER = "power"
OTHER = "-"


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One planted defect: ``old`` becomes ``new`` in ``initconv/<path>``."""

    name: str
    gap: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...] = (PROPERTIES,)
    equivalent: str | None = None  # why no test can kill it


def _m(name: str, gap: str, path: str, old: str, new: str, *tests: str) -> Mutant:
    return Mutant(name, gap, path, old, new, tests or (PROPERTIES,))


MUTANTS: tuple[Mutant, ...] = (
    # The theory and the draw share a helper or an attribute, so the layer's own theory follows the
    # defect; the reference in tests/_reference_theory.py does not.
    _m("fan_in ignores groups", THEORY, "_maths/fans.py",
       "fan_in = layer.in_channels // layer.groups * taps", "fan_in = layer.in_channels * taps"),
    _m("fan_out ignores groups", THEORY, "_maths/fans.py",
       "fan_out = layer.out_channels // layer.groups * taps", "fan_out = layer.out_channels * taps"),
    _m("transposed fan_in not stride-aware", THEORY, "_maths/fans.py",
       "return fan_in / math.prod(layer.stride), float(fan_out)",
       "return float(fan_in), float(fan_out)"),
    _m("transposed fans swapped as torch does", THEORY, "_maths/fans.py",
       "return fan_in / math.prod(layer.stride), float(fan_out)",
       "return float(fan_out), float(fan_in)"),
    _m("delta-orthogonal off-centre (k // 2)", THEORY, "_schemes/functional.py",
       "return tuple((k - 1) // 2 for k in kernel_size)", "return tuple(k // 2 for k in kernel_size)"),
    _m("kaiming mode ignored", THEORY, "_schemes/iid.py",
       'self.mode = check_choice("mode", mode, ("fan_in", "fan_out"))',
       'self.mode = check_choice("mode", mode, ("fan_in", "fan_out")) and "fan_in"'),
    _m("variance_scaling scale ignored", THEORY, "_schemes/iid.py",
       'self.scale = check_nonnegative("scale", scale)',
       'self.scale = check_nonnegative("scale", scale) and 1.0'),
    _m("ICNR base_options dropped", THEORY, "_schemes/structured.py",
       "options = _base_options(base, self.base_options) or {}", "options = {}"),
    _m("ICNR sub-kernel built with every output", THEORY, "_schemes/structured.py",
       "sub = out_channels // self._repeats()", "sub = out_channels"),
    _m("ICNR repeats r^2 in every dimension", THEORY, "_schemes/structured.py",
       "return icnr_repeats(self.upscale_factor, len(self.layout.kernel_size))",
       "return icnr_repeats(self.upscale_factor, 2)"),
    _m("identity_gain ignored", THEORY, "_schemes/structured.py",
       "            self.gain = identity_gain\n", "            pass\n"),
    _m("torch_default theory with initconv's fans", THEORY, "_schemes/iid.py",
       "return 1 / (3 * weight_fans(self.weight)[0])", "return 1 / (3 * self.fan_in)"),
    # Groups told apart.
    _m("grouped orthogonal repeats one block", GROUPS, "_schemes/functional.py",
       "        for g in range(groups):\n"
       "            out[g].copy_(orthogonal_matrix(rows, cols, dtype, tensor.device, generator)"
       ".mul_(gain))\n",
       "        block = orthogonal_matrix(rows, cols, dtype, tensor.device, generator).mul_(gain)\n"
       "        for g in range(groups):\n"
       "            out[g].copy_(block)\n", APART),
    _m("grouped delta-orthogonal repeats one block", GROUPS, "_schemes/functional.py",
       "blocks = [orthogonal_matrix(rows, cols, dtype, tensor.device, generator) for _ in range("
       "groups)]",
       "blocks = [orthogonal_matrix(rows, cols, dtype, tensor.device, generator)] * groups", APART),
    # Options and bias_init that the strategies did not draw.
    _m("ICNR bias drawn per channel", OPTIONS, "_schemes/structured.py",
       "        super().init_bias(sub, generator)\n        bias.copy_(sub.repeat_interleave(repeats))\n",
       "        super().init_bias(bias, generator)\n"),
    _m("torch bias bound from the weight's fan_out", OPTIONS, "_schemes/bias.py",
       "fan_in = weight_fans(weight)[0]", "fan_in = weight_fans(weight)[1]"),
    _m("uniform low ignored", OPTIONS, "_schemes/iid.py",
       "weight.uniform_(low, high, generator=generator)",
       "weight.uniform_(0.0, high, generator=generator)"),
    _m("normal mean ignored", OPTIONS, "_schemes/iid.py",
       "draw_normal_(weight, mean, std, generator)",
       "draw_normal_(weight, 0.0, std, generator)"),
    _m("variance_scaling scale ignored by the draw", OPTIONS, "_schemes/iid.py",
       "gain = self.gain if scale == 1.0 else self.gain * math.sqrt(scale)",
       "gain = self.gain"),
    # Seeds.
    _m("module_seed reads its digest big-endian", SEEDS, "_model/seeding.py",
       'return int.from_bytes(digest, "little")', 'return int.from_bytes(digest, "big")', PINNED),
    _m("module_seed keys the hash big-endian", SEEDS, "_model/seeding.py",
       'key=checked.to_bytes(8, "little")', 'key=checked.to_bytes(8, "big")', PINNED),
    _m("seed_modules seeds by position, not name", SEEDS, "_model/seeding.py",
       "return {name: module_seed(seed, name) for name in names}",
       "return {name: module_seed(seed, str(i)) for i, name in enumerate(names)}", PINNED),
    # Power: errors of 1-2% in the truncated normal.
    _m("truncated normal redraws once only (+1.3%)", POWER, "_maths/sampling.py",
       "outside = outside[fresh.to(dtype).abs() > bound]", "outside = outside[:0]", TRUNCATED),
    _m("truncated normal cut at 2.05 sigma (+2.3%)", POWER, "_maths/sampling.py",
       "bound = _largest_at_most(2.0 * sigma, dtype)",
       "bound = _largest_at_most(2.05 * sigma, dtype)", TRUNCATED),
    # The rest of the review's list.
    _m("variance 5% high", OTHER, "_schemes/iid.py",
       "return std_for(gain, self.fan_in, self.fan_out, self.mode)",
       "return 1.025 * std_for(gain, self.fan_in, self.fan_out, self.mode)"),
    _m("uniform bounds 3% wide", OTHER, "_maths/sampling.py",
       "bound = math.sqrt(3.0) * std", "bound = 1.03 * math.sqrt(3.0) * std"),
    _m("leaky_relu gain ignores its slope", OTHER, "_activations.py",
       "return math.sqrt(2.0 / (1 + negative_slope**2))", "return math.sqrt(2.0)"),
    _m("truncation correction dropped", OTHER, "_maths/sampling.py",
       "truncated_normal_(tensor, std / TRUNCATED_NORMAL_STD, generator)",
       "truncated_normal_(tensor, std, generator)"),
    _m("xavier fan_avg not halved", OTHER, "_maths/sampling.py",
       "return gain * math.sqrt(2.0 / float(fan_in + fan_out))",
       "return gain * math.sqrt(1.0 / float(fan_in + fan_out))"),
    _m("ICNR tiles instead of interleaving", OTHER, "_schemes/functional.py",
       "tensor.copy_(sub.repeat_interleave(repeats, dim=0))",
       "tensor.copy_(sub.repeat(repeats, *([1] * (sub.dim() - 1))))"),
    _m("seeds ignored", OTHER, "_layers/base.py",
       "        if seed is None or device.type == \"meta\":\n            return None\n",
       "        return None\n"),
    _m("LSUV replay without its scale", OTHER, "_layers/base.py",
       "_scaled(draw.init_weight, calibration.scale)", "_scaled(draw.init_weight, 1.0)",
       "tests/model/test_lsuv.py"),
    _m("LSUV replay ignores its base scheme", OTHER, "_layers/base.py",
       "if calibration.base is not None and calibration.base != self.scheme:", "if False:",
       "tests/model/test_lsuv.py"),
    _m("per-shard draws", OTHER, "_layers/sharding.py",
       "    return distribute_tensor(full, sharded.device_mesh, sharded.placements, "
       "src_data_rank=None)\n",
       "    local = sharded.to_local()\n"
       "    piece = full.reshape(-1)[: local.numel()].reshape(local.shape)\n"
       "    return DTensor.from_local(piece, sharded.device_mesh, sharded.placements)\n",
       "tests/layers/test_sharding_distributed.py"),
    _m("orthogonal without Haar's sign correction", OTHER, "_schemes/functional.py",
       "q *= torch.where(signs == 0, torch.ones_like(signs), signs)",
       "q *= torch.ones_like(signs)", "tests/schemes/test_structured_schemes.py"),
    # Equivalent: no test can kill these.
    Mutant(
        "centre written as k // 2 - (k even)", THEORY, "_schemes/functional.py",
        "return tuple((k - 1) // 2 for k in kernel_size)",
        "return tuple(k // 2 - (k % 2 == 0) for k in kernel_size)",
        (PROPERTIES, "tests/schemes/test_structured_schemes.py"),
        "for every k >= 1 the two agree: odd k = 2j + 1 gives j either way, even k = 2j gives "
        "j - 1 either way",
    ),
    Mutant(
        "identity written one group down", THEORY, "_schemes/functional.py",
        "outputs = (torch.arange(groups, device=tensor.device)[:, None] * rows + diagonal)"
        ".flatten()",
        "outputs = ((torch.arange(groups, device=tensor.device)[:, None] + 1) % groups * rows "
        "+ diagonal).flatten()",
        (PROPERTIES, "tests/schemes/test_structured_schemes.py"),
        "dim 1 of a grouped weight holds each group's own inputs, numbered from 0 in every group, so "
        "every group's block of the Dirac kernel is the same matrix; writing group g's ones in group "
        "g + 1's rows (cyclically) sets the same entries {(g rows + d, d)}",
    ),
)  # fmt: skip


def check_mutants(root: Path = ROOT) -> None:
    """Every mutant's ``old`` text occurs exactly once in the current source (else ValueError)."""
    for mutant in MUTANTS:
        count = (root / "initconv" / mutant.path).read_text(encoding="utf-8").count(mutant.old)
        if count != 1:
            raise ValueError(
                f"mutant {mutant.name!r}: its text occurs {count} times in initconv/{mutant.path}, "
                "not once; rewrite it against the current code"
            )


def _scratch(mutant: Mutant | None) -> Path:
    """A copy of the repository in a temporary directory, with ``mutant`` planted."""
    scratch = Path(tempfile.mkdtemp(prefix="initconv-mutant-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, scratch / name)
    if mutant is not None:
        target = scratch / "initconv" / mutant.path
        text = target.read_text(encoding="utf-8")
        assert text.count(mutant.old) == 1, mutant.name
        target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return scratch


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "HYPOTHESIS_PROFILE": "ci", "PYTHONDONTWRITEBYTECODE": "1"}


def _pytest(scratch: Path, tests: tuple[str, ...]) -> tuple[int, str, float]:
    """Run the selected tests in ``scratch``; return pytest's exit code, output and seconds."""
    env = _environment()
    where = subprocess.run(
        [sys.executable, "-c", "import initconv; print(initconv.__file__)"],
        cwd=scratch, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not where.stdout.strip().startswith(str(scratch)):
        return -1, f"initconv did not import from the copy: {where.stdout}{where.stderr}", 0.0
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.perf_counter()
    try:
        run = subprocess.run(
            command, cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return -2, f"timed out after {TIMEOUT} s", time.perf_counter() - started
    return run.returncode, run.stdout + run.stderr, time.perf_counter() - started


def _first_failure(output: str) -> tuple[str, str]:
    """The first failing test and the first line of its error."""
    test = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
    error = re.search(r"^E +((?:\w+\.)*\w*(?:Error|Exception|Failed)\b.*)$", output, re.M)
    return (test.group(1) if test else "", error.group(1)[:200] if error else "")


def _run_one(mutant: Mutant) -> dict[str, Any]:
    scratch = _scratch(mutant)
    try:
        code, output, seconds = _pytest(scratch, mutant.tests)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if code == -1:
        raise RuntimeError(output)
    status = {0: "survived", 1: "killed", 2: "killed", -2: "killed (timeout)"}.get(code, "error")
    killer, error = _first_failure(output) if status.startswith("killed") else ("", "")
    if status == "error":
        raise RuntimeError(f"pytest exited with {code} for {mutant.name!r}:\n{output[-3000:]}")
    return {
        "mutant": mutant.name,
        "gap": mutant.gap,
        "file": f"initconv/{mutant.path}",
        "tests": list(mutant.tests),
        "status": status,
        "killed_by": killer,
        "error": error,
        "equivalent": mutant.equivalent,
        "seconds": round(seconds, 1),
    }


def _markdown(rows: list[dict[str, Any]], baseline: float) -> str:
    scored = [row for row in rows if row["equivalent"] is None]
    killed = sum(row["status"].startswith("killed") for row in scored)
    lines = [
        f"Kill ratio: **{killed} / {len(scored)}** non-equivalent mutants killed "
        f"({len(rows) - len(scored)} equivalent mutants survive, as they must; "
        f"{len(rows)} mutants in all). The unmutated copy passed every selected file "
        f"({baseline:.0f} s).",
        "",
        "| mutant | gap | file | tests run | result | first failing test |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = row["status"] + (" (equivalent)" if row["equivalent"] else "")
        tests = ", ".join(t.replace("tests/", "").split("::")[-1] for t in row["tests"])
        killer = row["killed_by"].replace("tests/", "")
        lines.append(
            f"| {row['mutant']} | {row['gap']} | {row['file']} | {tests} | {result} | {killer} |"
        )
    equivalent = [row for row in rows if row["equivalent"]]
    if equivalent:
        lines += ["", "Equivalent mutants:", ""]
        lines += [f"- {row['mutant']}: {row['equivalent']}." for row in equivalent]
    return "\n".join(lines)


def run(quick: bool) -> tuple[dict[str, Any], str]:
    """Plant every mutant (``quick``: the first three) and run its tests; see the module docstring."""
    check_mutants()
    mutants = MUTANTS[:3] if quick else MUTANTS
    selected = tuple(dict.fromkeys(test.split("::")[0] for m in mutants for test in m.tests))
    scratch = _scratch(None)
    try:
        code, output, baseline = _pytest(scratch, selected)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if code != 0:
        raise RuntimeError(f"the unmutated copy fails its tests (exit {code}):\n{output[-3000:]}")
    rows = []
    for index, mutant in enumerate(mutants, 1):
        rows.append(_run_one(mutant))
        print(f"[{index}/{len(mutants)}] {mutant.name}: {rows[-1]['status']}", flush=True)
    scored = [row for row in rows if row["equivalent"] is None]
    data = {
        "mutants": rows,
        "killed": sum(row["status"].startswith("killed") for row in scored),
        "non_equivalent": len(scored),
        "equivalent": len(rows) - len(scored),
        "baseline_seconds": round(baseline, 1),
        "hypothesis_profile": "ci",
    }
    return data, _markdown(rows, baseline)
