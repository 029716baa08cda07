"""initconv.diagnostics.coord_check: activation sizes flat across widths under µP, growing under
the standard parametrization; its table, plot and arguments.

No statistical assertion here: the sizes are deterministic given the seeds, and the bound of 1.5
is the issue's criterion for a 16x width range, not a tolerance fitted to them.
"""

from __future__ import annotations

import doctest
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import initconv
from initconv.diagnostics import CoordCheck, coord_check
from initconv.diagnostics import _coord_check as coord_module

# 16x, from 32: at 16 channels the third layer's own finite-width deviation (of order 1/sqrt(n))
# already reaches a factor 1.5 against 256 under µP, in the MLP and the CNN alike.
WIDE_RANGE = (32, 128, 512)


def _mlp(width: int) -> nn.Sequential:
    return nn.Sequential(
        initconv.KaimingNormalLinear(16, width, activation="relu"),
        nn.ReLU(),
        initconv.KaimingNormalLinear(width, width, activation="relu"),
        nn.ReLU(),
        initconv.KaimingNormalLinear(width, width, activation="relu"),
        nn.ReLU(),
        initconv.KaimingNormalLinear(width, 4),
    )


def _cnn(width: int) -> nn.Sequential:
    return nn.Sequential(
        initconv.KaimingNormalConv2d(1, width, 3, padding=1, activation="relu"),
        nn.ReLU(),
        initconv.KaimingNormalConv2d(width, width, 3, stride=2, padding=1, activation="relu"),
        nn.ReLU(),
        initconv.KaimingNormalConv2d(width, width, 3, padding=1, activation="relu"),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        initconv.KaimingNormalLinear(width, 10),
    )


def _mup(build: Any, base: int = 16) -> Any:
    def make(width: int) -> nn.Module:
        model = build(width)
        initconv.mup_(model, build(base))
        return model

    return make


def _batch(shape: tuple[int, ...], classes: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, *shape, generator=generator)
    return x, torch.randint(0, classes, (32,), generator=generator)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("build", "shape", "classes"), [(_mlp, (16,), 4), (_cnn, (1, 8, 8), 10)], ids=["mlp", "cnn"]
)
def test_under_mup_every_layer_stays_within_1_5_across_16x_widths_and_not_under_sp(
    build: Any, shape: tuple[int, ...], classes: int
) -> None:
    batch = _batch(shape, classes)
    mup = coord_check(_mup(build), WIDE_RANGE, batch, seeds=3)
    standard = coord_check(build, WIDE_RANGE, batch, seeds=3)
    assert {name: mup.spread(name) < 1.5 for name in mup.layers} == dict.fromkeys(mup.layers, True)
    # The same check sees the standard parametrization: a hidden layer grows with width.
    assert max(standard.spread(name) for name in standard.layers) > 1.5
    assert max(standard.exponent(name) for name in standard.layers) > 0.2


def test_the_check_records_every_layer_at_every_width_and_step() -> None:
    check = coord_check(_mup(_mlp, 4), (4, 8), _batch((16,), 4), steps=2, seeds=1)
    assert check.layers == ("0", "2", "4", "6")
    assert len(check) == 4 * 2 * 3
    assert all(row.size > 0 and math.isfinite(row.size) for row in check)
    assert check.spread("0", step=0) == max(check.size("0", 4, 0), check.size("0", 8, 0)) / min(
        check.size("0", 4, 0), check.size("0", 8, 0)
    )
    text = str(check)
    assert "w=4" in text
    assert "w=8" in text
    assert "spread" in text


def test_sizes_are_the_mean_absolute_output_and_training_moves_them() -> None:
    torch.manual_seed(0)
    x, y = _batch((16,), 4)
    check = coord_check(
        lambda width: nn.Sequential(nn.Linear(16, width)),
        (2, 3),
        (x, y),
        steps=1,
        lr=0.5,
        seeds=1,
        loss=lambda out, _: out.sum(),
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layer = nn.Linear(16, 2)
    assert check.size("0", 2, 0) == pytest.approx(float(layer(x).detach().abs().mean()), rel=1e-6)
    assert check.size("0", 2, 1) != check.size("0", 2, 0)


def test_the_global_random_state_is_left_as_it_was() -> None:
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    coord_check(_mlp, (4, 8), _batch((16,), 4), steps=1, seeds=1)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_exponent_is_the_slope_of_log_size_against_log_width() -> None:
    rows = [coord_module.CoordRow("a", width, 0, 0.5 * width) for width in (2, 4, 8)]
    check = CoordCheck((2, 4, 8), 0, ("a",), rows, "linear growth")
    assert check.exponent("a") == pytest.approx(1.0)
    assert check.spread("a") == pytest.approx(4.0)


def test_plot_writes_a_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    check = coord_check(_mlp, (4, 8), _batch((16,), 4), steps=1, seeds=1)
    path = tmp_path / "coord.png"
    check.plot(path)
    assert path.stat().st_size > 0


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        (
            {"widths": (8,)},
            ValueError,
            r"widths must hold at least two different widths, got \(8,\)",
        ),
        ({"widths": "816"}, TypeError, r"widths must be a sequence of ints, got str '816'"),
        ({"widths": (8, 0)}, ValueError, r"widths must be >= 1, got 0"),
        (
            {"batch": torch.zeros(3)},
            TypeError,
            r"batch must be a pair \(inputs, targets\) of tensors",
        ),
        ({"steps": 0}, ValueError, r"steps must be >= 1, got 0"),
        ({"lr": -1.0}, ValueError, r"lr must be finite and > 0, got -1\.0"),
        (
            {"optimizer": "lamb"},
            ValueError,
            r"optimizer must be one of \('adam', 'sgd'\), got 'lamb'",
        ),
        ({"seeds": 0}, ValueError, r"seeds must be >= 1, got 0"),
        ({"loss": 3}, TypeError, r"loss must be a callable \(output, targets\) -> loss, got int 3"),
        ({"make_model": 3}, TypeError, r"make_model must be a callable width -> model, got int 3"),
        ({"make_model": lambda w: 3}, TypeError, r"make_model must return an nn.Module, got int 3"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    call: dict[str, Any] = {
        "make_model": _mlp,
        "widths": (4, 8),
        "batch": _batch((16,), 4),
        "steps": 1,
        "seeds": 1,
        **arguments,
    }
    with pytest.raises(error, match=match):
        coord_check(**call)


def test_models_whose_layers_differ_across_widths_are_refused_naming_both() -> None:
    def make(width: int) -> nn.Module:
        layers = [nn.Linear(16, width), nn.ReLU(), nn.Linear(width, 4)]
        return nn.Sequential(*(layers if width == 4 else [*layers, nn.Linear(4, 4)]))

    with pytest.raises(ValueError, match=r"make_model must build the same layers at every width"):
        coord_check(make, (4, 8), _batch((16,), 4), steps=1, seeds=1)


def test_the_docstring_example_runs() -> None:
    globs = {"initconv": initconv, "nn": nn, "torch": torch, "coord_check": coord_check}
    runner = doctest.DocTestRunner()
    tests = doctest.DocTestFinder().find(coord_check, "coord_check", globs=globs)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
    assert sum(len(test.examples) for test in tests) == 3
