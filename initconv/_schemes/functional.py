"""In-place tensor initialisers. Every random one takes ``generator=``, as ``torch.nn.init`` does.

A weight is laid out with its groups along dim 0: ``(out, in / groups, *kernel)`` for a
convolution, ``(in, out / groups, *kernel)`` for a transposed one, ``(out, in)`` for a linear
layer. The structured initialisers take that layout as it is, so the same call serves every kind;
``delta_orthogonal_`` alone needs to know which of the two channel dims is the output.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from initconv._maths.sampling import (
    DISTRIBUTIONS,
    FAN_MODES,
    REACH,
    Distribution,
    FanMode,
    draw_zero_mean_,
    std_for,
)
from initconv._validate import (
    check_bool,
    check_choice,
    check_draw,
    check_entries,
    check_exact,
    check_fans,
    check_fits,
    check_float_tensor,
    check_int,
    check_nonnegative,
    describe,
)

__all__ = [
    "delta_orthogonal_",
    "icnr_",
    "identity_",
    "orthogonal_",
    "variance_scaling_",
]


def weight_fans(tensor: Tensor) -> tuple[float, float]:
    """``(fan_in, fan_out)`` read off a weight's shape, as ``torch.nn.init`` does.

    Right for convolutions with ``groups=1`` and linear layers; :func:`initconv.fans` gives the
    fans of grouped and transposed layers.
    """
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor must have at least 2 dimensions to have fans, got shape {tuple(tensor.shape)}"
        )
    taps = math.prod(tensor.shape[2:])
    return float(tensor.shape[1] * taps), float(tensor.shape[0] * taps)


def _is_empty(tensor: Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


def variance_scaling_(
    tensor: Tensor,
    gain: float = 1.0,
    mode: FanMode = "fan_in",
    distribution: Distribution = "truncated_normal",
    *,
    fans: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill ``tensor`` with zero-mean values of variance ``gain**2 / fan``.

    The form of ``jax.nn.initializers.variance_scaling`` (whose ``scale`` is ``gain**2`` here),
    and the maths of the Kaiming, Xavier and LeCun schemes, which call the same sampler:

    .. math::
        \operatorname{Var}(W) = \frac{g^2}{n}, \qquad n = \begin{cases}
            \text{fan\_in} & \text{mode = fan\_in} \\
            \text{fan\_out} & \text{mode = fan\_out} \\
            (\text{fan\_in} + \text{fan\_out}) / 2 & \text{mode = fan\_avg}
        \end{cases}

    ``distribution`` is ``"normal"`` (:math:`\mathcal{N}(0, \sigma^2)`), ``"uniform"``
    (:math:`\mathcal{U}(-\sqrt{3}\sigma, \sqrt{3}\sigma)`) or ``"truncated_normal"`` (a normal cut at
    two of its standard deviations, its scale divided by 0.8796256610342398 so that the variance of
    the result is exactly :math:`\sigma^2`; ``torch.nn.init.trunc_normal_`` does not correct it).

    Kaiming: ``gain`` for the activation, ``mode="fan_in"`` (He et al. (2015), "Delving deep into
    rectifiers"). Xavier: ``mode="fan_avg"`` (Glorot and Bengio (2010), "Understanding the
    difficulty of training deep feedforward neural networks"). LeCun: ``gain=1``, ``mode="fan_in"``
    (LeCun et al. (1998), "Efficient BackProp").

    Args:
        tensor: the tensor to fill in place.
        gain: the gain :math:`g`, at least 0.
        mode: which fan divides the variance.
        distribution: the distribution's family.
        fans: ``(fan_in, fan_out)``; read from a ``(out, in, *kernel)`` layout when ``None``. Pass
            :func:`initconv.fans` of the layer for grouped or transposed convolutions.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 32, 3, 3)
        >>> _ = variance_scaling_(w, gain=2**0.5, mode="fan_in", distribution="normal")
    """
    check_float_tensor("tensor", tensor)
    gain = check_nonnegative("gain", gain)
    check_choice("mode", mode, FAN_MODES)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    given = None if fans is None else check_fans(fans)
    if _is_empty(tensor):
        return tensor
    fan_in, fan_out = weight_fans(tensor) if given is None else given
    std = std_for(gain, fan_in, fan_out, mode)
    check_draw(
        f"gain={gain!r} ({mode} {fan_in:g}, {fan_out:g})", tensor.dtype, std, REACH[distribution]
    )
    with torch.no_grad():
        draw_zero_mean_(tensor, std, distribution, generator)
    return tensor


# --- Structured initialisers: orthogonal, delta-orthogonal, identity, ICNR. ---


def _check_layout(tensor: Tensor, groups: object, min_dim: int) -> int:
    """Validate a weight with its groups along dim 0, and ``groups``; return ``groups``."""
    check_float_tensor("tensor", tensor)
    if tensor.dim() < min_dim:
        raise ValueError(
            f"tensor must have at least {min_dim} dimensions, got shape {tuple(tensor.shape)}"
        )
    count = check_int("groups", groups, minimum=1)
    if tensor.shape[0] % count:
        raise ValueError(
            f"groups must be a positive divisor of dim 0 ({tensor.shape[0]}), got {groups!r}"
        )
    return count


def qr_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype QR runs in: float64 for float64, float32 for everything else.

    ``torch.linalg.qr`` has no float16/bfloat16 kernels (pytorch#9315), so those are computed in
    float32 and cast back once, at the end.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def centre(kernel_size: tuple[int, ...]) -> tuple[int, ...]:
    """The centre tap ``(k - 1) // 2`` of each kernel dimension.

    For an even ``k`` this is the tap that ``padding="same"`` aligns with the output pixel (torch and
    TF/JAX pad ``(k - 1) // 2`` on the leading side), so a Dirac kernel there is the identity map
    with no shift. It is JAX's and TF's choice for delta-orthogonal; ``torch.nn.init.dirac_`` uses
    ``k // 2``, which shifts by one pixel under ``padding="same"``. Odd kernels agree.
    """
    return tuple((k - 1) // 2 for k in kernel_size)


def orthogonal_matrix(
    rows: int,
    cols: int,
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator | None,
) -> Tensor:
    """A ``rows x cols`` matrix with orthonormal rows (rows <= cols) or columns (otherwise).

    Draws exactly what ``torch.nn.init.orthogonal_`` draws, in the same order, so the same generator
    gives the same matrix in float32 and float64.
    """
    flat = torch.empty((rows, cols), dtype=dtype, device=device).normal_(0, 1, generator=generator)
    if rows < cols:
        flat = flat.t()
    q, r = torch.linalg.qr(flat)
    # Q times sign(diag R) is Haar-distributed: Mezzadri (2007), "How to generate random matrices
    # from the classical compact groups". A zero on the diagonal (probability 0) keeps its column.
    signs = torch.diagonal(r).sign()
    q *= torch.where(signs == 0, torch.ones_like(signs), signs)
    result: Tensor = q.t() if rows < cols else q
    return result


def orthogonal_(
    tensor: Tensor,
    gain: float = 1.0,
    *,
    groups: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill ``tensor`` with a (semi-)orthogonal matrix times ``gain``, one per group.

    Described in "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks", Saxe, A. et al. (2013). Each group's block of ``shape[0] / groups`` rows, flattened
    to :math:`W_g \in \mathbb{R}^{r \times c}`, :math:`c = \prod_{i \ge 1} \text{shape}_i`, satisfies

    .. math::
        W_g W_g^\top = g^2 I_r \quad (r \le c), \qquad W_g^\top W_g = g^2 I_c \quad (r > c).

    For a transposed convolution, whose weight is ``(in, out / groups, *kernel)``, the rows are its
    input channels: with non-overlapping taps (stride = kernel) and ``in <= out * taps`` the layer
    is then an isometry times ``gain``.

    Unlike ``torch.nn.init.orthogonal_``, it works for float16 and bfloat16 tensors (QR runs in
    float32 and the result is cast back once) and for grouped convolutions. With ``groups=1`` and a
    float32 or float64 tensor it equals ``torch.nn.init.orthogonal_`` bit for bit for the same
    generator.

    Args:
        tensor: a tensor of at least 2 dimensions, its groups along dim 0.
        gain: the gain :math:`g`, at least 0.
        groups: the layer's groups; must divide ``tensor.shape[0]``.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 16, 3, 3, dtype=torch.bfloat16)
        >>> _ = orthogonal_(w, gain=2**0.5, groups=2)
    """
    groups = _check_layout(tensor, groups, 2)
    gain = check_nonnegative("gain", gain)
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    rows, cols = tensor.shape[0] // groups, tensor[0].numel()
    check_entries(gain, tensor, max(rows, cols))
    dtype = qr_dtype(tensor.dtype)
    with torch.no_grad():
        # Each block goes straight into its rows: a cat would add one more full (transposed) copy.
        target = tensor if tensor.is_contiguous() else tensor.new_empty(tensor.shape)
        out = target.view(groups, rows, cols)
        for g in range(groups):
            out[g].copy_(orthogonal_matrix(rows, cols, dtype, tensor.device, generator).mul_(gain))
        if target is not tensor:
            tensor.copy_(target)
    return tensor


def delta_orthogonal_(
    tensor: Tensor,
    gain: float = 1.0,
    *,
    groups: int = 1,
    transposed: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill a convolution weight with the delta-orthogonal kernel: orthogonal at the centre tap,
    zero everywhere else.

    Described in "Dynamical isometry and a mean field theory of CNNs: How to train 10,000-layer
    vanilla convolutional neural networks", Xiao, L. et al. (2018). With :math:`t` the centre tap
    (:func:`centre`: :math:`(k - 1) // 2` per dimension) and :math:`H_g` group :math:`g`'s
    :math:`(C_\text{out}/G) \times (C_\text{in}/G)` map from inputs to outputs at that tap,

    .. math::
        H_g^\top H_g = g^2 I, \qquad W[:, :, s] = 0 \quad (s \ne t),

    so each pixel's channel vector is mapped by an isometry times :math:`g`. A convolution stores
    :math:`H_g` at the tap, a transposed convolution (``transposed=True``, weight
    ``(in, out / groups, *kernel)``) its transpose. The construction needs
    :math:`C_\text{out} \ge C_\text{in}`; a ValueError says so otherwise. Each block is what
    ``torch.nn.init.orthogonal_`` draws for a tensor of the stored block's shape from the same
    generator.

    Args:
        tensor: a convolution weight of at least 3 dimensions, its groups along dim 0.
        gain: the gain :math:`g`, at least 0.
        groups: the convolution's groups; must divide ``tensor.shape[0]``.
        transposed: whether ``tensor`` is a transposed convolution's weight.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 32, 3, 3)
        >>> _ = delta_orthogonal_(w, gain=1.0)
    """
    groups = _check_layout(tensor, groups, 3)
    gain = check_nonnegative("gain", gain)
    transposed = check_bool("transposed", transposed)
    rows, cols = tensor.shape[0] // groups, tensor.shape[1]
    check_entries(gain, tensor, max(rows, cols))
    outputs, inputs = (cols, rows) if transposed else (rows, cols)
    if outputs < inputs:
        raise ValueError(
            "delta-orthogonal needs out_channels >= in_channels: its centre tap maps each pixel's "
            "inputs to its outputs by an out x in matrix H with H^T H = g^2 I (Xiao et al. 2018), "
            f"which does not exist for out < in; got out_channels={outputs * groups}, "
            f"in_channels={inputs * groups}, groups={groups} (transposed={transposed}: the "
            "weight's dim 0 is its inputs). The orthogonal scheme serves out < in."
        )
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    dtype = qr_dtype(tensor.dtype)
    blocks = [orthogonal_matrix(rows, cols, dtype, tensor.device, generator) for _ in range(groups)]
    kernel = torch.zeros(tensor.shape, dtype=dtype, device=tensor.device)
    tap: tuple[slice | int, ...] = (slice(None), slice(None), *centre(tuple(tensor.shape[2:])))
    kernel[tap] = torch.cat(blocks) * gain
    with torch.no_grad():
        tensor.copy_(kernel)
    return tensor


def identity_(tensor: Tensor, gain: float = 1.0, *, groups: int = 1) -> Tensor:
    r"""Fill a weight with a Dirac kernel (an identity matrix for a linear layer) times ``gain``.

    Channel :math:`d` along dim 0 of each group is joined to channel :math:`d` along dim 1 through
    the centre tap :math:`t` (:func:`centre`), for :math:`d < m = \min(\text{shape}_0 / G,
    \text{shape}_1)`:

    .. math::
        W[g\,\text{shape}_0/G + d,\ d,\ t] = g, \qquad \text{every other entry } 0.

    With as many inputs as outputs the layer is :math:`g` times the identity map (for a
    convolution with ``padding="same"``, even kernels included; for a transposed convolution with
    stride 1 and padding :math:`t`). Otherwise it is the partial identity of ZerO (Zhao, J. et al.
    (2022), "ZerO initialization: Initializing neural networks with only zeros and ones"): extra
    outputs are zero and extra inputs are dropped. Deterministic; the same as
    ``torch.nn.init.dirac_(tensor, groups)`` times ``gain`` for odd kernels, and as
    ``torch.nn.init.eye_`` times ``gain`` for a 2-d tensor.

    Args:
        tensor: a weight of at least 2 dimensions, its groups along dim 0.
        gain: the value on the diagonal, at least 0.
        groups: the layer's groups; must divide ``tensor.shape[0]``.

    Examples:
        >>> w = torch.empty(16, 16, 3, 3)
        >>> _ = identity_(w)
    """
    groups = _check_layout(tensor, groups, 2)
    gain = check_fits("gain", check_nonnegative("gain", gain), tensor.dtype)
    check_exact("gain", gain, tensor.dtype)
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    rows = tensor.shape[0] // groups
    diagonal = torch.arange(min(rows, tensor.shape[1]), device=tensor.device)
    outputs = (torch.arange(groups, device=tensor.device)[:, None] * rows + diagonal).flatten()
    inputs = diagonal.repeat(groups)
    with torch.no_grad():
        tensor.zero_()
        taps: tuple[Tensor | int, ...] = (outputs, inputs, *centre(tuple(tensor.shape[2:])))
        tensor[taps] = gain
    return tensor


def icnr_repeats(upscale_factor: object, dims: int) -> int:
    """``upscale_factor ** dims``: the output channels that one ICNR filter fills."""
    factor = check_int("upscale_factor", upscale_factor, minimum=1)
    return int(factor**dims)


def icnr_(
    tensor: Tensor,
    upscale_factor: int = 2,
    init: Callable[..., object] | None = None,
    *,
    groups: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill a convolution weight so that a pixel shuffle by ``upscale_factor`` of its output starts
    as nearest-neighbour upsampling (ICNR).

    Described in "Checkerboard artifact free sub-pixel convolution", Aitken, A. et al. (2017).
    With :math:`r` = ``upscale_factor`` and :math:`d` spatial dimensions, a sub-kernel :math:`K` of
    :math:`C_\text{out} / r^d` output channels is filled by ``init`` and each of its output channels
    repeated :math:`r^d` times in a row, the order ``nn.PixelShuffle`` (and
    :class:`initconv.PixelShuffle` in 1-d and 3-d) reads them in:

    .. math::
        W[c] = K[\lfloor c / r^d \rfloor].

    Args:
        tensor: a convolution weight ``(out, in / groups, *kernel)``; ``out`` must be divisible
            by ``groups * upscale_factor**d``, so that each repeated block stays in one group.
        upscale_factor: :math:`r`, a positive int.
        init: fills the sub-kernel in place, called as ``init(sub_kernel, generator=generator)``;
            He normal (:func:`variance_scaling_` with gain :math:`\sqrt 2`, fan_in, normal) when
            ``None``, as fastai's ``icnr_init``.
        groups: the convolution's groups.
        generator: passed to ``init``.

    Examples:
        >>> w = torch.empty(4 * 3, 8, 3, 3)
        >>> _ = icnr_(w, upscale_factor=2)
    """
    groups = _check_layout(tensor, groups, 3)
    repeats = icnr_repeats(upscale_factor, tensor.dim() - 2)
    if tensor.shape[0] % (groups * repeats):
        raise ValueError(
            icnr_channels_message(tensor.shape[0], groups, int(upscale_factor), tensor.dim() - 2)
        )
    if init is not None and not callable(init):
        raise TypeError(f"init must be callable or None, got {describe(init)}")
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    sub = torch.empty(
        (tensor.shape[0] // repeats, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device
    )
    if init is None:
        variance_scaling_(sub, math.sqrt(2.0), "fan_in", "normal", generator=generator)
    else:
        try:
            init(sub, generator=generator)
        except TypeError as error:
            raise TypeError(
                f"init must fill a tensor in place when called as init(tensor, generator=...), "
                f"got {describe(init)}, which raised: {error}"
            ) from error
    with torch.no_grad():
        tensor.copy_(sub.repeat_interleave(repeats, dim=0))
    return tensor


def icnr_channels_message(out_channels: int, groups: int, upscale_factor: int, dims: int) -> str:
    repeats = upscale_factor**dims
    return (
        f"ICNR needs out_channels divisible by groups * upscale_factor**{dims} = {groups * repeats}, "
        "so that each block a pixel shuffle gathers comes from one repeated filter; got "
        f"out_channels={out_channels}, groups={groups}, upscale_factor={upscale_factor}"
    )
