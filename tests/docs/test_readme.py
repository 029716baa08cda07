"""The README runs as written, prints what it shows, and the tables it and docs/ quote are what the
commands print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _markdown import run

import initconv
from initconv import _activations

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_every_readme_block_runs_and_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_schemes: None
) -> None:
    monkeypatch.setattr(_activations, "_REGISTERED", dict(_activations._REGISTERED))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    run(README, namespace)
    conv = namespace["conv"]
    assert isinstance(conv, initconv.InitLayer)
    assert initconv.schemes()["depth_scaled"] is namespace["DepthScaled"]
    # The scheme written once is its theory on every kind it built.
    for layer in (namespace["conv"], namespace["up"], namespace["head"]):
        assert layer.expected_variance() == pytest.approx(  # type: ignore[attr-defined]
            layer.gain**2 / (8 * layer.fan_in),
            rel=1e-12,  # type: ignore[attr-defined]
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
