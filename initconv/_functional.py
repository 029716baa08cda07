"""In-place tensor initialisers. Every random one takes ``generator=``, as ``torch.nn.init`` does."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "Distribution",
    "FanMode",
    "delta_orthogonal_",
    "icnr_",
    "identity_",
    "orthogonal_",
    "variance_scaling_",
]

FanMode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["normal", "uniform", "truncated_normal"]
FAN_MODES: tuple[str, ...] = ("fan_avg", "fan_in", "fan_out")
DISTRIBUTIONS: tuple[str, ...] = ("normal", "truncated_normal", "uniform")

# Standard deviation of N(0, 1) truncated to (-2, 2): sqrt(E[Z^2 | |Z| <= 2]) with
# E[Z^2 | |Z| <= c] = 1 - 2 c phi(c) / (2 Phi(c) - 1). Dividing the underlying std by it makes the
# truncated draw's variance exactly the target (the JAX, Keras and Haiku convention).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def check_choice(parameter: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError that lists them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{parameter} must be one of {choices}, got {value!r}")
    return value


def check_gain(value: object, parameter: str = "gain") -> float:
    """Return ``value`` as a float if it is a finite, non-negative real number, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{parameter} must be a float, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{parameter} must be finite and >= 0, got {value!r}")
    return float(value)


def weight_fans(tensor: Tensor) -> tuple[float, float]:
    """``(fan_in, fan_out)`` read off a ``(out, in, *kernel)`` weight, as ``torch.nn.init`` does."""
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor must have at least 2 dimensions to have fans, got shape {tuple(tensor.shape)}"
        )
    taps = math.prod(tensor.shape[2:])
    return float(tensor.shape[1] * taps), float(tensor.shape[0] * taps)


def std_for(gain: float, fan_in: float, fan_out: float, mode: str) -> float:
    """The standard deviation ``gain / sqrt(fan)`` for ``mode``, with fan_avg = (in + out) / 2."""
    # Each branch repeats torch.nn.init's own float arithmetic (xavier_* and kaiming_*), so that the
    # same generator gives bit-identical weights.
    check_choice("mode", mode, FAN_MODES)
    if mode == "fan_avg":
        return gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


# On CPU, normal_ on a contiguous tensor of 16 or more values draws all its uniforms first and then
# turns them into normals 16 at a time (Box-Muller): two passes over memory, and on a large tensor
# the second one misses the cache. Drawn in cache-sized pieces it costs about what uniform_ does.
# Every piece is a multiple of 16 values and the last is at least 16 long, so the values are bit for
# bit those of one normal_ call on the same generator (tests/test_layers.py checks the seams).
NORMAL_PIECE = 1 << 16


def draw_normal_(
    tensor: Tensor, mean: float, std: float, generator: torch.Generator | None
) -> None:
    """``tensor.normal_(mean, std, generator=generator)``, drawn in cache-sized pieces on CPU."""
    n = tensor.numel()
    if n <= NORMAL_PIECE or tensor.device.type != "cpu" or not tensor.is_contiguous():
        tensor.normal_(mean, std, generator=generator)
        return
    sizes = [NORMAL_PIECE] * (n // NORMAL_PIECE)
    rest = n % NORMAL_PIECE
    if rest >= 16:
        sizes.append(rest)
    else:
        sizes[-1] += rest
    for piece in torch.split(tensor.view(-1), sizes):
        piece.normal_(mean, std, generator=generator)


def fill_(tensor: Tensor, std: float, distribution: str, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` with zero-mean draws of standard deviation ``std`` from ``distribution``."""
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution == "normal":
        draw_normal_(tensor, 0.0, std, generator)
    elif distribution == "uniform":
        # U(-b, b) has variance b^2 / 3.
        bound = math.sqrt(3.0) * std
        tensor.uniform_(-bound, bound, generator=generator)
    else:
        truncated_normal_(tensor, std / TRUNCATED_NORMAL_STD, generator)


def truncated_normal_(tensor: Tensor, sigma: float, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` with N(0, sigma^2) draws conditioned on ``|x| <= 2 sigma``, by rejection.

    Every value is drawn from the normal and redrawn while it falls outside, which gives exactly
    the truncated normal. 95.4% of draws land inside, so the rounds of redraws shrink by a factor
    of 22 each. ``torch.nn.init.trunc_normal_`` inverts the CDF through ``erfinv`` instead, which
    on CPU costs about seven times a normal draw (``python -m benchmarks construction``).
    """
    if tensor.is_meta:  # nothing to draw, and nonzero() has no meta kernel
        return
    # Low precision and strided tensors get a contiguous float32 (float64) scratch.
    in_place = tensor.dtype in (torch.float32, torch.float64) and tensor.is_contiguous()
    scratch = torch.float64 if tensor.dtype == torch.float64 else torch.float32
    work = tensor if in_place else torch.empty(tensor.shape, dtype=scratch, device=tensor.device)
    flat = work.view(-1)
    # Drawn at sigma and tested as stored, so every kept value is within the bound as it stands.
    bound = 2.0 * sigma
    draw_normal_(flat, 0.0, sigma, generator)
    outside = torch.nonzero(flat.abs() > bound).view(-1)
    while outside.numel():
        fresh = flat.new_empty(outside.numel()).normal_(0.0, sigma, generator=generator)
        flat[outside] = fresh
        outside = outside[fresh.abs() > bound]
    if work is not tensor:
        tensor.copy_(work)


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

    The one core behind the Kaiming, Xavier and LeCun schemes (the form of
    ``jax.nn.initializers.variance_scaling``, whose ``scale`` is ``gain**2`` here):

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
    check_gain(gain)
    check_choice("mode", mode, FAN_MODES)
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan_in, fan_out = weight_fans(tensor) if fans is None else fans
    std = std_for(gain, fan_in, fan_out, mode)
    with torch.no_grad():
        fill_(tensor, std, distribution, generator)
    return tensor


# --- Structured initialisers (issue 4): orthogonal, delta-orthogonal, identity, ICNR. ---


def _check_layout(tensor: Tensor, groups: object, min_dim: int) -> int:
    """Validate a ``(out, in / groups, *kernel)`` weight and ``groups``; return ``groups``."""
    if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
        kind = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"tensor must be a floating point torch.Tensor, got {kind}")
    if tensor.dim() < min_dim:
        raise ValueError(
            f"tensor must have at least {min_dim} dimensions, got shape {tuple(tensor.shape)}"
        )
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"groups must be an int, got {type(groups).__name__} {groups!r}")
    if groups < 1 or tensor.shape[0] % groups:
        raise ValueError(
            f"groups must be a positive divisor of dim 0 ({tensor.shape[0]}), got {groups!r}"
        )
    return groups


def _is_empty(tensor: Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


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
    networks", Saxe, A. et al. (2013). Each group's block of ``out / groups`` rows, flattened to
    :math:`W_g \in \mathbb{R}^{r \times c}`, :math:`c = \prod_{i \ge 1} \text{shape}_i`, satisfies

    .. math::
        W_g W_g^\top = g^2 I_r \quad (r \le c), \qquad W_g^\top W_g = g^2 I_c \quad (r > c).

    Unlike ``torch.nn.init.orthogonal_``, it works for float16 and bfloat16 tensors (QR runs in
    float32 and the result is cast back once) and for grouped convolutions. With ``groups=1`` and a
    float32 or float64 tensor it equals ``torch.nn.init.orthogonal_`` bit for bit for the same
    generator.

    Args:
        tensor: a tensor of at least 2 dimensions, laid out ``(out, in / groups, *kernel)``.
        gain: the gain :math:`g`, at least 0.
        groups: the convolution's groups; must divide ``tensor.shape[0]``.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 16, 3, 3, dtype=torch.bfloat16)
        >>> _ = orthogonal_(w, gain=2**0.5, groups=2)
    """
    groups = _check_layout(tensor, groups, 2)
    gain = check_gain(gain)
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    rows, cols = tensor.shape[0] // groups, tensor[0].numel()
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
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill a convolution weight with the delta-orthogonal kernel: orthogonal at the centre tap,
    zero everywhere else.

    Described in "Dynamical isometry and a mean field theory of CNNs: How to train 10,000-layer
    vanilla convolutional neural networks", Xiao, L. et al. (2018). With :math:`t` the centre tap
    (:func:`centre`: :math:`(k - 1) // 2` per dimension) and :math:`H_g` group :math:`g`'s
    :math:`(C_\text{out}/G) \times (C_\text{in}/G)` block,

    .. math::
        W[:, :, t] = g\,H, \quad H_g^\top H_g = I, \qquad W[:, :, s] = 0 \quad (s \ne t).

    The construction needs :math:`C_\text{out} \ge C_\text{in}`; a ValueError says so otherwise.
    Each :math:`H_g` is what ``torch.nn.init.orthogonal_`` draws for a
    :math:`(C_\text{out}/G) \times (C_\text{in}/G)` tensor from the same generator.

    Args:
        tensor: a convolution weight ``(out, in / groups, *kernel)`` of at least 3 dimensions.
        gain: the gain :math:`g`, at least 0.
        groups: the convolution's groups; must divide ``tensor.shape[0]``.
        generator: the generator to draw from; the global one when ``None``.

    Examples:
        >>> w = torch.empty(64, 32, 3, 3)
        >>> _ = delta_orthogonal_(w, gain=1.0)
    """
    groups = _check_layout(tensor, groups, 3)
    gain = check_gain(gain)
    rows, cols = tensor.shape[0] // groups, tensor.shape[1]
    if rows < cols:
        raise ValueError(
            "delta-orthogonal needs out_channels >= in_channels: its centre tap is an out x in "
            "matrix H with H^T H = g^2 I (Xiao et al. 2018), which does not exist for out < in; "
            f"got out_channels={tensor.shape[0]}, in_channels={cols * groups}, groups={groups}. "
            "OrthogonalConv2d serves out < in."
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
    r"""Fill a convolution weight with a Dirac kernel: ``gain`` times the identity map, per group.

    Output channel :math:`d` of each group copies input channel :math:`d` of that group through
    the centre tap :math:`t` (:func:`centre`), for :math:`d < m = \min(C_\text{out}, C_\text{in}) / G`:

    .. math::
        W[gC_\text{out}/G + d,\ d,\ t] = g, \qquad \text{every other entry } 0.

    With :math:`C_\text{in} = C_\text{out}` the convolution is :math:`g` times the identity (with
    ``padding="same"``, also for even kernels). Otherwise it is the partial identity of ZerO
    (Zhao, J. et al. (2022), "ZerO initialization: Initializing neural networks with only zeros
    and ones"): with more outputs the extra output channels are zero, with fewer the extra input
    channels are dropped. Deterministic; the same as ``torch.nn.init.dirac_(tensor, groups)``
    times ``gain`` for odd kernels.

    Args:
        tensor: a convolution weight ``(out, in / groups, *kernel)`` of at least 3 dimensions.
        gain: the value on the diagonal, at least 0.
        groups: the convolution's groups; must divide ``tensor.shape[0]``.

    Examples:
        >>> w = torch.empty(16, 16, 3, 3)
        >>> _ = identity_(w)
    """
    groups = _check_layout(tensor, groups, 3)
    gain = check_gain(gain)
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


def icnr_(
    tensor: Tensor,
    upscale_factor: int = 2,
    init: Callable[..., object] | None = None,
    *,
    groups: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill a convolution weight so that ``PixelShuffle(upscale_factor)`` of its output starts as
    nearest-neighbour upsampling (ICNR).

    Described in "Checkerboard artifact free sub-pixel convolution", Aitken, A. et al. (2017).
    With :math:`r` = ``upscale_factor``, a sub-kernel :math:`K` of :math:`C_\text{out} / r^2`
    output channels is filled by ``init`` and each of its output channels repeated :math:`r^2`
    times in a row, the order ``PixelShuffle`` reads them in:

    .. math::
        W[c] = K[\lfloor c / r^2 \rfloor].

    Args:
        tensor: a convolution weight ``(out, in / groups, *kernel)``; ``out`` must be divisible
            by ``groups * upscale_factor**2``, so that each repeated block stays in one group.
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
    if isinstance(upscale_factor, bool) or not isinstance(upscale_factor, int):
        raise TypeError(
            f"upscale_factor must be an int, got {type(upscale_factor).__name__} {upscale_factor!r}"
        )
    if upscale_factor < 1:
        raise ValueError(f"upscale_factor must be >= 1, got {upscale_factor!r}")
    repeats = upscale_factor**2
    if tensor.shape[0] % (groups * repeats):
        raise ValueError(
            f"ICNR needs out_channels divisible by groups * upscale_factor**2 = {groups * repeats}, "
            f"so that each of PixelShuffle's r x r blocks comes from one repeated filter; got "
            f"out_channels={tensor.shape[0]}, groups={groups}, upscale_factor={upscale_factor}"
        )
    if _is_empty(tensor) or tensor.is_meta:
        return tensor
    sub = torch.empty(
        (tensor.shape[0] // repeats, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device
    )
    if init is None:
        variance_scaling_(sub, math.sqrt(2.0), "fan_in", "normal", generator=generator)
    else:
        init(sub, generator=generator)
    with torch.no_grad():
        tensor.copy_(sub.repeat_interleave(repeats, dim=0))
    return tensor
