"""Layers whose weights are used without calling them, and subclasses of torch layers, are read by
what they do.

Before: a layer used through its weight (``F.linear(x, self.qkv.weight)``, the projections an
attention kernel takes) was never seen called, so it fell back; a subclass that only changes its
constructor (torchvision's Conv3DSimple, nn.MultiheadAttention's NonDynamicallyQuantizableLinear)
was left unconverted with no warning.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv import ConversionReport, convert

MODES = ("traced", "run")


def _convert(model: nn.Module, mode: str, x: Tensor) -> ConversionReport:
    options = {"example_inputs": x} if mode == "run" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback, no skip, no warning
        return convert(model, reinit=False, **options)  # type: ignore[arg-type]


class FunctionalUse(nn.Module):
    """A projection applied with F.linear on its weight, as Swin's attention does."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.head = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, self.proj.weight, self.proj.bias)
        return self.head(F.gelu(y))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_a_layer_used_through_its_weight_gets_the_activation_after_that_use(mode: str) -> None:
    row = _convert(FunctionalUse(), mode, torch.randn(2, 8))["proj"]
    assert (row.activation, row.source) == ("gelu", mode)
    assert "its weight used by linear" in row.detail


class SeparateProjections(nn.Module):
    """WavLM's attention: q, k, v and output projections passed to the attention kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(8, 8) for _ in range(3))
        self.out_proj = nn.Linear(8, 8)
        self.head = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        x = x.transpose(0, 1)  # (sequence, batch, features)
        bias = torch.cat((self.q_proj.bias, self.k_proj.bias, self.v_proj.bias))
        out, _ = F.multi_head_attention_forward(
            x, x, x, 8, 2, torch.empty([0]), bias, None, None, False, 0.0,
            self.out_proj.weight, self.out_proj.bias, training=False, need_weights=False,
            use_separate_proj_weight=True, q_proj_weight=self.q_proj.weight,
            k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
        )  # fmt: skip
        return self.head(torch.tanh(out.transpose(0, 1)))  # type: ignore[no-any-return]


def test_the_projections_an_attention_kernel_takes_are_linear_and_its_output_is_the_last() -> None:
    report = _convert(SeparateProjections(), "run", torch.randn(2, 3, 8))
    for name in ("q_proj", "k_proj", "v_proj"):
        assert (report[name].activation, report[name].source) == ("linear", "run")
    assert (report["out_proj"].activation, report["out_proj"].source) == ("tanh", "run")


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.attn(x, x, x)
        return self.head(F.silu(out))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
def test_a_multihead_attentions_output_projection_is_converted_and_inferred(mode: str) -> None:
    model = Attention()
    report = _convert(model, mode, torch.randn(2, 3, 8))
    row = report["attn.out_proj"]
    assert (row.old_type, row.activation, row.source) == (
        "NonDynamicallyQuantizableLinear",
        "silu",
        mode,
    )
    assert isinstance(model.attn.out_proj, initconv.InitLayer)
    with torch.no_grad():
        model(torch.randn(2, 3, 8))  # the attention still runs on the converted projection


class Conv3DSimple(nn.Conv3d):
    """torchvision's video ResNet conv: a constructor of its own, torch's forward."""

    def __init__(self, in_planes: int, out_planes: int, stride: int = 1) -> None:
        super().__init__(in_planes, out_planes, (3, 3, 3), stride, (1, 1, 1), bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


def test_a_subclass_that_keeps_torchs_forward_is_converted_and_keeps_its_weights() -> None:
    model = nn.Sequential(Conv3DSimple(2, 4), nn.ReLU(), Conv3DSimple(4, 4))
    x = torch.randn(1, 2, 4, 4, 4)
    with torch.no_grad():
        before = model(x)
    report = _convert(model, "traced", x)
    assert [(row.old_type, row.activation) for row in report] == [
        ("Conv3DSimple", "relu"),
        ("Conv3DSimple", "linear"),
    ]
    assert isinstance(model[0], initconv.KaimingNormalConv3d)
    with torch.no_grad():
        assert torch.equal(model(x), before)


class WithBuffer(nn.Conv2d):
    def __init__(self) -> None:
        super().__init__(4, 4, 1)
        self.register_buffer("scale", torch.ones(4))


def test_a_subclass_that_overrides_forward_or_holds_state_is_skipped_with_a_warning() -> None:
    class Shifted(nn.Conv2d):
        def forward(self, x: Tensor) -> Tensor:
            return super().forward(x) + 1

    model = nn.Sequential(Shifted(4, 4, 1), nn.ReLU(), WithBuffer(), nn.Conv2d(4, 4, 1))
    with pytest.warns(UserWarning, match=r"2 layer\(s\) \(Shifted x 1, WithBuffer x 1\) left"):
        report = convert(model, reinit=False)
    assert [row.name for row in report.overridden] == ["0", "2"]
    assert "holds scale" in report["2"].detail
    assert type(model[2]) is WithBuffer
