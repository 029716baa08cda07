"""Six real architectures, small, written here from their published definitions (no torchvision).

- ResNet-18: He et al. (2016), "Deep residual learning for image recognition", table 1 and the
  option-B shortcut (1x1 conv + BN when the shape changes); BasicBlock as torchvision writes it.
- U-Net: Ronneberger et al. (2015), "U-Net: convolutional networks for biomedical image
  segmentation": double 3x3 conv blocks, max-pool down, 2x2 transposed-conv up, concatenation with
  the skip, 1x1 output conv.
- MobileNetV2: Sandler et al. (2018), "MobileNetV2: inverted residuals and linear bottlenecks",
  table 1: 1x1 expansion + relu6, 3x3 depthwise + relu6, linear 1x1 projection, residual when the
  shape allows.
- ConvNeXt: Liu et al. (2022), "A ConvNet for the 2020s", figure 4: depthwise 7x7, LayerNorm, 1x1
  expansion + GELU, 1x1 projection, layer scale, residual; the pointwise layers as 1x1 convs.
- A U-Net classifier: the U-Net's down path (Conv2d), up path (ConvTranspose2d) and a linear head
  on its pooled output map: every layer kind of an encoder-decoder.
- An audio classifier on raw waveforms: Dai et al. (2017), "Very deep convolutional neural networks
  for raw waveforms" (M5): a wide strided Conv1d front end, Conv1d + BatchNorm1d blocks with
  max-pooling, global average pooling and a linear head.

Widths and depths are cut down so that every test on them runs in milliseconds. Each factory takes
no arguments, so ``python -m initconv convert architectures:resnet18`` can build it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, width: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths = [width, 2 * width, 4 * width, 8 * width]
        inplanes = width
        for index, planes in enumerate(widths, start=1):
            stride = 1 if index == 1 else 2
            layer = nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes))
            self.add_module(f"layer{index}", layer)
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18() -> ResNet18:
    return ResNet18()


# Every conv -> the activation acting on its output before the next weight layer. conv2 and the
# downsample conv feed the residual add, then the block's ReLU.
RESNET18_ACTIVATIONS = {
    "conv1": "relu",
    "layer1.0.conv1": "relu",
    "layer1.0.conv2": "relu",
    "layer1.1.conv1": "relu",
    "layer1.1.conv2": "relu",
    "layer2.0.conv1": "relu",
    "layer2.0.conv2": "relu",
    "layer2.0.downsample.0": "relu",
    "layer2.1.conv1": "relu",
    "layer2.1.conv2": "relu",
    "layer3.0.conv1": "relu",
    "layer3.0.conv2": "relu",
    "layer3.0.downsample.0": "relu",
    "layer3.1.conv1": "relu",
    "layer3.1.conv2": "relu",
    "layer4.0.conv1": "relu",
    "layer4.0.conv2": "relu",
    "layer4.0.downsample.0": "relu",
    "layer4.1.conv1": "relu",
    "layer4.1.conv2": "relu",
    "fc": "linear",
}


class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)  # type: ignore[no-any-return]


class Up(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)
        # Pad to the skip's size when the input side was odd (the paper crops instead).
        dy = skip.size()[2] - x.size()[2]
        dx = skip.size()[3] - x.size()[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))  # type: ignore[no-any-return]


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 2, width: int = 8) -> None:
        super().__init__()
        self.inc = DoubleConv(in_channels, width)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(width, 2 * width))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(2 * width, 4 * width))
        self.up1 = Up(4 * width, 2 * width)
        self.up2 = Up(2 * width, width)
        self.outc = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up2(self.up1(x3, x2), x1)
        return self.outc(x)  # type: ignore[no-any-return]


def unet() -> UNet:
    return UNet()


# The output conv produces the logits: nothing acts on it.
UNET_ACTIVATIONS = {
    "inc.block.0": "relu",
    "inc.block.3": "relu",
    "down1.1.block.0": "relu",
    "down1.1.block.3": "relu",
    "down2.1.block.0": "relu",
    "down2.1.block.3": "relu",
    # The transposed up-convs feed the concatenation and then a conv.
    "up1.up": "linear",
    "up2.up": "linear",
    "up1.conv.block.0": "relu",
    "up1.conv.block.3": "relu",
    "up2.conv.block.0": "relu",
    "up2.conv.block.3": "relu",
    "outc": "linear",
}


class ConvBNReLU6(nn.Sequential):
    def __init__(self, inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(inp, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            # The linear bottleneck: no activation after the projection (section 3.2).
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)  # type: ignore[no-any-return]
        return self.conv(x)  # type: ignore[no-any-return]


class MobileNetV2(nn.Module):
    # (expansion t, channels c, repeats n, first stride s), table 1 cut down.
    SETTINGS = ((1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2))

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, 8, stride=2)]
        inp = 8
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        layers.append(ConvBNReLU6(inp, 64, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))  # type: ignore[no-any-return]


class UNetClassifier(UNet):
    """The U-Net's paths; its output map, through a GELU and global average pooling, feeds a linear
    head."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 8) -> None:
        super().__init__(in_channels, width, width)
        self.act = nn.GELU()
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = self.act(super().forward(x))
        return self.head(features.mean(dim=(2, 3)))  # type: ignore[no-any-return]


def unet_classifier() -> UNetClassifier:
    return UNetClassifier()


UNET_CLASSIFIER_ACTIVATIONS = {
    **{name: act for name, act in UNET_ACTIVATIONS.items() if name != "outc"},
    "outc": "gelu",
    "head": "linear",
}


class AudioNet(nn.Module):
    """M5 (Dai et al. 2017), narrowed: 80-tap stride-4 front end, then 3-tap blocks."""

    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, width, 80, stride=4),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Conv1d(width, width, 3),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Conv1d(width, 2 * width, 3),
            nn.BatchNorm1d(2 * width),
            nn.LeakyReLU(0.1),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(dim=2))  # type: ignore[no-any-return]


def audio() -> AudioNet:
    return AudioNet()


AUDIO_ACTIVATIONS = {
    "features.0": "relu",
    "features.4": "relu",
    "features.8": "leaky_relu(negative_slope=0.1)",
    "head": "linear",
}


def mobilenet_v2() -> MobileNetV2:
    return MobileNetV2()


MOBILENET_V2_ACTIVATIONS = {
    "features.0.0": "relu6",
    # t = 1: no expansion, depthwise then projection.
    "features.1.conv.0.0": "relu6",
    "features.1.conv.1": "linear",
    "features.2.conv.0.0": "relu6",
    "features.2.conv.1.0": "relu6",
    "features.2.conv.2": "linear",
    "features.3.conv.0.0": "relu6",
    "features.3.conv.1.0": "relu6",
    "features.3.conv.2": "linear",
    "features.4.conv.0.0": "relu6",
    "features.4.conv.1.0": "relu6",
    "features.4.conv.2": "linear",
    "features.5.conv.0.0": "relu6",
    "features.5.conv.1.0": "relu6",
    "features.5.conv.2": "linear",
    "features.6.0": "relu6",
    "classifier.1": "linear",
}


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor, as timm's ``LayerNorm2d``."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Conv2d(dim, 4 * dim, 1)
        self.act = nn.GELU()
        self.pwconv2 = nn.Conv2d(4 * dim, dim, 1)
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        y = self.pwconv2(self.act(self.pwconv1(self.norm(self.dwconv(x)))))
        return x + self.gamma * y


class ConvNeXt(nn.Module):
    def __init__(self, dims: tuple[int, int] = (16, 32), num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0]))
        self.stage1 = nn.Sequential(ConvNeXtBlock(dims[0]), ConvNeXtBlock(dims[0]))
        self.downsample = nn.Sequential(
            LayerNorm2d(dims[0]), nn.Conv2d(dims[0], dims[1], 2, stride=2)
        )
        self.stage2 = nn.Sequential(ConvNeXtBlock(dims[1]))
        self.norm = nn.LayerNorm(dims[1])
        self.head = nn.Linear(dims[1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stage2(self.downsample(self.stage1(self.stem(x))))
        # Global average pooling, then the head's LayerNorm and Linear.
        return self.head(self.norm(x.mean([-2, -1])))  # type: ignore[no-any-return]


def convnext() -> ConvNeXt:
    return ConvNeXt()


# Only the conv that GELU follows is "gelu": the depthwise conv feeds a LayerNorm and then a 1x1
# conv, the projection feeds the residual add, and the head produces the logits.
CONVNEXT_ACTIVATIONS = {
    "stem.0": "linear",
    "stage1.0.dwconv": "linear",
    "stage1.0.pwconv1": "gelu",
    "stage1.0.pwconv2": "linear",
    "stage1.1.dwconv": "linear",
    "stage1.1.pwconv1": "gelu",
    "stage1.1.pwconv2": "linear",
    "downsample.1": "linear",
    "stage2.0.dwconv": "linear",
    "stage2.0.pwconv1": "gelu",
    "stage2.0.pwconv2": "linear",
    "head": "linear",
}

ARCHITECTURES = {
    "resnet18": (resnet18, RESNET18_ACTIVATIONS),
    "unet": (unet, UNET_ACTIVATIONS),
    "unet_classifier": (unet_classifier, UNET_CLASSIFIER_ACTIVATIONS),
    "audio": (audio, AUDIO_ACTIVATIONS),
    "mobilenet_v2": (mobilenet_v2, MOBILENET_V2_ACTIVATIONS),
    "convnext": (convnext, CONVNEXT_ACTIVATIONS),
}

# The input each architecture takes: images, except the audio model's raw waveforms.
INPUT_SHAPES: dict[str, tuple[int, ...]] = {"audio": (2, 1, 2048)}
IMAGE_SHAPE = (2, 3, 32, 32)
