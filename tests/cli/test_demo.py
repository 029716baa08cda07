"""``python -m initconv demo`` runs end to end (tiny settings), says what it compared, and its
measurement at init tells vanishing, chaos and the edge of chaos apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import initconv
from initconv import __main__ as cli
from initconv._cli import demo

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


def test_demo_prints_the_comparison_and_writes_the_picture_without_progress_lines_in_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo.png"
    argv = ["demo", "--depth", "3", "--width", "4", "--steps", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "| nn.Conv2d (torch default) |" in captured.out
    assert '| initconv KaimingNormalConv2d(activation="tanh") |' in captured.out
    assert '| initconv CriticalConv2d(activation="tanh", bias_std=0.05) |' in captured.out
    assert "critical: test accuracy" in captured.out
    assert f"wrote {out}" in captured.out
    # Captured output is not a terminal: no progress bar, whose every update is a line in a log.
    assert captured.err == ""
    assert out.read_bytes().startswith(b"\x89PNG")


def test_the_quick_demo_is_the_full_demos_network_trained_for_fewer_steps() -> None:
    assert demo.QUICK.depth == demo.FULL.depth == 100
    assert demo.QUICK.steps < demo.FULL.steps


@pytest.fixture
def one_thread() -> Iterator[None]:
    # Tiny convolutions: on a busy machine a second thread spends its time waiting (the demo
    # trains with one thread for the same reason).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _signal(conv: object, depth: int = 40) -> tuple[list[float], list[float]]:
    torch.manual_seed(0)
    model = demo.plain_cnn(depth, 16, conv, nn.Tanh)  # type: ignore[arg-type]
    digits = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    return demo.signal_at_init(model, digits, seed=2)


@pytest.mark.usefixtures("one_thread")
def test_the_measurement_at_init_shows_vanishing_chaos_and_the_edge_of_chaos() -> None:
    # Mean-field theory (initconv.diagnostics.correlation_map): the default is ordered, chi_1 =
    # 0.33, and the input's part shrinks about 3x per layer, to float32 rounding by layer 40;
    # Kaiming tanh is chaotic, chi_1 = 1.21, xi_c = 12 layers, so a pair at correlation 0.96
    # falls to about c* = 0 within 40 layers; the critical init keeps both (chi_1 = 1).
    share, similarity = _signal(nn.Conv2d)
    assert share[0] > 0.5
    assert share[-1] < 1e-9
    assert similarity[-1] > 0.99
    share, similarity = _signal(
        lambda *a, **k: initconv.KaimingNormalConv2d(*a, **k, activation="tanh")
    )
    assert share[-1] > 0.5
    assert similarity[0] > 0.9
    assert similarity[-1] < 0.5
    share, similarity = _signal(demo.critical_conv("tanh", 0.05))
    assert share[-1] > 0.05
    assert similarity[-1] > 0.8
