"""InitConv2d: an nn.Conv2d whose reset_parameters() applies a named initialisation scheme."""

from __future__ import annotations

import difflib
import inspect
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from initconv._activations import ActivationSpec, resolve
from initconv._distributed import shard_like
from initconv._fans import fans
from initconv._functional import Distribution, check_gain

__all__ = ["BiasInit", "InitConv2d", "conv2d", "schemes"]

BiasInit = str | float
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
BIAS_INITS: tuple[str, ...] = ("torch", "zeros")

_SCHEMES: dict[str, type[InitConv2d]] = {}

# Shown by extra_repr always, not only when they differ from a default.
_ALWAYS_SHOWN = ("activation", "gain")


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_bias_init(value: object) -> BiasInit:
    if isinstance(value, str):
        if value not in BIAS_INITS:
            raise ValueError(f"bias_init must be one of {BIAS_INITS} or a float, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"bias_init must be one of {BIAS_INITS} or a float, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"bias_init must be finite, got {value!r}")
    return float(value)


def _check_seed(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"seed must be an int or None, got {type(value).__name__} {value!r}")
    if not 0 <= value < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {value!r}")
    return value


_CALIBRATION_KEY = "initconv_calibration"


def _check_calibration(value: object) -> tuple[float, str | None, int]:
    """Validate an LSUV calibration read from a state_dict's metadata (issue 8)."""
    if not isinstance(value, dict) or set(value) != {"scale", "base", "seed"}:
        raise ValueError(
            f"{_CALIBRATION_KEY} must be a dict with keys ('base', 'scale', 'seed'), got {value!r}"
        )
    scale, base, seed = value["scale"], value["base"], value["seed"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"calibrated_scale must be a float, got {type(scale).__name__} {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"calibrated_scale must be finite and positive, got {scale!r}")
    if base is not None and base not in _SCHEMES:
        raise ValueError(f"calibrated_base must be one of {tuple(sorted(_SCHEMES))}, got {base!r}")
    checked_seed = _check_seed(seed)
    if checked_seed is None:
        raise ValueError(f"a calibration needs a seed to replay, got {seed!r}")
    return float(scale), base, checked_seed


def store(module: nn.Module, name: str, value: Tensor) -> None:
    """Give ``module.<name>`` the value ``value``, under ``no_grad``.

    A parametrized tensor is computed from ``parametrizations.<name>.original``, so a copy into it
    would be lost; it is assigned instead, which runs the parametrization's ``right_inverse``.
    """
    with torch.no_grad():
        if parametrize.is_parametrized(module, name):
            setattr(module, name, value)
        else:
            getattr(module, name).copy_(value)


class InitConv2d(nn.Conv2d):
    r"""An ``nn.Conv2d`` that initialises itself with a scheme, for the activation that follows it.

    Everything about the layer is ``nn.Conv2d``'s (signature, forward, ``state_dict`` keys) except
    ``reset_parameters()``, which fills the weight by the subclass's :meth:`init_weight` and the bias
    by :meth:`init_bias`. Construction, ``to_empty()`` followed by ``reset_parameters()``, FSDP
    materialisation and ``model.apply(lambda m: m.reset_parameters())`` all apply the scheme.

    The base is abstract: construct one of the schemes (:func:`initconv.schemes` lists them), or
    subclass it. A subclass registers itself by name with a class keyword and states its theory:

    .. code-block:: python

        class MyConv2d(InitConv2d, scheme="my_scheme"):
            def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None: ...
            def expected_variance(self) -> float: ...

    Options of a subclass are keyword-only arguments of its ``__init__``, stored as plain attributes
    *before* ``super().__init__()``, which calls ``reset_parameters()``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, device, dtype: as for ``nn.Conv2d``.
        activation: the activation that acts on this layer's output (a name, an ``nn.Module``
            class or instance, or an elementwise callable); it sets :attr:`gain` and is never
            applied by the layer. Defaults to the scheme's :attr:`default_activation`.
        gain: overrides the gain derived from ``activation``.
        bias_init: ``"zeros"``; ``"torch"``, ``nn.Conv2d``'s
            :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`; or a constant.
        seed: draw from a private generator seeded with it, so every reset gives the same weights
            whatever the global RNG; the global generator when ``None``.

    Attributes:
        activation: the activation's canonical name.
        gain: the gain in use.
    """

    scheme: ClassVar[str | None] = None
    default_activation: ClassVar[str] = "linear"
    # Init-time facts; torch.jit.script compiles only forward().
    __jit_unused_properties__: ClassVar[list[str]] = ["fan_in", "fan_out"]

    if TYPE_CHECKING:  # set in __init__; hidden from torch.jit.script, which reads annotations
        activation: str
        gain: float
        bias_init: BiasInit
        seed: int | None
        calibrated_scale: float | None
        calibrated_base: str | None
        _constructed: bool

    def __init_subclass__(cls, scheme: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if scheme is None:
            return
        if not isinstance(scheme, str) or not scheme:
            raise TypeError(f"scheme must be a non-empty str, got {scheme!r}")
        if scheme in _SCHEMES:
            raise ValueError(
                f"scheme {scheme!r} is already registered by {_qualname(_SCHEMES[scheme])}; "
                f"{_qualname(cls)} needs another name"
            )
        for hook in ("init_weight", "expected_variance"):
            if getattr(cls, hook) is getattr(InitConv2d, hook):
                raise TypeError(f"scheme {scheme!r} ({_qualname(cls)}) must override {hook}()")
        cls.scheme = scheme
        _SCHEMES[scheme] = cls

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: str | int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: PaddingMode = "zeros",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        activation: ActivationSpec | None = None,
        gain: float | None = None,
        bias_init: BiasInit = "zeros",
        seed: int | None = None,
    ) -> None:
        cls = type(self)
        if cls.init_weight is InitConv2d.init_weight:
            raise TypeError(
                f"{cls.__name__} has no scheme of its own; construct one of "
                f"{tuple(sorted(_SCHEMES))} (initconv.conv2d(name, ...) takes the name), or "
                "subclass it with init_weight() and expected_variance()"
            )
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating point torch.dtype, got {dtype!r}")
        name, derived = resolve(cls.default_activation if activation is None else activation)
        # Plain values, stored before nn.Conv2d.__init__ calls reset_parameters(). They go straight
        # into __dict__: nn.Module.__setattr__ would check each for a Parameter, Module or buffer,
        # which cost a sixth of building a small conv.
        self.__dict__.update(
            activation=name,
            gain=derived if gain is None else check_gain(gain),
            bias_init=_check_bias_init(bias_init),
            seed=_check_seed(seed),
            # Set by initconv.lsuv_ (issue 8); reset_parameters() then replays the calibration.
            calibrated_scale=None,
            calibrated_base=None,
            _constructed=False,
        )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )
        self.__dict__["_constructed"] = True

    # The scheme's hooks and theory.

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        """Fill ``weight`` (shaped like ``self.weight``) in place; draw from ``generator``."""
        raise TypeError(f"{type(self).__name__} must override init_weight()")

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        """Fill ``bias`` in place as :attr:`bias_init` says."""
        if self.bias_init == "zeros":
            bias.zero_()
        elif self.bias_init == "torch":
            # nn.Conv2d.reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
            bound = 1 / math.sqrt(self.fan_in) if self.fan_in > 0 else 0.0
            bias.uniform_(-bound, bound, generator=generator)
        else:
            bias.fill_(float(self.bias_init))

    def expected_variance(self) -> float:
        """Var(W) that the scheme draws for this layer's shape and options."""
        raise TypeError(f"{type(self).__name__} must override expected_variance()")

    def expected_mean(self) -> float:
        """E[W] that the scheme draws; 0 for every zero-mean scheme."""
        return 0.0

    def expected_distribution(self) -> Distribution | None:
        """The family the weights are drawn iid from, or ``None`` for a structured scheme."""
        return None

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the current weight breaks the scheme's exact invariant.

        Structured schemes (orthogonal, identity, ...) state their theory here; iid schemes have
        none beyond :meth:`expected_variance`, :meth:`expected_mean` and
        :meth:`expected_distribution`, which :mod:`initconv.testing` checks statistically.
        """

    def independent_weights(self) -> Tensor:
        """The weights the scheme draws independently: the ones its theory describes.

        :meth:`expected_variance`, :meth:`expected_mean` and :meth:`expected_distribution` speak of
        these. That is the whole weight, except for a scheme that repeats its draws (ICNR: one
        filter per run of ``upscale_factor**2`` output channels).
        """
        return self.weight

    @classmethod
    def serves(cls, *args: Any, **kwargs: Any) -> bool:
        """Whether ``cls(*args, **kwargs)`` can be built: ``False`` where the scheme's constructor
        raises ``ValueError`` for a configuration it cannot serve (``DeltaOrthogonalConv2d`` with
        fewer outputs than inputs, say).

        The default builds the layer on the meta device, which allocates and draws nothing; a scheme
        with a simple rule may override it. :mod:`initconv.testing` draws only configurations that
        the scheme serves.

        Examples:
            >>> schemes()["delta_orthogonal"].serves(8, 4, 3)
            False
        """
        try:
            cls(*args, **{**kwargs, "device": "meta"})
        except ValueError:
            return False
        return True

    # Derived facts about the layer.

    @property
    def fan_in(self) -> float:
        """Inputs per output unit: ``in_channels / groups * kh * kw`` (:func:`initconv.fans`)."""
        return fans(self)[0]

    @property
    def fan_out(self) -> float:
        """Outputs per input unit: ``out_channels / groups * kh * kw`` (:func:`initconv.fans`)."""
        return fans(self)[1]

    # The contract with nn.Module.

    def reset_parameters(self) -> None:
        """Re-initialise weight and bias by the scheme.

        Once the layer is built, both are drawn into new tensors and copied in only when every hook
        has succeeded, so a failure leaves the parameters exactly as they were. During construction
        they hold uninitialised memory, with nothing to protect, and the hooks write in place.
        A layer calibrated by :func:`initconv.lsuv_` replays its calibration instead: the
        ``calibrated_base`` scheme's draw from :attr:`seed`, times :attr:`calibrated_scale`.
        """
        weight = self.weight
        if weight.numel() == 0:
            warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
            return
        generator = self._generator(weight.device)
        with torch.no_grad():
            if not self._constructed:
                self.init_weight(weight, generator)
                if self.bias is not None:
                    self.init_bias(self.bias, generator)
                return
            new_weight = self._draw(weight, self._weight_init(), generator)
            new_bias = (
                None if self.bias is None else self._draw(self.bias, self.init_bias, generator)
            )
            store(self, "weight", new_weight)
            if new_bias is not None:
                store(self, "bias", new_bias)

    def _weight_init(self) -> Callable[[Tensor, torch.Generator | None], None]:
        """The weight hook: :meth:`init_weight`, or the replay of an LSUV calibration (issue 8)."""
        scale, base = self.calibrated_scale, self.calibrated_base
        if scale is None:
            return self.init_weight
        draw = self
        if base is not None and base != self.scheme:
            # The base scheme's own draw, from a template that has this layer's shape and gain;
            # on the meta device it allocates nothing.
            shape: dict[str, Any] = {
                name: getattr(self, name)
                for name in ("kernel_size", "stride", "padding", "dilation", "groups")
            }
            draw = _SCHEMES[base](
                self.in_channels,
                self.out_channels,
                **shape,
                bias=self.bias is not None,
                padding_mode=self.padding_mode,
                device="meta",
                dtype=self.weight.dtype,
                gain=self.gain,
            )

        def replay(weight: Tensor, generator: torch.Generator | None) -> None:
            draw.init_weight(weight, generator)
            weight.mul_(scale)

        return replay

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None or device.type == "meta":
            return None
        return torch.Generator(device=device).manual_seed(self.seed)

    @staticmethod
    def _draw(
        like: Tensor,
        hook: Callable[[Tensor, torch.Generator | None], None],
        generator: torch.Generator | None,
    ) -> Tensor:
        # A DTensor (FSDP2, tensor parallel) gets the full draw, then keeps this rank's shard, so
        # the sharded layer equals the unsharded one and no two shards repeat (issue 6).
        values = torch.empty(like.shape, dtype=like.dtype, device=like.device)
        hook(values, generator)
        return shard_like(values, like)

    def extra_repr(self) -> str:
        parts = [
            super().extra_repr(),  # type: ignore[no-untyped-call]
            f"scheme={self.scheme or type(self).__name__}",
            f"activation={self.activation}",
            f"gain={self.gain:.4g}",
        ]
        for name, default in self._option_defaults().items():
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={value!r}")
        if self.calibrated_scale is not None:
            parts.append(f"calibrated_scale={self.calibrated_scale:.6g}")
            parts.append(f"calibrated_base={self.calibrated_base!r}")
        return ", ".join(parts)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickles from before the calibration attributes (issue 8), as nn.Conv2d does for
        # padding_mode.
        state.setdefault("calibrated_scale", None)
        state.setdefault("calibrated_base", None)
        super().__setstate__(state)  # type: ignore[no-untyped-call]

    # An LSUV calibration travels in the state_dict's per-module metadata, the channel torch uses
    # for module versions, not as an "_extra_state" entry: torch adds that key to every layer of a
    # class defining get_extra_state(), and strict loading between a layer and nn.Conv2d then fails
    # in both directions (issue 8). Weights-only formats (safetensors) drop the metadata.

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        metadata = getattr(destination, "_metadata", None)
        if self.calibrated_scale is not None and metadata is not None:
            metadata.setdefault(prefix[:-1], {})[_CALIBRATION_KEY] = {
                "scale": self.calibrated_scale,
                "base": self.calibrated_base,
                "seed": self.seed,
            }

    def _load_from_state_dict(
        self,
        state_dict: Any,
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        calibration = local_metadata.get(_CALIBRATION_KEY)
        if calibration is not None:
            try:
                scale, base, seed = _check_calibration(calibration)
            except (TypeError, ValueError) as error:
                error_msgs.append(f"layer {prefix[:-1] or '(model)'!r}: {error}")
            else:
                self.calibrated_scale, self.calibrated_base, self.seed = scale, base, seed

    @classmethod
    def _option_defaults(cls) -> dict[str, object]:
        """Keyword-only options and their defaults, from every ``__init__`` up to InitConv2d."""
        defaults: dict[str, object] = {}
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or not issubclass(klass, InitConv2d):
                continue
            for parameter in inspect.signature(init).parameters.values():
                if (
                    parameter.kind is inspect.Parameter.KEYWORD_ONLY
                    and parameter.name not in _ALWAYS_SHOWN
                    and parameter.default is not inspect.Parameter.empty
                ):
                    defaults.setdefault(parameter.name, parameter.default)
        return defaults


def schemes() -> dict[str, type[InitConv2d]]:
    """Return the registered schemes, name to class, sorted by name.

    Examples:
        >>> schemes()["kaiming_normal"].__name__
        'KaimingNormalConv2d'
    """
    return dict(sorted(_SCHEMES.items()))


def conv2d(scheme: str, *args: Any, **kwargs: Any) -> InitConv2d:
    """Build the layer of the scheme named ``scheme``; the other arguments go to its constructor.

    For config-driven code: ``conv2d(cfg.init, 64, 128, 3, padding=1, activation="gelu")``.
    """
    if scheme not in _SCHEMES:
        names = tuple(sorted(_SCHEMES))
        message = f"scheme must be one of {names}, got {scheme!r}"
        close = difflib.get_close_matches(str(scheme), names, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        raise ValueError(message)
    return _SCHEMES[scheme](*args, **kwargs)
