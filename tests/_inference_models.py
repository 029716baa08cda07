"""Small models, written here, with the patterns that real model zoos use around their convs.

Each model has ``EXPECTED``: every conv's activation by the rule (the one acting on its output
before the next weight layer; norms, dropout, pooling, reshapes, reductions and residual adds
skipped; a squeeze-excite gate branch is not a consumer), or ``None`` where the rule cannot decide
and convert() must fall back and warn. ``INPUT`` is an input shape the model runs on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

INPUT = (2, 4, 8, 8)

# --- Norm layers that apply an activation in their own forward --------------------------------


class BatchNormAct(nn.BatchNorm2d):
    """A BatchNorm2d that applies an activation module it holds (timm's BatchNormAct2d idea)."""

    def __init__(self, channels: int, act: nn.Module) -> None:
        super().__init__(channels)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        return self.act(super().forward(x))  # type: ignore[no-any-return]


class BatchNormSiLU(nn.BatchNorm2d):
    """A BatchNorm2d that applies SiLU functionally."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(super().forward(x))


class GroupNormGELU(nn.GroupNorm):
    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(super().forward(x))


class LayerNormHardswish(nn.LayerNorm):
    """A channels-first LayerNorm (over C, H, W) followed by hard-swish."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardswish(super().forward(x))


class NormActNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, padding=1)
        self.norm1 = BatchNormAct(8, nn.ReLU(inplace=True))
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.norm2 = BatchNormSiLU(8)
        self.conv3 = nn.Conv2d(8, 8, 1)
        self.norm3 = BatchNormAct(8, nn.LeakyReLU(0.2))
        self.conv4 = nn.Conv2d(8, 8, 1)
        self.norm4 = GroupNormGELU(2, 8)
        self.conv5 = nn.Conv2d(8, 8, 1)
        self.norm5 = LayerNormHardswish([8, 8, 8])
        self.conv6 = nn.Conv2d(8, 8, 1)
        self.norm6 = BatchNormAct(8, nn.Hardswish())

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(self.conv1(x))
        x = self.norm2(self.conv2(x))
        x = self.norm3(self.conv3(x))
        x = self.norm4(self.conv4(x))
        x = self.norm5(self.conv5(x))
        return self.norm6(self.conv6(x))  # type: ignore[no-any-return]


NORM_ACT_EXPECTED = {
    "conv1": "relu",
    "conv2": "silu",
    "conv3": "leaky_relu(negative_slope=0.2)",
    "conv4": "gelu",
    "conv5": "hardswish",
    "conv6": "hardswish",
}


def norm_act_sequential() -> nn.Sequential:
    """The same modules in an nn.Sequential, the shape timm's ConvNormAct blocks take."""
    return nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1),
        BatchNormAct(8, nn.ReLU(inplace=True)),
        nn.Conv2d(8, 8, 1),
        BatchNormSiLU(8),
        nn.Conv2d(8, 8, 1),
    )


NORM_ACT_SEQUENTIAL_EXPECTED = {"0": "relu", "2": "silu", "4": "linear"}

# --- Modules with parameters that are not weight layers ---------------------------------------


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of an NCHW tensor, written out (ConvNeXt's LayerNorm2d idea)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class LearnableSwish(nn.Module):
    """x * sigmoid(beta x) with a learnt beta: no gain is known for it."""

    def __init__(self) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x)


def parametrised_sequential() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(4, 8, 1),
        nn.Conv2d(8, 8, 1),
        ChannelLayerNorm(8),
        nn.GELU(),
        nn.Conv2d(8, 8, 1),
        LearnableSwish(),
        nn.Conv2d(8, 8, 1),
    )


# The conv before the learnable swish: x * sigmoid(beta x) is one function of the conv's output,
# read with the parameter's value: at beta = 1 it is swish.
PARAMETRISED_EXPECTED = {"0": "linear", "1": "gelu", "4": "silu", "6": "linear"}

# --- Attention through F.scaled_dot_product_attention --------------------------------------------


class ConvAttention(nn.Module):
    """Self-attention over the pixels, with 1x1 convs for qkv and the output projection."""

    def __init__(self, channels: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(x).reshape(b, 3, self.heads, c // self.heads, h * w).transpose(-1, -2)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(-1, -2).reshape(b, c, h, w))  # type: ignore[no-any-return]


class AttentionNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(4, 8, 3, padding=1)
        self.attn = ConvAttention()
        self.head = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.stem(x))
        x = x + self.attn(x)
        return self.head(F.gelu(x))  # type: ignore[no-any-return]


ATTENTION_EXPECTED = {"stem": "relu", "attn.qkv": "linear", "attn.proj": "gelu", "head": "linear"}

# --- Paths stacked and summed --------------------------------------------------------------------


class SummedPaths(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 8, 3, padding=1)
        self.b = nn.Conv2d(4, 8, 1)
        self.c = nn.Conv2d(8, 8, 1)
        self.d = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(torch.stack([self.a(x), self.b(x)]).sum(dim=0))
        y = torch.tanh(torch.stack([self.c(x), self.d(x)], dim=0).mean(0))
        return y


SUMMED_EXPECTED = {"a": "relu", "b": "relu", "c": "tanh", "d": "tanh"}

# --- Squeeze-excite gates ------------------------------------------------------------------------


class SqueezeExcite(nn.Module):
    """Hu et al. (2018): x * sigmoid(W2 relu(W1 mean(x)))."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.expand(F.relu(self.reduce(scale)))
        return x * torch.sigmoid(scale)


class SEBottleneck(nn.Module):
    """SE-ResNet's block: the gate acts on the last conv's normed output before the residual add
    and the block's ReLU."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.stem = nn.Conv2d(4, channels, 1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = SqueezeExcite(channels, 2)
        self.pool_gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, 2, 1), nn.SiLU(), nn.Conv2d(2, channels, 1)
        )
        self.conv3 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.stem(x))
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        out = F.relu(out + x)
        # A second form: the gate written with a pooling module, in-place multiply.
        y = self.conv3(out)
        gate = torch.sigmoid(self.pool_gate(y))
        return F.gelu(y.mul_(gate))


SE_EXPECTED = {
    "stem": "relu",
    "conv1": "relu",
    "conv2": "relu",
    "se.reduce": "relu",
    "se.expand": "sigmoid",
    "pool_gate.1": "silu",
    "pool_gate.3": "sigmoid",
    "conv3": "gelu",
}

# --- Inverted residual blocks with in-place activations ---------------------------------------


class InvertedResidual(nn.Module):
    """MobileNetV3's block (Howard et al. 2019): 1x1 expansion, hard-swish, depthwise 3x3, ReLU,
    squeeze-excite with a hard-sigmoid gate, linear 1x1 projection, residual add."""

    def __init__(self, channels: int = 8, expanded: int = 16) -> None:
        super().__init__()
        self.expand = nn.Sequential(
            nn.Conv2d(channels, expanded, 1, bias=False),
            nn.BatchNorm2d(expanded),
            nn.Hardswish(inplace=True),
        )
        self.dw = nn.Conv2d(expanded, expanded, 3, padding=1, groups=expanded, bias=False)
        self.bn = nn.BatchNorm2d(expanded)
        self.act = nn.ReLU(inplace=True)
        self.se_reduce = nn.Conv2d(expanded, 4, 1)
        self.se_expand = nn.Conv2d(4, expanded, 1)
        self.project = nn.Conv2d(expanded, channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x)
        y = self.act(self.bn(self.dw(y)))
        gate = F.hardsigmoid(self.se_expand(F.relu(self.se_reduce(y.mean((2, 3), keepdim=True)))))
        y = y * gate
        y = self.project_bn(self.project(y))
        y += x
        return y


class MobileNetV3ish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Hardswish())
        self.blocks = nn.Sequential(InvertedResidual(), InvertedResidual())
        self.head = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))  # type: ignore[no-any-return]


MOBILENETV3_EXPECTED = {
    "stem.0": "hardswish",
    **{
        f"blocks.{i}.{name}": activation
        for i in range(2)
        for name, activation in {
            "expand.0": "hardswish",
            "dw": "relu",
            "se_reduce": "relu",
            "se_expand": "hardsigmoid",
            "project": "linear",
        }.items()
    },
    "head": "linear",
}

# --- A forward with side effects -----------------------------------------------------------------


class SideEffects(nn.Module):
    """Stores a feature map, counts its calls in an attribute and a buffer, draws dropout noise
    and updates BatchNorm statistics: everything a forward pass may change."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Conv2d(8, 8, 1)
        self.calls = 0
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        self.features = self.conv(x)
        self.calls += 1
        self.seen += 1
        return self.out(self.drop(F.silu(self.bn(self.features))))  # type: ignore[no-any-return]


SIDE_EFFECTS_EXPECTED = {"conv": "silu", "out": "linear"}

# --- Data-dependent control flow ----------------------------------------------------------------


class DataDependentBranch(nn.Module):
    """Control flow on a value of the conv's output: torch.fx cannot trace it, a run can."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.out = nn.Conv2d(8, 8, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if bool(y.abs().sum() > 0):
            y = F.elu(y)
        return self.out(y)  # type: ignore[no-any-return]


DATA_DEPENDENT_EXPECTED = {"conv": "elu", "out": "linear"}
