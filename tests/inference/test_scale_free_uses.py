"""Patterns of the diffusers, timm and torchvision zoos that convert() left undecided, or decided
where the benchmark's truth could not.

Before: an output read by a norm and by a conv (a pre-norm ResNet block's shortcut) was "several
different consumers", a fallback, in 94 layers of diffusers' UNets and autoencoders and DPT;
a layer whose output is the logits of a softmax (selective-kernel and split attention, detection
heads) was "neither an activation nor a known pass-through"; a GRU's reset gate, whose other input
has a long history, was not recognised as a gate of the hidden state, so its layer's outcome
depended on which call of the cell was read; ``.is_quantized`` stopped the walk; a diffusers model
(which torch.fx cannot trace and which declares no ``dummy_inputs``) fell back in 220 layers.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from initconv import ConversionReport, convert

_IMAGE = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))


def _convert(model: nn.Module, mode: str, example: Any = _IMAGE) -> ConversionReport:
    """convert() with warnings as errors: the layers under test are decided, not warned."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        if mode == "run":
            return convert(model, reinit=False, example_inputs=example)
        return convert(model, reinit=False)


class PreNormBlock(nn.Module):
    """diffusers' ResnetBlock2D: GroupNorm, SiLU, conv twice; a time embedding added between;
    a 1x1 shortcut conv of the input; the sum divided by an output scale factor."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(2, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(4, cout)
        self.norm2, self.conv2 = nn.GroupNorm(2, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.shortcut(x) + h) / 2.0


class PreNormNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(4, 8, 3, padding=1)
        self.block1, self.block2 = PreNormBlock(8, 16), PreNormBlock(16, 16)
        self.norm_out, self.conv_out = nn.GroupNorm(2, 16), nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        emb = x.mean(dim=(2, 3))
        h = self.block2(self.block1(self.conv_in(x), emb), emb)
        return self.conv_out(F.silu(self.norm_out(h)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_uses_through_a_norm_leave_the_decision_to_the_uses_that_see_the_scale(mode: str) -> None:
    report = _convert(PreNormNet(), mode)
    # Read by block1's GroupNorm (then SiLU) and by its shortcut conv: the norm makes the
    # first use indifferent to the value's scale, the shortcut decides.
    assert report["conv_in"].activation == "linear"
    assert "pass a norm first" in report["conv_in"].detail
    # The block's output: block2's norm (SiLU) and block2's shortcut conv.
    assert report["block1.conv2"].activation == "linear"
    assert report["block1.shortcut"].activation == "linear"
    # Every use of these goes through a norm: they agree, as conv > norm > activation always did.
    assert report["block1.conv1"].activation == "silu"
    assert report["block1.temb"].activation == "silu"
    assert report["block2.conv2"].activation == "silu"


class NormsThatDisagree(nn.Module):
    """An output read only through norms, followed by different activations."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 1)
        self.norm_a, self.norm_b = nn.GroupNorm(2, 8), nn.GroupNorm(2, 8)
        self.a, self.b = nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return self.a(F.relu(self.norm_a(y))) + self.b(torch.tanh(self.norm_b(y)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_uses_that_all_pass_a_norm_and_disagree_make_the_value_linear(mode: str) -> None:
    # Both norms divide the scale out: no gain changes what the model computes.
    report = _convert(NormsThatDisagree(), mode)
    assert report["conv"].activation == "linear"
    assert "every use passes a norm first" in report["conv"].detail
    assert report["conv"] not in report.fallbacks


class NormThenUnknown(nn.Module):
    """An output read through a norm, then by a step the rule does not know, and by a conv:
    the conv decides; with the conv gone, the unknown step is a warned fallback."""

    def __init__(self, shortcut: bool) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(4, 8, 1), nn.GroupNorm(2, 8)
        self.shortcut = nn.Conv2d(8, 8, 1) if shortcut else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        out = torch.cumprod(self.norm(y), dim=1)
        return out if self.shortcut is None else out + self.shortcut(y)


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_an_unknown_step_after_a_norm_is_decided_only_by_another_use(mode: str) -> None:
    assert _convert(NormThenUnknown(shortcut=True), mode)["conv"].activation == "linear"
    example = _IMAGE if mode == "run" else None
    with pytest.warns(UserWarning, match="could not be inferred"):
        report = convert(NormThenUnknown(shortcut=False), reinit=False, example_inputs=example)
    assert [row.name for row in report.fallbacks] == ["conv"]


class SelectiveKernel(nn.Module):
    """timm's selective-kernel attention: a softmax over the branches weighs their features."""

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(4, 8, k, padding=k // 2) for k in (1, 3))
        self.fc_select = nn.Conv2d(8, 16, 1)
        self.head = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = torch.stack([F.relu(branch(x)) for branch in self.branches], dim=1)
        pooled = feats.sum(dim=1).mean(dim=(2, 3), keepdim=True)
        logits = self.fc_select(pooled).view(x.shape[0], 2, 8, 1, 1)
        return self.head((feats * logits.softmax(dim=1)).sum(dim=1))  # type: ignore[no-any-return]


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(4, 8, 3), nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(self.fc(F.relu(self.conv(x)).mean(dim=(2, 3))), dim=-1)


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_layer_that_computes_the_logits_of_a_softmax_is_linear(mode: str) -> None:
    report = _convert(SelectiveKernel(), mode)
    assert report["fc_select"].activation == "linear"
    assert "logits of" in report["fc_select"].detail
    assert report["branches.0"].activation == "relu"
    assert _convert(Classifier(), mode)["fc"].activation == "linear"


class ConvGRU(nn.Module):
    """RAFT's ConvGRU: z and r gate the hidden state h, q is its candidate."""

    def __init__(self, hidden: int, inputs: int) -> None:
        super().__init__()
        self.convz = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)
        self.convr = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)
        self.convq = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)

    def forward(self, h: Tensor, x: Tensor) -> Tensor:
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(self.convz(hx))
        r = torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q  # type: ignore[no-any-return]


class Recurrent(nn.Module):
    """Two updates of a ConvGRU whose input has a long history (a motion encoder's forty
    steps): the reset gate is computed from h, however far back x goes."""

    def __init__(self) -> None:
        super().__init__()
        self.context = nn.Conv2d(4, 8, 3, padding=1)
        self.encoder = nn.ModuleList(nn.Conv2d(4, 4, 1) for _ in range(20))
        self.gru = ConvGRU(8, 4)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, image: Tensor) -> Tensor:
        h = torch.tanh(self.context(image))
        x = image
        for layer in self.encoder:
            x = F.relu(layer(x)) + x
        for _ in range(2):
            h = self.gru(h, x)
        return self.head(h)  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_gru_reset_gate_is_a_gate_of_the_hidden_state_however_long_its_input(mode: str) -> None:
    example = _IMAGE if mode == "run" else None
    # convz's uses disagree ((1 - z) * h and z * q): a warned fallback.
    with pytest.warns(UserWarning, match="could not be inferred"):
        report = convert(Recurrent(), reinit=False, example_inputs=example)
    # r * h: r is computed from h (a squeeze-excite-like gate), so convr ends at its sigmoid.
    assert report["gru.convr"].activation == "sigmoid"
    assert report["gru.convr"] not in report.fallbacks


class QuantisationCheck(nn.Module):
    """torchvision's FPN asks ``.is_quantized`` of a value: metadata, not a use of it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(4, 8, 1), nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if y.is_quantized:
            y = y.dequantize()
        return self.head(F.elu(y))  # type: ignore[no-any-return]


def test_asking_whether_a_value_is_quantized_is_no_use_of_it() -> None:
    assert _convert(QuantisationCheck(), "run")["conv"].activation == "elu"


class DiffusersStyle(nn.Module):
    """A diffusers-style model: a config of ``in_channels`` and ``sample_size``, a forward of
    ``(sample, timestep, encoder_hidden_states)`` with control flow on values (torch.fx cannot
    trace it), and no ``dummy_inputs``."""

    def __init__(self, sample_size: int = 8, dims: int = 2) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "in_channels": 3,
            "sample_size": sample_size,
            "cross_attention_dim": 6,
        }
        conv = nn.Conv2d if dims == 2 else nn.Conv1d
        self.conv_in, self.conv_out = conv(3, 8, 3, padding=1), conv(8, 3, 1)
        self.text = nn.Linear(6, 8)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, sample: Tensor, timestep: Tensor, encoder_hidden_states: Tensor) -> Tensor:
        self.seen.append(tuple(sample.shape))
        h = self.conv_in(sample) * timestep.float().mean()
        context = self.text(encoder_hidden_states).mean(dim=1)
        h = h + context.view(*context.shape, *([1] * (h.dim() - 2)))
        return self.conv_out(F.silu(h) if bool(h.abs().sum() >= 0) else h)  # type: ignore[no-any-return]


def test_a_diffusers_model_runs_on_a_sample_of_its_configs_size() -> None:
    model = DiffusersStyle()
    report = _convert(model, "traced")
    assert report["conv_in"].activation == "silu"
    assert report["conv_in"].source == "run"
    assert "in_channels and sample_size (3, 8, 8)" in report["conv_in"].detail
    assert report["text"].activation == "silu"
    assert model.seen == []  # the run was on a copy


def test_a_large_declared_sample_is_halved_for_the_run() -> None:
    # 65,536 samples of a 1-D model (diffusers' UNet1DModel's default) run as 4,096.
    report = _convert(DiffusersStyle(sample_size=65536, dims=1), "traced")
    assert report["conv_in"].source == "run"
    assert "(3, 4096)" in report["conv_in"].detail


def test_a_config_without_the_forwards_required_arguments_is_no_declared_input() -> None:
    class Unknown(DiffusersStyle):
        def forward(  # type: ignore[override]
            self, sample: Tensor, timestep: Tensor, encoder_hidden_states: Tensor, mask: Tensor
        ) -> Tensor:
            return super().forward(sample, timestep, encoder_hidden_states)

    with pytest.warns(UserWarning, match="could not be inferred"):
        report = convert(Unknown(), reinit=False)
    assert report["conv_in"] in report.fallbacks


def _patch_merging_pad(x: Tensor) -> Tensor:
    """torchvision's Swin patch merging, as its module names it: pad to even sizes, interleave
    the even and odd positions into the channels."""
    height, width = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
    parts = [x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :]]
    return torch.cat([*parts, x[..., 1::2, 1::2, :]], -1)


def roi_align(features: Tensor, size: int) -> Tensor:
    """A stand-in for torchvision's RoI align (bilinear samples of each region, averaged)."""
    return F.adaptive_avg_pool2d(features, size)


def _get_relative_position_bias(table: Tensor, index: Tensor, window: int) -> Tensor:
    """Swin's relative position bias: the table's rows gathered by relative position index."""
    bias = table[index].view(window * window, window * window, -1)
    return bias.permute(2, 0, 1).contiguous().unsqueeze(0)


class PositionBiasMLP(nn.Module):
    """Swin V2's continuous position bias: an MLP of the relative coordinates, gathered, then
    ``16 * sigmoid`` before it is added to the attention logits."""

    def __init__(self) -> None:
        super().__init__()
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2, bias=False))
        self.register_buffer("index", torch.arange(16).remainder(9))

    def forward(self, coords: Tensor) -> Tensor:
        bias = _get_relative_position_bias(self.cpb_mlp(coords).view(-1, 2), self.index, 2)
        return 16 * torch.sigmoid(bias)


def test_swin_v2_position_bias_gather_is_a_pass_through() -> None:
    coords = torch.randn(9, 2, generator=torch.Generator().manual_seed(0))
    row = _convert(PositionBiasMLP(), "traced")["cpb_mlp.2"]
    assert "_get_relative_position_bias" in row.detail
    assert row.activation == "16 * sigmoid(x)"
    assert _convert(PositionBiasMLP(), "run", coords)["cpb_mlp.2"].gain == row.gain


_get_relative_position_bias.__module__ = "torchvision.models.swin_transformer"
torch.fx.wrap("_get_relative_position_bias")
_patch_merging_pad.__module__ = "torchvision.models.swin_transformer"
roi_align.__module__ = "torchvision.ops.roi_align"
torch.fx.wrap("_patch_merging_pad")  # torchvision keeps them whole in a trace, as here
torch.fx.wrap("roi_align")


class SwinMerging(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj, self.reduction = nn.Linear(8, 8), nn.Linear(32, 16)
        self.conv, self.box_head = nn.Conv2d(4, 8, 1), nn.Linear(32, 8)

    def forward(self, x: Tensor) -> Tensor:
        merged = self.reduction(
            _patch_merging_pad(self.proj(x.permute(0, 2, 3, 1).repeat(1, 1, 1, 2)))
        )
        boxes = self.box_head(F.relu(roi_align(self.conv(x), 2).flatten(1)))
        return merged.mean() + boxes.mean()


def test_swin_patch_merging_and_roi_align_are_pass_throughs() -> None:
    report = _convert(SwinMerging(), "traced")
    assert report["proj"].activation == "linear"
    assert "_patch_merging_pad > next weight layer reduction" in report["proj"].detail
    assert report["conv"].activation == "relu"


class XceptionBlock(nn.Module):
    """timm's Xception block input: read by a ReLU (then separable convs) and by the shortcut,
    a conv whose output goes to its BatchNorm, which divides the scale out."""

    def __init__(self, bn_on_shortcut: bool) -> None:
        super().__init__()
        self.stem = nn.Conv2d(4, 8, 3, padding=1)
        self.sep = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 8, 1))
        self.sep_bn = nn.BatchNorm2d(8)
        self.shortcut = nn.Conv2d(8, 8, 1)
        self.shortcut_bn = nn.BatchNorm2d(8) if bn_on_shortcut else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.stem(x)
        out = self.sep_bn(self.sep(F.relu(y))) + self.shortcut_bn(self.shortcut(y))
        return out  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["traced", "run"])
def test_a_weight_op_followed_by_its_norm_leaves_the_decision_to_the_other_uses(mode: str) -> None:
    report = _convert(XceptionBlock(bn_on_shortcut=True), mode)
    assert report["stem"].activation == "relu"
    assert "pass a norm first" in report["stem"].detail
    example = _IMAGE if mode == "run" else None
    with pytest.warns(UserWarning, match="could not be inferred"):
        report = convert(XceptionBlock(bn_on_shortcut=False), reinit=False, example_inputs=example)
    assert "several different consumers" in report["stem"].detail
