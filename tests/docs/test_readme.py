"""The README runs as written, prints what it shows, its measured numbers are the benchmark results
they come from, and the tables it and docs/ quote are what the commands print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _markdown import run

import initconv

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_every_readme_block_runs_alone_and_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespaces = run(README)
    own = namespaces["own scheme"]
    # The scheme written once is its theory on every kind it built.
    for layer in (own["conv"], own["up"], own["head"]):
        assert isinstance(layer, own["DepthScaled"])  # type: ignore[arg-type]
        assert layer.expected_variance() == pytest.approx(  # type: ignore[attr-defined]
            layer.gain**2 / (8 * layer.fan_in),  # type: ignore[attr-defined]
            rel=1e-12,
        )


def test_the_readme_is_read_in_five_minutes_and_every_link_leads_somewhere() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 300
    assert len(text.encode("utf-8")) < 20_000
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("## ")
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in headings, anchor
    for target in re.findall(r"\]\((docs/[^)#]+)\)", text):
        assert (ROOT / target).is_file(), target


def _printed(command: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    from initconv.__main__ import main

    assert main([command]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]


@pytest.mark.parametrize("command", ["gains", "schemes"])
def test_the_tables_docs_quote_are_what_the_commands_print(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "\n".join(_printed(command, capsys))
    assert table in (ROOT / "docs" / "schemes.md").read_text(encoding="utf-8")


def test_the_quick_start_layer_has_the_gain_and_fans_it_prints() -> None:
    layer = initconv.KaimingNormalConv2d(64, 128, 3, padding=1, activation="gelu")
    assert (round(layer.gain, 4), layer.fan_in, layer.fan_out) == (1.5335, 576.0, 1152.0)


# --- The README's measured numbers are the results files' --------------------------------------

RESULTS = ROOT / "benchmarks" / "results"


def _rows(name: str) -> list[list[str]]:
    """The cells of every Markdown table row in benchmarks/results/``name``."""
    text = (RESULTS / name).read_text(encoding="utf-8")
    return [
        [cell.strip() for cell in line.strip()[1:-1].split("|")]
        for line in text.splitlines()
        if line.startswith("| ")
    ]


def _cell(name: str, key: tuple[str, ...], column: int) -> str:
    """Column ``column`` of the one row of results/``name`` whose first cells are ``key``; of a
    cell that reads "median [min, max]", the median."""
    rows = [row for row in _rows(name) if tuple(row[: len(key)]) == key]
    assert len(rows) == 1, f"{name} has {len(rows)} rows {key}"
    return rows[0][column].split(" [")[0]


def _claims() -> list[str]:
    """The README's sentences that carry a measured number, rebuilt from the results files."""

    def accuracy(network: str, activation: str, depth: str, init: str) -> str:
        return _cell("training.md", (network, activation, depth, init), 5)

    def depth_200(activation: str, init: str) -> str:
        return _cell("propagation.md", (activation, init), 6)

    def drift(activation: str, bias_std: str) -> str:
        return _cell("training.md", (activation, bias_std), 2)

    def cost(constructor: str, column: int = 2) -> str:
        return _cell("construction.md", (constructor,), column)

    def span(values: list[str]) -> str:
        return f"{min(values)}x to {max(values)}x"

    uniform = [f"initconv {s}" for s in ("kaiming_uniform", "xavier_uniform", "lecun_uniform")]
    normal = [f"initconv {s}" for s in ("kaiming_normal", "xavier_normal", "lecun_normal")]
    uniform, normal = [*uniform, "initconv uniform"], [*normal, "initconv normal"]
    mutation = json.loads((RESULTS / "mutation.json").read_text(encoding="utf-8"))["results"]
    zoo = json.loads((RESULTS / "zoo.json").read_text(encoding="utf-8"))["results"]
    zoo_hf = json.loads((RESULTS / "zoo_hf.json").read_text(encoding="utf-8"))["results"]
    resnet18 = next(row for row in zoo if row["model"] == "resnet18")
    zoos = [row for row in zoo + zoo_hf if "crash" not in row]
    layers = sum(row["converted"] for row in zoos)
    fell_back = {mode: sum(row[mode]["fallback"] for row in zoos) for mode in ("run", "symbolic")}
    tanh_100 = [accuracy("plain", "tanh", "100", init) for init in PLAIN]
    full, quick = _demo("demo.txt"), _demo("demo-quick.txt")
    setup = json.loads((RESULTS / "setup_times.json").read_text(encoding="utf-8"))["results"]
    took = {
        row["command"]: f"{row['seconds']:.0f} s ({row['cpu_seconds']:.0f})"
        for row in setup["rows"]
    }
    demo_extra, test_extra = (
        'python -m pip install -e ".[demo]"',
        'python -m pip install -e ".[test]"',
    )
    return [
        # Quick start
        f"(a) took {took['python -m pip install torch==2.13.0']}, the demo line "
        f"{took[demo_extra]} + {took['python -m initconv demo --quick']}, the test line "
        f"{took[test_extra]} + {took['python -m pytest']}, and the full `python -m initconv demo` "
        f"{took['python -m initconv demo']}: wall seconds (CPU seconds)",
        # The demo
        f"correlated {full['start']} at the input",
        f"it alone trains, to {full['critical']} test accuracy after {full['steps']} steps, where "
        f"the other two stay at chance ({full['default']} and {full['kaiming']}); `--quick` stops "
        f"at {quick['steps']} steps: {quick['critical']} against {quick['default']} and "
        f"{quick['kaiming']}",
        # Why should I care
        f"(2^{int(float(depth_200('tanh', 'torch default')))} at depth 200 for tanh",
        # Adopting an existing model
        f"On {len(zoo) + len(zoo_hf)} timm, transformers, diffusers and torchvision models",
        f"{fell_back['run']} of {layers:,} layers fell back with an input, "
        f"{fell_back['symbolic']} without",
        f"{resnet18['symbolic']['correct']} of {resnet18['converted']} layers traced",
        # Results
        f"a 100-layer plain tanh CNN reaches {tanh_100[0]} with torch's default, {tanh_100[1]} "
        f"with Kaiming, {tanh_100[2]} with the critical init "
        f"({accuracy('plain', 'tanh', '200', 'critical')} at 200 layers); a 100-block residual "
        f"CNN without normalisation {accuracy('residual', 'relu', '100 blocks', 'he')} with He, "
        f"{accuracy('residual', 'relu', '100 blocks', 'fixup')} with "
        '`residual_init_(model, "fixup")`',
        f"and for sigmoid with its derived gain "
        f"(`gain={_cell('propagation.md', ('sigmoid', 'initconv derived gain'), 2)}`; by default "
        f"sigmoid keeps torch's gain 1 and ends at 2^{depth_200('sigmoid', 'initconv')}); torch's "
        f"default init loses it to 2^{depth_200('tanh', 'torch default')} (tanh), "
        f"2^{depth_200('elu', 'torch default')} (elu) and "
        f"2^{depth_200('selu', 'torch default')} (selu)",
        f"(the signal drifts by 2^{drift('gelu', '0.65')} and 2^{drift('silu', '1')}",
        f"at depth 20 Kaiming trains them as well ({accuracy('plain', 'gelu', '20', 'kaiming')} "
        f"and {accuracy('plain', 'silu', '20', 'kaiming')} against the critical "
        f"{accuracy('plain', 'gelu', '20', 'critical')} and "
        f"{accuracy('plain', 'silu', '20', 'critical')}); relu drifts at finite width "
        f"(2^{depth_200('relu', 'initconv')} at depth 200)",
        f"costs {span([cost(c) for c in uniform])} of `nn.Conv2d` for the uniform schemes and "
        f"{span([cost(c) for c in normal])} for the normal ones (a normal draw costs more: "
        f"{span([cost(c, 3) for c in normal])} of torch's own `normal_`), where the two-step path "
        f"users write today costs {cost('nn.Conv2d + kaiming_normal_')}x; `variance_scaling`'s "
        f"corrected truncated normal costs {cost('initconv variance_scaling')}x",
        # Development
        f"plants {len(mutation['mutants'])} defects in the maths: the default suite kills all "
        f"{mutation['killed']} that change behaviour; the other {mutation['equivalent']} are "
        "equivalent",
    ]


PLAIN = ("torch default", "kaiming", "critical")


def _demo(name: str) -> dict[str, str]:
    """What ``python -m initconv demo`` printed into benchmarks/results/``name``: the steps, the
    similarity at the input and each init's test accuracy."""
    text = (RESULTS / name).read_text(encoding="utf-8")
    steps = re.search(r"on digits, (\d+) Adam steps", text)
    start = re.search(r"similarity starts at (\S+) at the input", text)
    assert steps is not None, name
    assert start is not None, name
    found = {"steps": steps[1], "start": start[1]}
    for key, label in (("default", "nn.Conv2d"), ("kaiming", "initconv Kaiming")):
        found[key] = next(row[-1] for row in _rows(name) if row[0].startswith(label))
    found["critical"] = next(row[-1] for row in _rows(name) if "Critical" in row[0])
    return found


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readmes_measured_numbers_are_the_benchmark_results_they_come_from() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    claims = _claims()
    for claim in claims:
        assert claim in text, f"the README should say, from benchmarks/results/: {claim!r}"
    # No number in Results that is not one of these.
    results = " ".join(_section(README.read_text(encoding="utf-8"), "Results").split())
    for number in re.findall(r"-?\d+\.\d+", results):
        assert any(number in claim for claim in claims), f"{number} in Results has no source"


def test_what_the_readme_says_of_the_propagation_results_holds_for_every_row_it_names() -> None:
    # "within a factor 2": |log2(q_200 / q_0)| <= 1 for the stable activations at initconv's gain.
    kept = [("tanh", "initconv"), ("elu", "initconv"), ("selu", "initconv")]
    kept += [("softplus", "initconv"), ("sigmoid", "initconv derived gain")]
    for activation, init in kept:
        assert abs(float(_cell("propagation.md", (activation, init), 6))) <= 1
    assert abs(float(_cell("propagation.md", ("sigmoid", "initconv"), 6))) > 1
    zoo = [
        row
        for name in ("zoo.json", "zoo_hf.json")
        for row in json.loads((RESULTS / name).read_text(encoding="utf-8"))["results"]
    ]
    for row in zoo:  # "no layer got a wrong activation without a warning"
        assert "crash" not in row
        for mode in ("symbolic", "run"):
            assert row[mode]["silently_wrong"] == row[mode]["decided_undecidable"] == 0
            assert row[mode]["warned_every_fallback"]
