"""The layer kinds: each pairs :class:`InitLayer` with one torch layer class.

A kind keeps its torch class's signature and argument order, adds the keyword-only options
(``activation``, ``gain``, ``bias_init``, ``seed`` and the scheme's own), and tells the scheme how its
weight is laid out. Pair a kind with a scheme to get a layer: ``KaimingNormalConv2d`` is
``KaimingNormal`` + ``InitConv2d``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from initconv._activations import ActivationSpec
from initconv._layers.base import BiasInitArg, InitLayer
from initconv._layers.pairing import layer_class
from initconv._schemes.base import Layout, Scheme

__all__ = [
    "InitConv1d",
    "InitConv2d",
    "InitConv3d",
    "InitConvTranspose1d",
    "InitConvTranspose2d",
    "InitConvTranspose3d",
    "InitLinear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "linear",
]

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
Device = torch.device | str | None
# Sizes per spatial dimension, as torch's layers take them: an int for every dimension, or one each.
Size1 = int | tuple[int]
Size2 = int | tuple[int, int]
Size3 = int | tuple[int, int, int]


class _Convolution(InitLayer):
    """What every convolution kind shares: its layout and the arguments that rebuild it."""

    if TYPE_CHECKING:  # torch's _ConvNd attributes; hidden from torch.jit.script
        in_channels: int
        out_channels: int
        kernel_size: tuple[int, ...]
        stride: tuple[int, ...]
        padding: str | tuple[int, ...]
        dilation: tuple[int, ...]
        output_padding: tuple[int, ...]
        groups: int
        padding_mode: PaddingMode
        transposed: bool

    @property
    def layout(self) -> Layout:
        return Layout(self.groups, tuple(self.kernel_size), tuple(self.stride), self.transposed)

    def torch_arguments(self) -> dict[str, Any]:
        return convolution_arguments(self)


def convolution_arguments(conv: Any) -> dict[str, Any]:
    """The constructor arguments of a torch convolution that rebuild its shape."""
    arguments = {
        name: getattr(conv, name)
        for name in (
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
        )
    }
    if conv.transposed:
        arguments["output_padding"] = conv.output_padding
    arguments["bias"] = conv.bias is not None
    return arguments


def linear_arguments(layer: Any) -> dict[str, Any]:
    """The constructor arguments of a torch linear layer that rebuild its shape."""
    return {
        "in_features": layer.in_features,
        "out_features": layer.out_features,
        "bias": layer.bias is not None,
    }


class InitConv1d(_Convolution, nn.Conv1d):
    """An ``nn.Conv1d`` that initialises itself by its scheme; pair it with one to build it."""

    torch_kind = nn.Conv1d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size1,
        stride: Size1 = 1,
        padding: str | Size1 = 0,
        dilation: Size1 = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: PaddingMode = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.Conv1d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
            bias, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitConv2d(_Convolution, nn.Conv2d):
    """An ``nn.Conv2d`` that initialises itself by its scheme; pair it with one to build it.

    The route of writing a scheme for ``nn.Conv2d`` alone: subclass it with ``scheme=`` and the
    hooks (:class:`~initconv.Scheme` lists them); options are keyword-only arguments of your
    ``__init__``, stored before ``super().__init__()``.
    """

    torch_kind = nn.Conv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        stride: Size2 = 1,
        padding: str | Size2 = 0,
        dilation: Size2 = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: PaddingMode = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.Conv2d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
            bias, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitConv3d(_Convolution, nn.Conv3d):
    """An ``nn.Conv3d`` that initialises itself by its scheme; pair it with one to build it."""

    torch_kind = nn.Conv3d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: str | Size3 = 0,
        dilation: Size3 = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: PaddingMode = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.Conv3d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
            bias, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitConvTranspose1d(_Convolution, nn.ConvTranspose1d):
    """An ``nn.ConvTranspose1d`` that initialises itself by its scheme, with the stride-aware
    fans of :func:`initconv.fans`; pair it with a scheme to build it."""

    torch_kind = nn.ConvTranspose1d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size1,
        stride: Size1 = 1,
        padding: Size1 = 0,
        output_padding: Size1 = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Size1 = 1,
        padding_mode: Literal["zeros"] = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.ConvTranspose1d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
            groups, bias, dilation, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitConvTranspose2d(_Convolution, nn.ConvTranspose2d):
    """An ``nn.ConvTranspose2d`` that initialises itself by its scheme, with the stride-aware
    fans of :func:`initconv.fans`; pair it with a scheme to build it."""

    torch_kind = nn.ConvTranspose2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        stride: Size2 = 1,
        padding: Size2 = 0,
        output_padding: Size2 = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Size2 = 1,
        padding_mode: Literal["zeros"] = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.ConvTranspose2d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
            groups, bias, dilation, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitConvTranspose3d(_Convolution, nn.ConvTranspose3d):
    """An ``nn.ConvTranspose3d`` that initialises itself by its scheme, with the stride-aware
    fans of :func:`initconv.fans`; pair it with a scheme to build it."""

    torch_kind = nn.ConvTranspose3d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size3,
        stride: Size3 = 1,
        padding: Size3 = 0,
        output_padding: Size3 = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Size3 = 1,
        padding_mode: Literal["zeros"] = "zeros",
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.ConvTranspose3d.__init__(
            self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
            groups, bias, dilation, padding_mode, device, dtype,
        )  # fmt: skip
        self._constructed = True


class InitLinear(InitLayer, nn.Linear):
    """An ``nn.Linear`` that initialises itself by its scheme; pair it with one to build it."""

    torch_kind = nn.Linear

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Device = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInitArg = None,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        self._take_options(activation, gain, bias_init, seed, options, dtype)
        nn.Linear.__init__(self, in_features, out_features, bias, device, dtype)
        self._constructed = True

    @property
    def layout(self) -> Layout:
        return Layout(1, (), (), False)

    def torch_arguments(self) -> dict[str, Any]:
        return linear_arguments(self)


# One factory per kind, for config-driven code: conv2d(cfg.init, 64, 128, 3, activation="gelu").

SchemeSpec = str | type[Scheme]


def conv1d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConv1d:
    """Build the ``nn.Conv1d`` of ``scheme`` (a name or a scheme); the rest go to its constructor."""
    layer: InitConv1d = layer_class(scheme, nn.Conv1d)(*args, **kwargs)
    return layer


def conv2d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConv2d:
    """Build the ``nn.Conv2d`` of ``scheme`` (a name or a scheme); the rest go to its constructor.

    For config-driven code: ``conv2d(cfg.init, 64, 128, 3, padding=1, activation="gelu")``.
    """
    layer: InitConv2d = layer_class(scheme, nn.Conv2d)(*args, **kwargs)
    return layer


def conv3d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConv3d:
    """Build the ``nn.Conv3d`` of ``scheme`` (a name or a scheme); the rest go to its constructor."""
    layer: InitConv3d = layer_class(scheme, nn.Conv3d)(*args, **kwargs)
    return layer


def conv_transpose1d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConvTranspose1d:
    """Build the ``nn.ConvTranspose1d`` of ``scheme``; the rest go to its constructor."""
    layer: InitConvTranspose1d = layer_class(scheme, nn.ConvTranspose1d)(*args, **kwargs)
    return layer


def conv_transpose2d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConvTranspose2d:
    """Build the ``nn.ConvTranspose2d`` of ``scheme``; the rest go to its constructor."""
    layer: InitConvTranspose2d = layer_class(scheme, nn.ConvTranspose2d)(*args, **kwargs)
    return layer


def conv_transpose3d(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitConvTranspose3d:
    """Build the ``nn.ConvTranspose3d`` of ``scheme``; the rest go to its constructor."""
    layer: InitConvTranspose3d = layer_class(scheme, nn.ConvTranspose3d)(*args, **kwargs)
    return layer


def linear(scheme: SchemeSpec, *args: Any, **kwargs: Any) -> InitLinear:
    """Build the ``nn.Linear`` of ``scheme`` (a name or a scheme); the rest go to its constructor."""
    layer: InitLinear = layer_class(scheme, nn.Linear)(*args, **kwargs)
    return layer
