"""The README's code examples run and say what the README says they do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import initconv

README = Path(__file__).resolve().parent.parent / "README.md"


def _example(marker: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(marker)} -->\s*```python\n(.*?)```", text, re.S)
    assert match is not None, f"README has no example marked {marker!r}"
    return match.group(1)


def test_readme_custom_scheme_example_registers_and_initialises(clean_schemes: None) -> None:
    namespace: dict[str, object] = {}
    exec(_example("custom scheme"), namespace)
    conv = namespace["conv"]
    assert isinstance(conv, initconv.InitConv2d)
    assert initconv.schemes()["fixup"] is type(conv)
    assert repr(conv).endswith(
        "scheme=fixup, activation=relu, gain=1.414, num_branches=16, seed=0)"
    )
    # Var(W) = 2 / 576 * 16^(-1/(2*2-2) * 2) = 2 / 576 / 16.
    assert conv.expected_variance() == pytest.approx(2 / 576 / 16, rel=1e-12)
    weight = conv.weight.detach().clone()
    conv.reset_parameters()
    assert torch.equal(conv.weight, weight)


def test_readme_gain_table_is_what_the_gains_command_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from initconv.__main__ import main

    main(["gains"])
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("|")]
    readme = README.read_text(encoding="utf-8")
    assert "\n".join(table) in readme


def test_readme_quick_start_runs_and_prints_what_it_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace: dict[str, object] = {}
    exec(_example("quick start"), namespace)
    printed = " ".join(capsys.readouterr().out.split())
    assert printed == (
        "KaimingNormalConv2d(64, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "scheme=kaiming_normal, activation=gelu, gain=1.534)"
    )
    layer = initconv.KaimingNormalConv2d(64, 128, 3, padding=1, activation="gelu")
    assert (round(layer.gain, 4), layer.fan_in, layer.fan_out) == (1.5335, 576.0, 1152.0)
