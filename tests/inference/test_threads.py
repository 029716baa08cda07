"""Inference has no depth limit and no effect on other threads.

Before: the walk recursed once per residual add (RecursionError at 246 pre-activation blocks),
and torch.fx's process-wide patch of nn.Module.__call__ made another thread's ordinary forward
raise NameError during a traced convert or residual_init_ (about 30% of forwards).
"""

from __future__ import annotations

import sys
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv import convert


class Block(nn.Module):
    """A pre-activation residual block (He et al. 2016): x + fc(relu(norm(x)))."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc(F.relu(self.norm(x)))  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_thousand_block_residual_net_is_inferred_without_a_depth_limit(mode: str) -> None:
    # Every branch's output reaches relu: through the next block's norm and, down the residual
    # stream, through the final norm: a path a thousand adds long.
    model = nn.Sequential(
        *(Block() for _ in range(1000)), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 4)
    )
    options = {"example_inputs": torch.randn(2, 4)} if mode == "run" else {}
    limit = sys.getrecursionlimit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = convert(model, reinit=False, **options)  # type: ignore[arg-type]
    assert sys.getrecursionlimit() == limit
    assert len(report.converted) == 1001
    assert {row.activation for row in report.rows[:-1]} == {"relu"}
    assert {row.source for row in report} == {mode}
    assert report["1002"].activation == "linear"


def test_forwards_in_another_thread_run_undisturbed_while_a_convert_traces() -> None:
    other = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    x = torch.randn(2, 4)
    with torch.no_grad():
        expected = other(x)
    stop = threading.Event()
    errors: list[BaseException] = []
    forwards = [0]

    def run_forwards() -> None:
        while not stop.is_set():
            try:
                with torch.no_grad():
                    assert torch.equal(other(x), expected)
                forwards[0] += 1
            except BaseException as error:  # reported in the main thread
                errors.append(error)

    thread = threading.Thread(target=run_forwards)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so forwards run inside the traces
    thread.start()
    try:
        for _ in range(10):
            model = nn.Sequential(*(nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU()) for _ in range(8)))
            convert(model, reinit=False)
            initconv.residual_init_(Residual())
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert forwards[0] > 0
    assert not errors, errors[:3]


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))
