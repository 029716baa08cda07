"""The structured schemes: orthogonal, delta-orthogonal, identity, ICNR and zero.

Their weights are not iid draws, so instead of a distribution each states an exact invariant in
``check_invariants()``. ``expected_variance()`` is the exact second moment about ``expected_mean()``,
``mean((w - expected_mean())**2)``, that the construction gives (to float rounding); for ICNR it is
the base scheme's, which holds in expectation only. Each reads the weight's layout from the layer
kind, so one class serves convolutions, transposed convolutions and linear layers alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from initconv._activations import ActivationSpec
from initconv._maths.fans import CONVOLUTIONS
from initconv._maths.orthogonality import assert_orthogonal_blocks, blocks
from initconv._maths.sampling import Distribution
from initconv._schemes.base import Scheme, check_bias_init, resolve_scheme, schemes
from initconv._schemes.functional import (
    centre,
    delta_orthogonal_,
    icnr_,
    icnr_channels_message,
    icnr_repeats,
    identity_,
    orthogonal_,
)
from initconv._validate import check_exact, check_fits, check_nonnegative, describe

__all__ = ["ICNR", "DeltaOrthogonal", "Identity", "Orthogonal", "Zero"]


def _has_values(weight: Tensor) -> bool:
    return weight.numel() > 0 and not weight.is_meta


def _ratio(weight: Tensor, numerator: float, denominator: float) -> float:
    # A layer without weights (zero channels) has no second moment to speak of.
    return float(numerator / denominator) if weight.numel() else math.nan


class Orthogonal(Scheme, scheme="orthogonal"):
    r"""Orthogonal initialisation, per group: the flattened weight is orthogonal times the gain.

    Described in "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks", Saxe, A. et al. (2013). Each group's block of the weight along dim 0, flattened to
    :math:`W_g \in \mathbb{R}^{r \times c}` (for a convolution :math:`r = C_\text{out}/G`,
    :math:`c = (C_\text{in}/G) \prod k`; for a transposed one, in its own layout,
    :math:`r = C_\text{in}/G`, :math:`c = (C_\text{out}/G) \prod k`; for a linear layer the whole
    :math:`C_\text{out} \times C_\text{in}` matrix) is a Haar-random (semi-)orthogonal matrix
    times :math:`g`:

    .. math::
        W_g W_g^\top = g^2 I_r \ (r \le c), \qquad W_g^\top W_g = g^2 I_c \ (r > c), \qquad
        \overline{w^2} = g^2 \frac{\min(r, c)}{r c}.

    The same seed gives the same weights bit for bit at every thread count (torch's own
    ``orthogonal_`` does not: its QR rounds by the threads it runs on); the matrix is computed in
    float64 and cast once, so it works for float16 and bfloat16 too, and grouped convolutions'
    groups are independent. The gain comes from the declared activation (linear, :math:`g = 1`, by
    default).

    Examples:
        >>> conv = initconv.OrthogonalConv2d(64, 64, 3, padding=1, activation="tanh")
    """

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        orthogonal_(weight, self.gain, groups=self.layout.groups, generator=generator)

    def expected_variance(self) -> float:
        rows, cols = blocks(self.weight, self.layout.groups)
        return _ratio(self.weight, self.gain**2 * min(rows, cols), rows * cols)

    def check_invariants(self) -> None:
        """Each group's flattened weight is orthogonal up to the gain (atol 1e-5 g^2 in float32)."""
        if _has_values(self.weight):
            groups = self.layout.groups
            grouped = self.weight.detach().reshape(groups, *blocks(self.weight, groups))
            assert_orthogonal_blocks(
                grouped, self.gain, f"{type(self).__name__}: the flattened weight"
            )


class DeltaOrthogonal(Scheme, scheme="delta_orthogonal"):
    r"""Delta-orthogonal initialisation: an orthogonal centre tap times the gain, zero elsewhere.

    Described in "Dynamical isometry and a mean field theory of CNNs: How to train 10,000-layer
    vanilla convolutional neural networks", Xiao, L. et al. (2018). At the centre tap :math:`t`
    each group's map from inputs to outputs, the :math:`(C_\text{out}/G) \times (C_\text{in}/G)`
    block :math:`H_g`, has orthonormal columns (a transposed convolution stores its transpose);
    every other tap is exactly zero:

    .. math::
        H_g^\top H_g = g^2 I, \qquad W[:, :, s] = 0 \ (s \ne t), \qquad
        \overline{w^2} = \frac{g^2}{(C_\text{out}/G) \prod k}.

    The layer then maps each pixel's channel vector by an isometry times :math:`g`. It needs
    ``out_channels >= in_channels`` (a ValueError otherwise: the paper's construction does not
    cover it; :class:`Orthogonal` does), and serves every convolution and transposed convolution.
    The centre of an even kernel is tap :math:`(k - 1) // 2`, as in JAX and TF, so
    ``padding="same"`` aligns it with the output pixel; ``torch.nn.init.dirac_`` takes
    :math:`k // 2`. For tanh, pick the gain from the paper's critical line
    (``benchmarks/tanh_critical_line.py``).

    Examples:
        >>> conv = initconv.DeltaOrthogonalConv2d(64, 64, 3, padding=1, activation="tanh")
    """

    kinds = CONVOLUTIONS

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        layout = self.layout
        delta_orthogonal_(
            weight,
            self.gain,
            groups=layout.groups,
            transposed=layout.transposed,
            generator=generator,
        )

    def expected_variance(self) -> float:
        layout = self.layout
        outputs = (
            self.weight.shape[1] if layout.transposed else self.weight.shape[0] // layout.groups
        )
        return _ratio(self.weight, self.gain**2, outputs * math.prod(layout.kernel_size))

    def check_invariants(self) -> None:
        """Every tap but the centre is exactly zero; each group's centre block is orthogonal."""
        if not _has_values(self.weight):
            return
        weight, layout = self.weight.detach(), self.layout
        tap: tuple[slice | int, ...] = (slice(None), slice(None), *centre(layout.kernel_size))
        outside = weight.clone()
        outside[tap] = 0
        stray = int(torch.count_nonzero(outside))
        if stray:
            raise AssertionError(
                f"{type(self).__name__}: {stray} entries off the centre tap "
                f"{centre(layout.kernel_size)} are nonzero; all must be exactly 0"
            )
        rows, cols = weight.shape[0] // layout.groups, weight.shape[1]
        blocks = weight[tap].reshape(layout.groups, rows, cols)
        assert_orthogonal_blocks(blocks, self.gain, f"{type(self).__name__}: the centre tap")


class Identity(Scheme, scheme="identity"):
    r"""A Dirac kernel (``eye`` for a linear layer): the layer starts as the identity map times
    the gain.

    Channel :math:`d` of each group's outputs copies channel :math:`d` of the same group's inputs
    through the centre tap :math:`t` (:math:`(k - 1) // 2` per dimension), for
    :math:`d < m = \min(C_\text{out}, C_\text{in})/G`; every other entry is zero:

    .. math::
        W[\dots d \dots d \dots t] = \gamma, \qquad
        \overline{w} = \gamma \frac{G m}{n}, \quad
        \overline{(w - \overline{w})^2} = \gamma^2 \frac{G m}{n}\Big(1 - \frac{G m}{n}\Big),

    with :math:`n` the number of weights. With ``in_channels == out_channels`` and
    ``padding="same"`` a convolution is exactly :math:`\gamma` times the identity, even kernels
    included (torch's ``dirac_`` centre :math:`k // 2` would shift by a pixel); so is a transposed
    convolution with stride 1 and ``padding`` :math:`t` (only stride 1 has an identity: a
    ValueError otherwise). With ``in_channels != out_channels`` it is the partial identity of ZerO
    (Zhao, J. et al. (2022), "ZerO initialization: Initializing neural networks with only zeros and
    ones"): the first :math:`m` channels of each group pass through, extra outputs are zero and
    extra inputs are dropped. :math:`\gamma` is ``identity_gain`` if given, else the activation's
    gain (linear, :math:`\gamma = 1`, by default); ``identity_gain`` and ``gain`` are the same
    setting.

    Examples:
        >>> conv = initconv.IdentityConv2d(32, 32, 3, padding=1)
    """

    __jit_unused_properties__: ClassVar[list[str]] = [
        *Scheme.__jit_unused_properties__,
        "identity_gain",
    ]

    def configure(self, *, identity_gain: float | None = None) -> None:
        if identity_gain is not None:
            identity_gain = check_nonnegative("identity_gain", identity_gain)
            if self.gain is not None:
                raise ValueError(
                    f"give identity_gain or gain, not both; got identity_gain={identity_gain!r}, "
                    f"gain={self.gain!r}"
                )
        self.identity_gain = identity_gain

    @property
    def identity_gain(self) -> float | None:
        """The diagonal's value where it was given as ``identity_gain`` (else ``None``): the same
        setting as ``gain``, so setting either changes both."""
        return self.gain if self.__dict__.get("identity_gain") is not None else None

    @identity_gain.setter
    def identity_gain(self, value: float | None) -> None:
        if value is not None:
            value = check_nonnegative("identity_gain", value)
            self.__dict__["gain"] = value
        self.__dict__["identity_gain"] = value

    def _gain_parameter(self) -> str:
        return "gain" if self.identity_gain is None else "identity_gain"

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        layout = self.layout
        if layout.transposed and any(s != 1 for s in layout.stride):
            raise ValueError(
                "the identity scheme needs stride 1 for a transposed convolution: a strided one "
                f"upsamples, and no kernel makes it the identity map; got stride={layout.stride}"
            )
        self._check_same_padding()
        name = self._gain_parameter()
        check_fits(name, check_nonnegative(name, self.gain), weight.dtype)
        check_exact(name, self.gain, weight.dtype)
        identity_(weight, self.gain, groups=layout.groups)

    def _check_same_padding(self) -> None:
        # padding="same" pads d (k - 1) // 2 on the leading side and the rest on the trailing
        # one, so tap t sits at offset t d - d (k - 1) // 2 from the output pixel. For odd k the
        # centre t = (k - 1) / 2 gives 0. For even k and d > 1 no tap does: t d = d (k - 1) // 2
        # needs d to divide (k - 1) / 2 (d even) or (d (k - 1) - 1) / 2 (d odd), neither an
        # integer multiple of d. The layer would be a shift by a pixel, not the identity.
        if getattr(self, "padding", None) != "same":
            return
        kernel, dilation = self.layout.kernel_size, tuple(getattr(self, "dilation", ()))
        if any(k % 2 == 0 and d > 1 for k, d in zip(kernel, dilation, strict=False)):
            raise ValueError(
                "the identity scheme with padding='same' needs an odd kernel wherever the "
                f"dilation is above 1: with kernel_size={kernel} and dilation={dilation}, 'same' "
                "pads unevenly so that no tap of an even kernel lines up with the output pixel, "
                "and the layer would shift its input instead of copying it; use an odd kernel, "
                "dilation 1, or explicit padding (the Dirac tap is (k - 1) // 2)"
            )

    def _ones_share(self) -> float:
        # min(out, in) ones among all the weights.
        rows, cols = self.weight.shape[0], self.weight.shape[1] * self.layout.groups
        return _ratio(self.weight, min(rows, cols), self.weight.numel())

    def expected_mean(self) -> float:
        return float(self.gain * self._ones_share())

    def expected_variance(self) -> float:
        share = self._ones_share()
        return float(self.gain**2 * share * (1 - share))

    def check_invariants(self) -> None:
        """The weight equals the Dirac kernel times the gain exactly, in its own dtype."""
        if not _has_values(self.weight):
            return
        groups = self.layout.groups
        expected = identity_(torch.empty_like(self.weight), self.gain, groups=groups)
        wrong = int((self.weight.detach() != expected).sum())
        if wrong:
            raise AssertionError(
                f"{type(self).__name__}: {wrong} entries differ from the Dirac kernel times "
                f"gain {self.gain:.6g} (centre tap {centre(self.layout.kernel_size)}); it must "
                "be exact"
            )


class ICNR(Scheme, scheme="icnr"):
    r"""ICNR: sub-kernels from a base scheme, each repeated :math:`r^d` times, so that a pixel
    shuffle by :math:`r` (``nn.PixelShuffle`` in 2-d, :class:`initconv.PixelShuffle` in any
    dimension) starts as nearest-neighbour upsampling, free of checkerboard artefacts.

    Described in "Checkerboard artifact free sub-pixel convolution: A note on sub-pixel convolution,
    resize convolution and convolution resize", Aitken, A. et al. (2017). The base scheme fills a
    sub-kernel :math:`K` shaped like a layer with :math:`C_\text{out}/r^d` outputs (same input
    channels, kernel and groups, so the same fan_in and :math:`1/r^d` of the fan_out, as fastai's
    ``icnr_init``), and

    .. math::
        W[c] = K[\lfloor c / r^d \rfloor], \qquad
        \operatorname{E}\,\overline{w^2} = \operatorname{Var}_\text{base}(K).

    Serves ``nn.Conv1d``, ``nn.Conv2d`` and ``nn.Conv3d`` (:math:`d` = 1, 2, 3).

    Args:
        upscale_factor: :math:`r`; ``out_channels`` must be divisible by ``groups * r**d`` (a
            ValueError otherwise).
        base: the scheme filling :math:`K`, a name from :func:`initconv.schemes` or a scheme class
            (not ICNR itself). It gets this layer's gain, and its default activation is this
            layer's default (relu for ``"kaiming_normal"``, as fastai).
        base_options: the base scheme's own keyword options, e.g. ``{"mode": "fan_out"}``.

    :meth:`expected_variance`, :meth:`expected_mean` and :meth:`expected_distribution` are the
    base's, and describe :meth:`independent_weights`, the sub-kernel :math:`K`: only :math:`1/r^d`
    of the weights are independent. :meth:`check_invariants` checks the repetition exactly and then
    the base's own invariants on :math:`K`.

    Examples:
        >>> conv = initconv.ICNRConv2d(16, 3 * 2**2, 3, padding=1, upscale_factor=2)
        >>> upsample = nn.Sequential(conv, nn.PixelShuffle(2))
    """

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

    def configure(
        self,
        *,
        upscale_factor: int = 2,
        base: str | type[Scheme] = "kaiming_normal",
        base_options: Mapping[str, Any] | None = None,
    ) -> None:
        icnr_repeats(upscale_factor, 1)
        base_cls = _base_scheme(base)
        self.upscale_factor = upscale_factor
        self.base = base_cls.scheme
        self.base_options = _base_options(base_cls, base_options)

    def default_activation_spec(self) -> ActivationSpec:
        return schemes()[str(self.base)].default_activation

    def _repeats(self) -> int:
        return icnr_repeats(self.upscale_factor, len(self.layout.kernel_size))

    def _base_layer(self) -> Scheme:
        """A weightless (meta) layer of the base scheme shaped like the sub-kernel."""
        # base and base_options are checked again at every use: they may have been set since.
        base = _base_scheme(self.base)
        options = _base_options(base, self.base_options) or {}
        out_channels = self.weight.shape[0]
        sub = out_channels // self._repeats()
        try:
            return self.template(base, out_channels=sub, bias=False, **options)
        except ValueError as error:
            # The base speaks of the sub-kernel; the user gave the layer's out_channels.
            raise ValueError(
                f"ICNR with out_channels={out_channels} and upscale_factor="
                f"{self.upscale_factor} fills a sub-kernel of out_channels={sub} = "
                f"{out_channels} / {self._repeats()} with base {self.base!r}, which refuses it: "
                f"{error}"
            ) from error

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        groups, repeats = self.layout.groups, self._repeats()
        if weight.shape[0] % (groups * repeats):
            message = icnr_channels_message(
                weight.shape[0], groups, self.upscale_factor, weight.dim() - 2
            )
            raise ValueError(message)
        icnr_(
            weight,
            self.upscale_factor,
            self._base_layer().init_weight,
            groups=groups,
            generator=generator,
        )

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        # A bias that differed within a run of r^d channels would break the nearest-neighbour start.
        repeats = self._repeats()
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
        """The sub-kernel: the first filter of each run of ``upscale_factor**d`` repeats."""
        return self.weight[:: self._repeats()]

    def check_invariants(self) -> None:
        """Each run of r^d output channels is one filter (and one bias) repeated exactly; the base's
        invariants hold on the sub-kernel."""
        if not _has_values(self.weight):
            return
        repeats = self._repeats()
        weight = self.weight.detach()
        for name, tensor in (("weight", weight), ("bias", cast("Tensor | None", self.bias))):
            if tensor is None:
                continue
            runs = tensor.detach().reshape(-1, repeats, tensor[0].numel())
            differ = (runs != runs[:, :1]).any(dim=2).any(dim=1).nonzero().flatten().tolist()
            if differ:
                first = differ[0] * repeats
                raise AssertionError(
                    f"{type(self).__name__}: {name} of output channels {first}..{first + repeats - 1}"
                    f" (and {len(differ) - 1} more runs) is not one value repeated "
                    f"upscale_factor**d = {repeats} times"
                )
        base = self._base_layer()
        base.weight = nn.Parameter(weight[::repeats].clone(), requires_grad=False)
        base.check_invariants()


class Zero(Scheme, scheme="zero"):
    r"""Weight and bias exactly zero, so the layer's output is exactly zero at initialisation.

    The "zero convolution" of ControlNet (Zhang, L. et al. (2023), "Adding conditional control to
    text-to-image diffusion models"), and the zero-initialised last layer of a residual branch
    (Zhang, H. et al. (2019), "Fixup initialization: Residual learning without normalization"):
    the block starts as the identity, and gradients still reach the weight through the input.

    .. math::
        W = 0, \qquad b = 0, \qquad \overline{w^2} = 0.

    The gain does not enter. ``bias_init`` must be zero (a ValueError otherwise).

    Examples:
        >>> conv = initconv.ZeroConv2d(320, 320, 1)
    """

    def configure(self) -> None:
        if check_bias_init(self.bias_init) not in ("zeros", 0.0):
            raise ValueError(
                f"{type(self).__name__}'s output is zero at init only with a zero bias: bias_init "
                f"must be one of {('zeros',)} or 0.0, got {self.bias_init!r}"
            )

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.zero_()

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        self.configure()  # bias_init may have been set since construction
        bias.zero_()

    def expected_variance(self) -> float:
        return 0.0 if self.weight.numel() else math.nan

    def check_invariants(self) -> None:
        """Weight and bias are exactly zero."""
        for name, tensor in (("weight", self.weight), ("bias", cast("Tensor | None", self.bias))):
            if tensor is not None and _has_values(tensor):
                stray = int(torch.count_nonzero(tensor.detach()))
                if stray:
                    raise AssertionError(
                        f"{type(self).__name__}: {stray} entries of {name} are nonzero; all must "
                        "be exactly 0"
                    )


def _base_scheme(base: object) -> type[Scheme]:
    valid = tuple(name for name, cls in schemes().items() if not issubclass(cls, ICNR))
    try:
        cls = resolve_scheme(base, "base")
    except (TypeError, ValueError):
        raise ValueError(f"base must be one of {valid} or its class, got {base!r}") from None
    if cls.scheme not in valid:
        raise ValueError(f"base must be one of {valid} or its class, got {base!r}")
    return cls


def _base_options(base_cls: type[Scheme], options: object) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(f"base_options must be a mapping or None, got {describe(options)}")
    # The base gets this layer's gain, shape and device; only its scheme options are its own.
    allowed = tuple(sorted(base_cls.options()))
    for key in options:
        if key not in allowed:
            raise ValueError(
                f"base_options for base {base_cls.scheme!r} must take keys from {allowed}, "
                f"got {key!r}"
            )
    return dict(options)
