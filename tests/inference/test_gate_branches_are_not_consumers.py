"""A branch that only modulates a tensor (a squeeze-excite gate, the statistics of a norm written
out) is not a consumer of it: the layer's activation is the one on the main path.

docs/convert.md, "Gates are not consumers": a branch from ``x`` that takes only weight layers,
activations, pass-throughs and statistics (reductions, pooling, ``pow``, ``sqrt``, ...), contains a
weight layer or a statistic, and ends on every path as the gate ``g`` of ``x' * g``, the divisor of
``x' / g`` or the subtrahend of ``x' - g``, only modulates ``x``: "Squeeze-excite, ECA, CBAM and a
LayerNorm or RMSNorm written out are such branches". The main path here is the branch's product
(or quotient) followed by GELU and the next layer, so the layer's activation is GELU, with the
gain of its name, 1 / sqrt(E[gelu(z)^2]) for z ~ N(0, 1), gelu(z) = z Phi(z).

Why, from first principles: a written-out norm computes x / sqrt(mean(x^2) + eps) (RMSNorm, Zhang
and Sennrich 2019; LLaMA) or (x - mean) / sqrt(var + eps) (LayerNorm), and a squeeze-excite block
x * sigmoid(W2 relu(W1 pool(x))) (Hu et al. 2018): each passes x on, scaled per sample or channel;
the statistic's own ``x ** 2`` or pooling reaches no activation of x's values. Read as a consumer,
the branch would be a second use of x (``x ** 2``, or the pooled value's next weight layer) that
disagrees with GELU: "several different consumers", a fallback to relu (gain sqrt(2)).

The expected gain is the closed form of ``_gelu_gain``, evaluated by mpmath at 30 digits; the
library's quadrature is good to 1e-12 relative on E[phi^2] (docs/guarantees.md), 5e-13 on a gain:
the tests allow 1e-10.
"""

from __future__ import annotations

import functools

import mpmath  # type: ignore[import-untyped]
import pytest
import torch
import torch.nn.functional as F
from _support import convert_warned
from torch import Tensor, nn

from initconv import ConversionReport

GAIN_RTOL = 1e-10  # see the module docstring
MODES = ("traced", "run")


@functools.cache
def _gelu_gain() -> float:
    """1 / sqrt(E[gelu(z)^2]) for gelu(z) = z Phi(z), z ~ N(0, 1), in closed form.

    Stein's lemma, E[z g(z)] = E[g'(z)], twice: E[z^2 Phi^2] = E[(z Phi^2)'] = E[Phi^2] +
    2 E[z Phi phi], and E[z Phi phi] = E[(Phi phi)'] = E[phi^2] - E[z Phi phi], so 2 E[z Phi phi] =
    E[phi^2] = int phi^3 = 1 / (2 pi sqrt 3); E[Phi(z)^2] = P(max(X1, X2) <= z) = 1/3 for three iid
    normals (each is the largest with probability 1/3). So E[gelu^2] = 1/3 + 1 / (2 pi sqrt 3)."""
    with mpmath.workdps(30):
        moment = mpmath.mpf(1) / 3 + 1 / (2 * mpmath.pi * mpmath.sqrt(3))
        return float(1 / mpmath.sqrt(moment))


class RMSNormWrittenOut(nn.Module):
    """LLaMA's RMSNorm as its code writes it: x * rsqrt(x.pow(2).mean(-1) + eps), with the mean a
    tensor method, or torch.mean of x * x."""

    def __init__(self, method: bool) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.method = method

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        mean_square = (
            y.pow(2).mean(-1, keepdim=True) if self.method else torch.mean(y * y, -1, keepdim=True)
        )
        out: Tensor = self.out(F.gelu(y * torch.rsqrt(mean_square + 1e-6)))
        return out


class LayerNormWrittenOut(nn.Module):
    """(x - mean) / sqrt(var + eps): the mean's branch ends as a subtrahend, the variance's as a
    divisor."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        mean = y.mean(-1, keepdim=True)
        var = (y - mean).pow(2).mean(-1, keepdim=True)
        out: Tensor = self.out(F.gelu((y - mean) / torch.sqrt(var + 1e-6)))
        return out


class SqueezeExcite(nn.Module):
    """A layer's output gated by sigmoid(W2 relu(W1 mean(x))), then GELU."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.out = nn.Linear(8, 8), nn.Linear(8, 8)
        self.reduce, self.expand = nn.Linear(8, 2), nn.Linear(2, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x)
        gate = torch.sigmoid(self.expand(F.relu(self.reduce(y.mean(0, keepdim=True)))))
        out: Tensor = self.out(F.gelu(y * gate))
        return out


def _assert_gelu(model: nn.Module, mode: str) -> ConversionReport:
    report, warned = convert_warned(model, mode)
    row = report["fc"]
    assert (row.activation, row.source) == ("gelu", mode), row.detail
    assert row not in report.fallbacks, row.detail
    assert not warned, warned
    assert row.gain == pytest.approx(_gelu_gain(), rel=GAIN_RTOL)
    return report


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", [True, False], ids=["x.pow(2).mean()", "torch.mean(x * x)"])
def test_an_rms_norm_written_out_passes_the_layer_on_to_the_activation_after_it(
    method: bool, mode: str
) -> None:
    _assert_gelu(RMSNormWrittenOut(method), mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_layer_norm_written_out_passes_the_layer_on_to_the_activation_after_it(mode: str) -> None:
    _assert_gelu(LayerNormWrittenOut(), mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_squeeze_excite_gate_passes_the_layer_on_to_the_activation_after_it(mode: str) -> None:
    report = _assert_gelu(SqueezeExcite(), mode)
    # The gate's own layers end at their phi: relu, and sigmoid.
    assert (report["reduce"].activation, report["expand"].activation) == ("relu", "sigmoid")
