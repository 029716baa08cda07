"""fan_in and fan_out of a layer, from the layer rather than from its weight's shape alone."""

from __future__ import annotations

import math

from torch import nn

__all__ = ["fans"]

TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
# Every layer kind initconv serves, in the order tables list them.
KINDS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, *TRANSPOSED, nn.Linear)

CONVOLUTIONS = KINDS[:-1]
# Each kind's name, as torch.nn.functional and calculate_gain spell it.
KIND_NAMES: dict[type[nn.Module], str] = {
    nn.Conv1d: "conv1d",
    nn.Conv2d: "conv2d",
    nn.Conv3d: "conv3d",
    nn.ConvTranspose1d: "conv_transpose1d",
    nn.ConvTranspose2d: "conv_transpose2d",
    nn.ConvTranspose3d: "conv_transpose3d",
    nn.Linear: "linear",
}


def fans(layer: nn.Module) -> tuple[float, float]:
    r"""Return ``(fan_in, fan_out)`` of a convolution or linear layer.

    For a convolution with kernel :math:`k_1 \times \dots \times k_d` and ``groups`` groups, each
    output unit sees ``in_channels / groups`` input channels and each input unit feeds
    ``out_channels / groups`` output channels:

    .. math::
        \text{fan\_in} = \frac{C_\text{in}}{G} \prod_i k_i, \qquad
        \text{fan\_out} = \frac{C_\text{out}}{G} \prod_i k_i.

    ``torch.nn.init`` reads fans off the weight's shape, which is right for ``groups=1`` but counts
    fan_out ``groups`` times too large for grouped and depthwise convolutions (pytorch#23854).

    A transposed convolution with stride :math:`s` scatters every input unit to
    :math:`(C_\text{out} / G) \prod_i k_i` outputs, and each output receives on average
    :math:`(C_\text{in} / G) \prod_i k_i / \prod_i s_i` inputs:

    .. math::
        \text{fan\_in} = \frac{C_\text{in}}{G} \frac{\prod_i k_i}{\prod_i s_i}, \qquad
        \text{fan\_out} = \frac{C_\text{out}}{G} \prod_i k_i.

    ``torch.nn.init`` swaps the two for transposed layers, whose weight is laid out
    ``(in, out / groups, *kernel)`` (pytorch#7865). Fans are floats because the transposed fan_in
    need not be whole.

    Args:
        layer: an ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` or ``nn.Linear``.

    Examples:
        >>> fans(nn.Conv2d(32, 32, 3, groups=32))
        (9.0, 9.0)
        >>> fans(nn.ConvTranspose2d(16, 8, 4, stride=2))
        (64.0, 128.0)
    """
    if isinstance(layer, nn.Linear):
        return float(layer.in_features), float(layer.out_features)
    if isinstance(layer, CONVOLUTIONS):
        taps = math.prod(layer.kernel_size)
        fan_in = layer.in_channels // layer.groups * taps
        fan_out = layer.out_channels // layer.groups * taps
        if layer.transposed:
            return fan_in / math.prod(layer.stride), float(fan_out)
        return float(fan_in), float(fan_out)
    raise TypeError(
        "layer must be a convolution (nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d) or nn.Linear, "
        f"got {type(layer).__name__}"
    )
