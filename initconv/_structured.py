"""The structured schemes: orthogonal, delta-orthogonal, identity, ICNR and zero.

Their weights are not iid draws, so instead of a distribution each states an exact invariant in
``check_invariants()``. ``expected_variance()`` is the exact second moment about ``expected_mean()``,
``mean((w - expected_mean())**2)``, that the construction gives (to float rounding); for ICNR it is
the base scheme's, which holds in expectation only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from initconv._activations import ActivationSpec
from initconv._base import InitConv2d, _check_bias_init, schemes
from initconv._functional import (
    Distribution,
    centre,
    check_gain,
    delta_orthogonal_,
    icnr_,
    identity_,
    orthogonal_,
)

__all__ = [
    "DeltaOrthogonalConv2d",
    "ICNRConv2d",
    "IdentityConv2d",
    "OrthogonalConv2d",
    "ZeroConv2d",
]

# STATS.md: float32 QR leaves errors <= 1.6e-7 in W W^T; 1e-5 g^2 is the tolerance.
_ORTHOGONAL_ATOL = 1e-5


def _orthogonality_atol(dtype: torch.dtype, gain: float, length: int) -> float:
    # Cauchy-Schwarz: entry errors d_k on a row of norm g move an entry of W W^T by at most
    # 2 g |d| + |d|^2. Rounding g Q to dtype gives |d| <= g eps / 2 in the normal range (so eps g^2
    # plus a second-order term), and |d| <= sqrt(length) s with s the subnormal spacing below it
    # (which also covers a subnormal gain rounded in float32).
    info = torch.finfo(dtype)
    spacing = math.sqrt(length) * info.smallest_normal * info.eps
    return gain**2 * max(_ORTHOGONAL_ATOL, 2 * info.eps) + 2 * gain * spacing + spacing**2


def _assert_orthogonal(blocks: Tensor, gain: float, what: str) -> None:
    """Check that every matrix ``blocks[i]`` is orthogonal up to ``gain``, in float64."""
    rows, cols = blocks.shape[1:]
    w = blocks.double()
    gram = w @ w.transpose(1, 2) if rows <= cols else w.transpose(1, 2) @ w
    eye = torch.eye(gram.shape[1], dtype=torch.float64, device=gram.device)
    errors = (gram - gain**2 * eye).abs().amax(dim=(1, 2))
    atol = _orthogonality_atol(blocks.dtype, gain, max(rows, cols))
    bad = (~(errors <= atol)).nonzero().flatten().tolist()
    if bad:
        product = "W W^T" if rows <= cols else "W^T W"
        raise AssertionError(
            f"{what} of group {bad[0]} ({rows} x {cols}) is not orthogonal up to the gain: "
            f"max |{product} - g^2 I| = {float(errors[bad[0]]):.3g} > atol {atol:.3g} "
            f"(g = {gain:.6g}, dtype {blocks.dtype}; {len(bad)} of {len(blocks)} groups fail)"
        )


def _has_values(weight: Tensor) -> bool:
    return weight.numel() > 0 and not weight.is_meta


class OrthogonalConv2d(InitConv2d, scheme="orthogonal"):
    r"""Orthogonal initialisation, per group: the flattened weight is orthogonal times the gain.

    Described in "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks", Saxe, A. et al. (2013). Each group's weight, flattened to
    :math:`W_g \in \mathbb{R}^{r \times c}` with :math:`r = C_\text{out}/G` and
    :math:`c = (C_\text{in}/G)\,k_h k_w`, is a Haar-random (semi-)orthogonal matrix times :math:`g`:

    .. math::
        W_g W_g^\top = g^2 I_r \ (r \le c), \qquad W_g^\top W_g = g^2 I_c \ (r > c), \qquad
        \overline{w^2} = g^2 \frac{\min(r, c)}{r c}.

    With ``groups=1`` and float32/float64 it equals ``torch.nn.init.orthogonal_(weight, gain)`` bit
    for bit for the same generator; unlike it, it works for float16 and bfloat16 (QR in float32,
    cast back) and keeps grouped convolutions' groups independent. The gain comes from the declared
    activation (linear, :math:`g = 1`, by default).

    Examples:
        >>> conv = OrthogonalConv2d(64, 64, 3, padding=1, activation="tanh")
    """

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        orthogonal_(weight, self.gain, groups=self.groups, generator=generator)

    def _shape(self) -> tuple[int, int]:
        return self.out_channels // self.groups, int(self.fan_in)

    def expected_variance(self) -> float:
        rows, cols = self._shape()
        return self.gain**2 * min(rows, cols) / (rows * cols)

    def check_invariants(self) -> None:
        """Each group's flattened weight is orthogonal up to the gain (atol 1e-5 g^2 in float32)."""
        if _has_values(self.weight):
            rows, cols = self._shape()
            blocks = self.weight.detach().reshape(self.groups, rows, cols)
            _assert_orthogonal(blocks, self.gain, "OrthogonalConv2d: the flattened weight")


class DeltaOrthogonalConv2d(InitConv2d, scheme="delta_orthogonal"):
    r"""Delta-orthogonal initialisation: an orthogonal centre tap times the gain, zero elsewhere.

    Described in "Dynamical isometry and a mean field theory of CNNs: How to train 10,000-layer
    vanilla convolutional neural networks", Xiao, L. et al. (2018). At the centre tap :math:`t`
    each group's :math:`(C_\text{out}/G) \times (C_\text{in}/G)` block :math:`H_g` has orthonormal
    columns; every other tap is exactly zero:

    .. math::
        W[:, :, t] = g\,H, \quad H_g^\top H_g = I, \qquad W[:, :, s] = 0 \ (s \ne t), \qquad
        \overline{w^2} = \frac{g^2}{(C_\text{out}/G)\, k_h k_w}.

    The layer then maps each pixel's channel vector by an isometry times :math:`g`. It needs
    ``out_channels >= in_channels`` (a ValueError otherwise: the paper's construction does not
    cover it; :class:`OrthogonalConv2d` does). The centre of an even kernel is tap
    :math:`(k - 1) // 2`, as in JAX and TF, so ``padding="same"`` aligns it with the output pixel;
    ``torch.nn.init.dirac_`` takes :math:`k // 2`. For tanh, pick the gain from the paper's
    critical line (``benchmarks/tanh_critical_line.py``).

    Examples:
        >>> conv = DeltaOrthogonalConv2d(64, 64, 3, padding=1, activation="tanh")
    """

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        delta_orthogonal_(weight, self.gain, groups=self.groups, generator=generator)

    def expected_variance(self) -> float:
        rows = self.out_channels // self.groups
        return self.gain**2 / (rows * math.prod(self.kernel_size))

    def check_invariants(self) -> None:
        """Every tap but the centre is exactly zero; each group's centre block is orthogonal."""
        if not _has_values(self.weight):
            return
        weight = self.weight.detach()
        tap: tuple[slice | int, ...] = (slice(None), slice(None), *centre(self.kernel_size))
        outside = weight.clone()
        outside[tap] = 0
        stray = int(torch.count_nonzero(outside))
        if stray:
            raise AssertionError(
                f"DeltaOrthogonalConv2d: {stray} entries off the centre tap "
                f"{centre(self.kernel_size)} are nonzero; all must be exactly 0"
            )
        rows, cols = self.out_channels // self.groups, self.in_channels // self.groups
        blocks = weight[tap].reshape(self.groups, rows, cols)
        _assert_orthogonal(blocks, self.gain, "DeltaOrthogonalConv2d: the centre tap")


class IdentityConv2d(InitConv2d, scheme="identity"):
    r"""A Dirac kernel: the layer starts as the identity map times the gain.

    Output channel :math:`d` of each group copies input channel :math:`d` of the same group through
    the centre tap :math:`t` (:math:`(k - 1) // 2` per dimension), for
    :math:`d < m = \min(C_\text{out}, C_\text{in})/G`; every other entry is zero:

    .. math::
        W[g C_\text{out}/G + d,\ d,\ t] = \gamma, \qquad
        \overline{w} = \gamma \frac{G m}{n}, \quad
        \overline{(w - \overline{w})^2} = \gamma^2 \frac{G m}{n}\Big(1 - \frac{G m}{n}\Big),

    with :math:`n` the number of weights. With ``in_channels == out_channels`` and
    ``padding="same"`` the layer is exactly :math:`\gamma` times the identity, even kernels
    included (torch's ``dirac_`` centre :math:`k // 2` would shift by a pixel). With
    ``in_channels != out_channels`` it is the partial identity of ZerO (Zhao, J. et al. (2022),
    "ZerO initialization: Initializing neural networks with only zeros and ones"): the first
    :math:`m` channels of each group pass through, extra outputs are zero and extra inputs are
    dropped. :math:`\gamma` is ``identity_gain`` if given, else the activation's gain (linear,
    :math:`\gamma = 1`, by default); ``identity_gain`` and ``gain`` are the same setting.

    Examples:
        >>> conv = IdentityConv2d(32, 32, 3, padding=1)
    """

    def __init__(self, *args: Any, identity_gain: float | None = None, **kwargs: Any):
        if identity_gain is not None:
            identity_gain = check_gain(identity_gain, "identity_gain")
            if kwargs.get("gain") is not None:
                raise ValueError(
                    f"give identity_gain or gain, not both; got identity_gain={identity_gain!r}, "
                    f"gain={kwargs['gain']!r}"
                )
            kwargs["gain"] = identity_gain
        self.identity_gain = identity_gain
        super().__init__(*args, **kwargs)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        identity_(weight, self.gain, groups=self.groups)

    def _ones_share(self) -> float:
        # min(out, in) ones among out * (in / groups) * kh * kw weights.
        size = self.out_channels * (self.in_channels // self.groups) * math.prod(self.kernel_size)
        return min(self.out_channels, self.in_channels) / size

    def expected_mean(self) -> float:
        return self.gain * self._ones_share()

    def expected_variance(self) -> float:
        share = self._ones_share()
        return self.gain**2 * share * (1 - share)

    def check_invariants(self) -> None:
        """The weight equals the Dirac kernel times the gain exactly, in its own dtype."""
        if not _has_values(self.weight):
            return
        expected = identity_(torch.empty_like(self.weight), self.gain, groups=self.groups)
        wrong = int((self.weight.detach() != expected).sum())
        if wrong:
            raise AssertionError(
                f"IdentityConv2d: {wrong} entries differ from the Dirac kernel times "
                f"gain {self.gain:.6g} (centre tap {centre(self.kernel_size)}); it must be exact"
            )


class ICNRConv2d(InitConv2d, scheme="icnr"):
    r"""ICNR: sub-kernels from a base scheme, each repeated :math:`r^2` times, so that a following
    ``nn.PixelShuffle(r)`` starts as nearest-neighbour upsampling, free of checkerboard artefacts.

    Described in "Checkerboard artifact free sub-pixel convolution: A note on sub-pixel convolution,
    resize convolution and convolution resize", Aitken, A. et al. (2017). The base scheme fills a
    sub-kernel :math:`K` shaped like a layer with :math:`C_\text{out}/r^2` outputs (same input
    channels, kernel and groups, so the same fan_in and :math:`1/r^2` of the fan_out, as fastai's
    ``icnr_init``), and

    .. math::
        W[c] = K[\lfloor c / r^2 \rfloor], \qquad
        \operatorname{E}\,\overline{w^2} = \operatorname{Var}_\text{base}(K).

    Args:
        upscale_factor: :math:`r`, the ``PixelShuffle`` factor; ``out_channels`` must be divisible
            by ``groups * r**2`` (a ValueError otherwise).
        base: the scheme filling :math:`K`, a name from :func:`initconv.schemes` or a registered
            class (not ICNR itself). It gets this layer's gain, and its default activation is
            this layer's default (relu for ``"kaiming_normal"``, as fastai).
        base_options: the base scheme's own keyword options, e.g. ``{"mode": "fan_out"}``.

    :meth:`expected_variance`, :meth:`expected_mean` and :meth:`expected_distribution` are the
    base's, and describe :meth:`independent_weights`, the sub-kernel :math:`K`: only :math:`1/r^2`
    of the weights are independent. :meth:`check_invariants` checks the repetition exactly and then
    the base's own invariants on :math:`K`.

    Examples:
        >>> conv = ICNRConv2d(16, 3 * 2**2, 3, padding=1, upscale_factor=2)
        >>> upsample = nn.Sequential(conv, nn.PixelShuffle(2))
    """

    def __init__(
        self,
        *args: Any,
        upscale_factor: int = 2,
        base: str | type[InitConv2d] = "kaiming_normal",
        base_options: Mapping[str, Any] | None = None,
        activation: ActivationSpec | None = None,
        **kwargs: Any,
    ):
        if isinstance(upscale_factor, bool) or not isinstance(upscale_factor, int):
            raise TypeError(
                "upscale_factor must be an int, "
                f"got {type(upscale_factor).__name__} {upscale_factor!r}"
            )
        if upscale_factor < 1:
            raise ValueError(f"upscale_factor must be >= 1, got {upscale_factor!r}")
        base_cls = _base_scheme(base)
        self.upscale_factor = upscale_factor
        self.base = base_cls.scheme
        self.base_options = _base_options(base_cls, base_options)
        if activation is None:
            activation = base_cls.default_activation
        super().__init__(*args, activation=activation, **kwargs)

    def _base_layer(self) -> InitConv2d:
        """A weightless (meta) layer of the base scheme shaped like the sub-kernel."""
        return schemes()[str(self.base)](
            self.in_channels,
            self.out_channels // self.upscale_factor**2,
            (self.kernel_size[0], self.kernel_size[1]),
            groups=self.groups,
            bias=False,
            device="meta",
            gain=self.gain,
            **(self.base_options or {}),
        )

    def _check_channels(self) -> None:
        repeats = self.groups * self.upscale_factor**2
        if self.out_channels % repeats:
            raise ValueError(
                f"ICNRConv2d needs out_channels divisible by groups * upscale_factor**2 = "
                f"{repeats}, so that each of PixelShuffle's r x r blocks comes from one repeated "
                f"filter; got out_channels={self.out_channels}, groups={self.groups}, "
                f"upscale_factor={self.upscale_factor}"
            )

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        self._check_channels()
        base = self._base_layer()
        icnr_(
            weight, self.upscale_factor, base.init_weight, groups=self.groups, generator=generator
        )

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        # A bias that differed within a run of r^2 channels would break the nearest-neighbour start.
        repeats = self.upscale_factor**2
        sub = torch.empty(bias.shape[0] // repeats, dtype=bias.dtype, device=bias.device)
        super().init_bias(sub, generator)
        bias.copy_(sub.repeat_interleave(repeats))

    def expected_variance(self) -> float:
        return self._base_layer().expected_variance()

    def expected_mean(self) -> float:
        return self._base_layer().expected_mean()

    def expected_distribution(self) -> Distribution | None:
        return self._base_layer().expected_distribution()

    def independent_weights(self) -> Tensor:
        """The sub-kernel: the first filter of each run of ``upscale_factor**2`` repeats."""
        return self.weight[:: self.upscale_factor**2]

    def check_invariants(self) -> None:
        """Each run of r^2 output channels is one filter (and one bias) repeated exactly; the base's
        invariants hold on the sub-kernel."""
        if not _has_values(self.weight):
            return
        repeats = self.upscale_factor**2
        weight = self.weight.detach()
        for name, tensor in (("weight", weight), ("bias", self.bias)):
            if tensor is None:
                continue
            runs = tensor.detach().reshape(-1, repeats, tensor[0].numel())
            differ = (runs != runs[:, :1]).any(dim=2).any(dim=1).nonzero().flatten().tolist()
            if differ:
                first = differ[0] * repeats
                raise AssertionError(
                    f"ICNRConv2d: {name} of output channels {first}..{first + repeats - 1} (and "
                    f"{len(differ) - 1} more runs) is not one value repeated upscale_factor**2 = "
                    f"{repeats} times"
                )
        base = self._base_layer()
        base.weight = nn.Parameter(weight[::repeats].clone(), requires_grad=False)
        base.check_invariants()


class ZeroConv2d(InitConv2d, scheme="zero"):
    r"""Weight and bias exactly zero, so the layer's output is exactly zero at initialisation.

    The "zero convolution" of ControlNet (Zhang, L. et al. (2023), "Adding conditional control to
    text-to-image diffusion models"), and the zero-initialised last layer of a residual branch
    (Zhang, H. et al. (2019), "Fixup initialization: Residual learning without normalization"):
    the block starts as the identity, and gradients still reach the weight through the input.

    .. math::
        W = 0, \qquad b = 0, \qquad \overline{w^2} = 0.

    The gain does not enter. ``bias_init`` must be zero (a ValueError otherwise).

    Examples:
        >>> conv = ZeroConv2d(320, 320, 1)
    """

    def __init__(self, *args: Any, bias_init: float | str = "zeros", **kwargs: Any):
        if _check_bias_init(bias_init) not in ("zeros", 0.0):
            raise ValueError(
                f"ZeroConv2d's output is zero at init only with a zero bias: bias_init must be one "
                f"of {('zeros',)} or 0.0, got {bias_init!r}"
            )
        super().__init__(*args, bias_init=bias_init, **kwargs)

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.zero_()

    def expected_variance(self) -> float:
        return 0.0

    def check_invariants(self) -> None:
        """Weight and bias are exactly zero."""
        for name, tensor in (("weight", self.weight), ("bias", self.bias)):
            if tensor is not None and _has_values(tensor):
                stray = int(torch.count_nonzero(tensor.detach()))
                if stray:
                    raise AssertionError(
                        f"ZeroConv2d: {stray} entries of {name} are nonzero; all must be exactly 0"
                    )


def _base_scheme(base: object) -> type[InitConv2d]:
    registered = schemes()
    valid = tuple(name for name, cls in registered.items() if not issubclass(cls, ICNRConv2d))
    if isinstance(base, type) and issubclass(base, InitConv2d) and base.scheme is not None:
        base = base.scheme
    if not isinstance(base, str) or base not in valid:
        raise ValueError(f"base must be one of {valid} or its class, got {base!r}")
    return registered[base]


def _base_options(
    base_cls: type[InitConv2d], options: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(
            f"base_options must be a mapping or None, got {type(options).__name__} {options!r}"
        )
    # The base gets this layer's gain, shape and device; only its scheme options are its own.
    allowed = tuple(sorted(set(base_cls._option_defaults()) - {"bias_init", "seed"}))
    for key in options:
        if key not in allowed:
            raise ValueError(
                f"base_options for base {base_cls.scheme!r} must take keys from {allowed}, "
                f"got {key!r}"
            )
    return dict(options)
