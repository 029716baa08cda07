"""``python -m initconv demo`` runs end to end (tiny settings) and says what it compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from initconv import __main__ as cli

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


def test_demo_prints_the_comparison_and_writes_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo.png"
    argv = ["demo", "--depth", "3", "--width", "4", "--steps", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| nn.Conv2d (torch default) |" in printed
    assert '| initconv KaimingNormalConv2d(activation="tanh") |' in printed
    assert f"wrote {out}" in printed
    assert out.read_bytes().startswith(b"\x89PNG")


def test_demo_rejects_a_non_positive_step_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--steps", "0"]) == 2
    assert "--steps must be positive" in capsys.readouterr().err
