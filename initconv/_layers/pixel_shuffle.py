"""Pixel shuffle in any number of spatial dimensions, so ICNR serves Conv1d and Conv3d too."""

from __future__ import annotations

from torch import Tensor, nn

from initconv._validate import check_int, describe

__all__ = ["PixelShuffle", "pixel_shuffle"]


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    r"""Rearrange ``(N, C r^d, L_1, ..., L_d)`` into ``(N, C, L_1 r, ..., L_d r)``.

    ``torch.nn.functional.pixel_shuffle`` for any :math:`d \ge 1` spatial dimensions ("Real-Time
    Single Image and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural
    Network" - Shi, W. et al. (2016)). Channel :math:`c r^d + \sum_k i_k r^{d-1-k}` goes to
    position :math:`(x_1 r + i_1, \dots, x_d r + i_d)` of channel :math:`c`; for :math:`d = 2` it
    equals torch's function exactly.

    Examples:
        >>> pixel_shuffle(torch.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a Tensor, got {describe(input)}")
    r = check_int("upscale_factor", upscale_factor, minimum=1)
    if input.dim() < 3:
        raise ValueError(
            f"input must be (N, C, *spatial) with at least one spatial dim, got shape "
            f"{tuple(input.shape)}"
        )
    batch, channels, *spatial = input.shape
    d = len(spatial)
    if channels % r**d:
        raise ValueError(
            f"input's channels ({channels}) must be divisible by upscale_factor**{d} = {r**d}"
        )
    blocks = input.reshape(batch, channels // r**d, *([r] * d), *spatial)
    # (N, C, i_1..i_d, x_1..x_d) -> (N, C, x_1, i_1, ..., x_d, i_d)
    order = [0, 1]
    for k in range(d):
        order += [2 + d + k, 2 + k]
    return blocks.permute(order).reshape(batch, channels // r**d, *(n * r for n in spatial))


class PixelShuffle(nn.Module):
    """:func:`pixel_shuffle` as a module: ``nn.PixelShuffle`` for 1-d, 2-d and 3-d inputs.

    Examples:
        >>> up = nn.Sequential(initconv.ICNRConv1d(8, 4 * 2, 3, padding=1), PixelShuffle(2))
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = check_int("upscale_factor", upscale_factor, minimum=1)

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"
