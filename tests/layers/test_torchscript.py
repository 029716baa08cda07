"""torch.jit.script compiles initconv's layers and matches eager, in an interpreter of its own.

torch.jit.script asks, for every attribute of a module, whether it is a builtin op, by looking its
``id()`` up in a table torch fills once. When torch.compile or torch.export later redefine an op
(torch 2.13 does so for ``quantized_decomposed`` ops), the op's old object is freed but its id stays
in that table; a padding tuple allocated at the same address is then taken for that op, and
scripting fails with "builtin cannot be used as a value", at random. The rest of the suite compiles
and exports in-process, so the scripting checks run in a fresh interpreter
(``tests/_torchscript_checks.py``), where no id is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import initconv

CHECKS = Path(__file__).resolve().parents[1] / "_torchscript_checks.py"


@pytest.mark.slow  # a fresh interpreter scripts every scheme on every kind
def test_every_scheme_every_kind_a_calibrated_layer_converted_and_gated_models_script() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECKS)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    # Every registered scheme on Conv2d, kaiming_normal on the 7 kinds, LSUV, convert, and three
    # SkipInit-gated models (torch layers; initconv layers, as they are and through to_torch).
    expected = len(initconv.schemes()) + 7 + 2 + 3
    assert done.stdout.strip().splitlines()[-1] == f"{expected} checks, 0 failed"
