"""A filled tensor is the number the model computes with, in a trace as in a run.

docs/convert.md: a tensor filled with one number is that number, in a trace too. The number is
the fill as the tensor holds it: ``torch.full_like(h, 2.7, dtype=torch.int64)`` holds 2 (torch
truncates toward zero), a bool fill holds 1, a float16 one the float16 nearest its fill; and a
step taken on the filled tensor (``.int()``, ``.round()``, ``.fill_(c)``, ``.add_(c)``) is
evaluated on that number. So ``tanh(h * fill)`` is tanh(m x) with m that number, gain
1 / sqrt(E[tanh(m z)^2]) (mpmath at 30 digits, tests/_reference_theory.py), or tanh's own 5/3
at m = 1, where phi is the built-in and keeps its name and gain.

A tensor the trace computed from one of the model's buffers (``self.v[1]``: a trace runs on a
copy whose buffers hold no values) is a constant whose value the trace does not know: the layer
falls back, with a warning that says so, where it once was read as if the operand were not
there (tanh, 5/3, for tanh(2 x)); a run reads the value.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
from _reference_theory import mpmath_gain
from _support import Between, convert_warned
from torch import Tensor, nn

GAIN_RTOL = 1e-9  # the derived gain's quadrature is within 1e-12; convert reports it as computed
MODES = ["traced", "run"]
TANH_GAIN = 5 / 3  # torch.nn.init.calculate_gain("tanh")

# (the fill, the number m the layer's tanh(h * fill) multiplies by)
FILLS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "full_like int64": (lambda h: torch.full_like(h, 2.7, dtype=torch.int64), 2.0),
    "full int32": (lambda h: torch.full(h.shape, -2.7, dtype=torch.int32), -2.0),
    "new_full int64": (lambda h: h.new_full(h.shape, 2.7, dtype=torch.int64), 2.0),
    "full_like bool": (lambda h: torch.full_like(h, 2.7, dtype=torch.bool), 1.0),
    "full_like float16": (
        lambda h: torch.full_like(h, 1 / 3, dtype=torch.float16),
        float(torch.tensor(1 / 3, dtype=torch.float16)),
    ),
    "full(shape, 2)": (lambda h: torch.full(h.shape, 2), 2.0),
    ".int()": (lambda h: torch.full_like(h, 2.7).int(), 2.0),
    ".round()": (lambda h: torch.full_like(h, 2.7).round(), 3.0),
    "empty_like.fill_": (lambda h: torch.empty_like(h).fill_(2.0), 2.0),
    "zeros_like.add_": (lambda h: torch.zeros_like(h).add_(2), 2.0),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fill", "m"), FILLS.values(), ids=FILLS.keys())
def test_a_fill_is_the_number_the_model_computes_with(
    fill: Callable[[Tensor], Tensor], m: float, mode: str
) -> None:
    report, warned = convert_warned(Between(lambda h: torch.tanh(h * fill(h))), mode)
    row = report["fc"]
    assert warned == []
    expected = TANH_GAIN if m == 1 else mpmath_gain(lambda z: mpmath.tanh(m * z))
    assert row.gain == pytest.approx(expected, rel=GAIN_RTOL)


class _WithBuffer(nn.Module):
    def __init__(self, step: Callable[[nn.Module, Tensor], Tensor]) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.register_buffer("v", torch.tensor([1.0, 2.0, 3.0, 4.0]))
        self.step = step

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.step(self, self.fc(x)))
        return out


# (the step, the activation tanh(x * 2) or tanh(x + 2) it is: m, shift)
FROM_BUFFERS: dict[str, tuple[Callable[[nn.Module, Tensor], Tensor], float, float]] = {
    "h * v[1]": (lambda s, h: torch.tanh(h * s.v[1]), 2.0, 0.0),
    "h + v[1]": (lambda s, h: torch.tanh(h + s.v[1]), 1.0, 2.0),
    "full_like(h, v[1])": (lambda s, h: torch.tanh(h * torch.full_like(h, s.v[1])), 2.0, 0.0),
}


@pytest.mark.parametrize(("step", "m", "shift"), FROM_BUFFERS.values(), ids=FROM_BUFFERS.keys())
def test_a_constant_a_trace_computed_from_a_buffer_is_read_by_a_run_and_not_guessed_by_a_trace(
    step: Callable[[nn.Module, Tensor], Tensor], m: float, shift: float
) -> None:
    expected = mpmath_gain(lambda z: mpmath.tanh(m * z + shift))
    run, warned = convert_warned(_WithBuffer(step), "run")
    assert warned == []
    assert run["fc"].gain == pytest.approx(expected, rel=GAIN_RTOL)
    traced, warned = convert_warned(_WithBuffer(step), "traced")
    assert traced["fc"].source == "default"
    assert "a trace does not read" in traced["fc"].detail
    assert any("could not be inferred (fc)" in message for message in warned)


STATISTIC_FILLS: dict[str, Callable[[Tensor], Tensor]] = {
    "h * full_like(h, h.mean())": lambda h: torch.tanh(h * torch.full_like(h, h.mean())),
    "h - full_like(h, h.mean())": lambda h: torch.tanh(h - torch.full_like(h, h.mean())),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("phi", STATISTIC_FILLS.values(), ids=STATISTIC_FILLS.keys())
def test_a_fill_computed_from_the_input_is_a_statistic_not_a_constant(
    phi: Callable[[Tensor], Tensor], mode: str
) -> None:
    # docs/convert.md, gates are not consumers: a statistic of x that scales or is subtracted
    # from x only modulates it, so the layer feeds tanh (5/3), as ones_like(h) * h.mean() does;
    # a run once took the filled tensor for a constant and reported tanh(x * <that batch's
    # mean>), whose gain changes with the example input.
    report, warned = convert_warned(Between(phi), mode)
    assert warned == []
    assert (report["fc"].activation, report["fc"].gain) == ("tanh", TANH_GAIN)


@pytest.mark.parametrize("mode", MODES)
def test_a_fill_of_nan_has_no_gain_in_either_mode(mode: str) -> None:
    # NaN is one value, not a per-channel operand to skip as a norm's affine: tanh(x + nan) is
    # NaN everywhere, so the layer falls back, loudly.
    def phi(h: Tensor) -> Tensor:
        return torch.tanh(h + torch.full_like(h, float("nan")))

    report, warned = convert_warned(Between(phi), mode)
    assert report["fc"].source == "default"
    assert "not finite" in report["fc"].detail
    assert any("could not be inferred (fc)" in message for message in warned)
