r"""The scheme: the maths of an initialisation, written once for every layer kind.

A scheme is a subclass of :class:`Scheme` that draws the weight (:meth:`Scheme.init_weight`) and
states its theory (:meth:`Scheme.expected_variance` and the other ``expected_*`` hooks,
:meth:`Scheme.check_invariants`). It reads what it needs of the layer through :attr:`Scheme.gain`,
:attr:`Scheme.fan_in`, :attr:`Scheme.fan_out` and :attr:`Scheme.layout`, which the layer kind
supplies, so one class serves ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` and ``nn.Linear``.
A layer is the pair of a scheme and a kind: ``KaimingNormalConv2d`` is
``class KaimingNormalConv2d(KaimingNormal, InitConv2d)``.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from initconv._activations import Resolved
from initconv._maths.fans import KINDS, fans
from initconv._maths.sampling import Distribution
from initconv._schemes.bias import (
    BiasInit,
    bias_distribution,
    bias_variance,
    check_bias_init,
    check_bias_std,
    draw_bias_,
)
from initconv._validate import describe, suggestion

__all__ = ["BiasInit", "Layout", "Scheme", "check_bias_init", "check_bias_std", "schemes"]

# Options every layer takes, which a scheme's own options may not reuse.
BASE_OPTIONS = frozenset({"activation", "gain", "bias_init", "bias_std", "seed"})
# Attributes every layer keeps besides its options and torch's own, which an option would replace.
_LAYER_ATTRIBUTES = frozenset({"weight", "calibration", "scheme", "training"})

# Other names that users type for the Kaiming and Xavier schemes (JAX and Keras call them so).
SCHEME_ALIASES: dict[str, str] = {
    "he_normal": "kaiming_normal",
    "he_uniform": "kaiming_uniform",
    "glorot_normal": "xavier_normal",
    "glorot_uniform": "xavier_uniform",
}

_REGISTRY: dict[str, type[Scheme]] = {}
# Scheme.options() per class: read once from the signatures.
_OPTIONS: weakref.WeakKeyDictionary[type, dict[str, object]] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclasses.dataclass(frozen=True)
class Layout:
    """How a layer lays out its weight: what a structured scheme needs besides the fans.

    Attributes:
        groups: blocks along the weight's dim 0, each the weights of one group (1 for ``nn.Linear``).
        kernel_size: the kernel's size per spatial dimension (``()`` for ``nn.Linear``).
        stride: the stride per spatial dimension (``()`` for ``nn.Linear``).
        transposed: the weight is ``(in, out / groups, *kernel)`` (a transposed convolution)
            rather than ``(out, in / groups, *kernel)``.
    """

    groups: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    transposed: bool


# The hooks a scheme may override and the positional arguments each takes besides self.
_HOOK_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "init_weight": ("weight", "generator"),
    "init_bias": ("bias", "generator"),
    "activation_gain": ("activation",),
    "gain_inputs": (),
    "expected_variance": (),
    "expected_bias_variance": (),
    "expected_bias_mean": (),
    "expected_bias_distribution": (),
    "expected_mean": (),
    "expected_distribution": (),
    "check_invariants": (),
    "independent_weights": (),
}


def _check_hooks(cls: type) -> None:
    """A hook with the wrong signature fails at class definition, not at first construction."""
    for hook, arguments in _HOOK_ARGUMENTS.items():
        function = cls.__dict__.get(hook)
        if function is None or not callable(function):
            continue
        try:
            inspect.signature(function).bind(None, *arguments)
        except TypeError:
            shown = ", ".join(("self", *arguments))
            raise TypeError(
                f"{qualname(cls)}.{hook} must take ({shown}), got {hook}"
                f"{inspect.signature(function)}"
            ) from None
    configure = cls.__dict__.get("configure")
    if configure is not None and callable(configure):
        parameters = list(inspect.signature(configure).parameters.values())[1:]
        kinds = {p.kind for p in parameters}
        if kinds - {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}:
            raise TypeError(
                f"{qualname(cls)}.configure must take keyword-only options "
                f"(def configure(self, *, option=default)), got configure"
                f"{inspect.signature(configure)}"
            )
        reserved = _reserved_names()
        for parameter in parameters:
            if parameter.name in reserved:
                what = (
                    "a base option"
                    if parameter.name in BASE_OPTIONS
                    else "a torch argument or layer attribute"
                )
                raise TypeError(
                    f"{qualname(cls)}.configure cannot take an option named "
                    f"{parameter.name!r}: every layer takes it itself ({what}), so the scheme "
                    f"would never receive it; rename it (reserved: {tuple(sorted(reserved))})"
                )


def _reserved_names() -> frozenset[str]:
    """Names a scheme's option cannot take: the base options, the torch layers' constructor
    arguments and the attributes a layer keeps for itself."""
    torch_arguments = {
        name
        for kind in KINDS
        for name in inspect.signature(kind.__init__).parameters
        if name != "self"
    }
    return BASE_OPTIONS | torch_arguments | _LAYER_ATTRIBUTES


class Scheme(nn.Module):
    r"""Base of every initialisation scheme: its hooks and its theory, independent of the layer kind.

    A scheme draws the weight in :meth:`init_weight` and states what it draws, so that
    :mod:`initconv.testing` can hold it to that: :meth:`expected_variance` (required),
    :meth:`expected_mean`, :meth:`expected_distribution` and, for a structured scheme,
    :meth:`check_invariants`. The class keyword ``scheme=`` registers it by name:

    .. code-block:: python

        class DepthScaled(Scheme, scheme="depth_scaled"):
            def configure(self, *, depth: int = 1) -> None:
                self.depth = depth

            def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
                weight.normal_(0.0, self.gain / math.sqrt(self.depth * self.fan_in),
                               generator=generator)

            def expected_variance(self) -> float:
                return self.gain**2 / (self.depth * self.fan_in)

    Every layer kind it :attr:`kinds` serves then builds it: ``initconv.conv1d("depth_scaled",
    ...)``, ``initconv.linear(DepthScaled, ...)``, or the class ``initconv.layer_class(DepthScaled,
    nn.Conv3d)``. Its options are the keyword-only arguments of :meth:`configure`, which runs before
    the torch layer is built. A scheme is not a layer: it has no weight until paired with a kind.

    Attributes:
        scheme: the registered name (``None`` for an unregistered class).
        default_activation: the activation assumed when a layer declares none.
        default_bias_init: ``bias_init`` when a layer gives none.
        default_bias_std: ``bias_std`` when a layer gives none (``bias_init="normal"`` needs one).
        kinds: the torch layer classes the scheme serves.
    """

    scheme: ClassVar[str | None] = None
    default_activation: ClassVar[str] = "linear"
    default_bias_init: ClassVar[BiasInit] = "zeros"
    default_bias_std: ClassVar[float | None] = None
    kinds: ClassVar[tuple[type[nn.Module], ...]] = KINDS
    # Init-time facts; torch.jit.script compiles only forward().
    __jit_unused_properties__: ClassVar[list[str]] = [
        "fan_in",
        "fan_out",
        "layout",
        "calibrated_scale",
        "calibrated_base",
        "calibration",
    ]

    if TYPE_CHECKING:  # set by the layer; hidden from torch.jit.script, which reads annotations
        weight: Tensor
        activation: str
        gain: float
        bias_init: BiasInit
        bias_std: float | None
        seed: int | None

    def __init_subclass__(cls, scheme: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_hooks(cls)
        if scheme is None:
            return
        if not isinstance(scheme, str) or not scheme:
            raise TypeError(f"scheme must be a non-empty str, got {scheme!r}")
        for hook in ("init_weight", "expected_variance"):
            if getattr(cls, hook) is getattr(Scheme, hook):
                raise TypeError(f"scheme {scheme!r} ({qualname(cls)}) must override {hook}()")
        with _REGISTRY_LOCK:
            taken = _REGISTRY.get(scheme) or (
                _REGISTRY.get(SCHEME_ALIASES[scheme]) if scheme in SCHEME_ALIASES else None
            )
            if taken is not None:
                raise ValueError(
                    f"scheme {scheme!r} is already registered by {qualname(taken)}; "
                    f"{qualname(cls)} needs another name"
                )
            cls.scheme = scheme
            _REGISTRY[scheme] = cls

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Layers are built by a kind (InitConv2d, ...), whose __init__ runs the torch layer's
        # own; reaching this one means the class has no kind.
        cls = type(self)
        raise TypeError(
            f"{cls.__name__} is a scheme, not a layer: pair it with a layer kind, as "
            f"{cls.__name__}Conv2d(...), initconv.conv2d({cls.scheme or cls.__name__!r}, ...) or "
            f"initconv.layer_class({cls.__name__}, nn.Linear)(...)"
        )

    # The hooks and the theory.

    def configure(self) -> None:
        """Take the scheme's options; each is a keyword-only argument with a default.

        Called before the torch layer is built (which calls ``reset_parameters()``), so the
        options are in place for the first draw. Check each value and store it as an attribute.
        """

    def activation_gain(self, activation: Resolved) -> float:
        """The gain when none is given: the resolved activation's own (:func:`initconv.gain`).

        A scheme whose gain depends on more than the activation (the critical scheme's on the bias
        std) overrides it; it runs once the options are in place, before the first draw.
        """
        return activation.gain

    def resolved_activation(self) -> Resolved | None:
        """The resolved activation this layer derived its gain from, if it still knows it (a
        copied or unpickled layer keeps only its name)."""
        return None

    def gain_inputs(self) -> tuple[tuple[str, object], ...]:
        """The options besides the activation that :meth:`activation_gain` reads, as
        ``(name, value)`` pairs: a gain the layer derived is derived again at a reset where they
        changed. None for most schemes; the critical scheme's gain depends on ``bias_std``."""
        return ()

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        """Fill ``weight`` (shaped like ``self.weight``) in place; draw from ``generator``."""
        raise TypeError(f"{type(self).__name__} must override init_weight()")

    def init_bias(self, bias: Tensor, generator: torch.Generator | None) -> None:
        r"""Fill ``bias`` in place as :attr:`bias_init` says: ``"zeros"``; ``"torch"``, the torch
        layer's own :math:`\mathcal{U}(-1/\sqrt{n}, 1/\sqrt{n})` with :math:`n` the fan_in torch
        reads off the weight's shape; ``"normal"``, :math:`\mathcal{N}(0, \sigma_b^2)` with
        :math:`\sigma_b` = :attr:`bias_std` (the bias variance of mean-field theory: Poole, B. et
        al. (2016), "Exponential expressivity in deep neural networks through transient chaos");
        or a constant."""
        draw_bias_(bias, self.bias_init, self.bias_std, self.weight, generator)

    def expected_bias_variance(self) -> float:
        r"""Var(b) that :meth:`init_bias` draws: :math:`\sigma_b^2` for ``"normal"``, :math:`1/(3n)`
        for ``"torch"``, 0 for ``"zeros"`` and a constant."""
        return bias_variance(self.bias_init, self.bias_std, self.weight)

    def expected_bias_mean(self) -> float:
        """E[b]: the constant for a float ``bias_init``, else 0."""
        return 0.0 if isinstance(self.bias_init, str) else float(self.bias_init)

    def expected_bias_distribution(self) -> Distribution | None:
        """The family the biases are drawn iid from, or ``None`` for a constant bias."""
        return bias_distribution(self.bias_init)

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
        filter per run of ``upscale_factor**d`` output channels).
        """
        return self.weight

    # Facts about the layer, supplied by its kind.

    @property
    def layout(self) -> Layout:
        """How the layer's weight is laid out (groups, kernel, stride, transposed)."""
        raise TypeError(f"{type(self).__name__} is a scheme without a layer kind")

    def template(self, scheme: str | type[Scheme], **overrides: Any) -> Scheme:
        """A weightless (meta) layer of ``scheme`` with this layer's kind, shape, dtype and gain.

        ``overrides`` replace torch arguments (``out_channels=...``) or add scheme options.
        """
        raise TypeError(f"{type(self).__name__} is a scheme without a layer kind")

    @property
    def fan_in(self) -> float:
        """Inputs per output unit, per group and stride-aware (:func:`initconv.fans`)."""
        return fans(self)[0]

    @property
    def fan_out(self) -> float:
        """Outputs per input unit, per group (:func:`initconv.fans`)."""
        return fans(self)[1]

    @classmethod
    def options(cls) -> dict[str, object]:
        """The scheme's own options and their defaults.

        The keyword-only arguments of every :meth:`configure` in the class's bases, and of every
        ``__init__`` of a scheme written as a layer subclass (``class MyConv2d(InitConv2d, ...)``
        with options stored before ``super().__init__()``), the layer's own four aside.
        """
        cached = _OPTIONS.get(cls)
        if cached is not None:
            return dict(cached)
        found: dict[str, object] = {}
        for klass in cls.__mro__:
            if not (isinstance(klass, type) and issubclass(klass, Scheme)):
                continue
            for method in ("configure", "__init__"):
                function = klass.__dict__.get(method)
                if function is None or not callable(function):
                    continue
                for parameter in inspect.signature(function).parameters.values():
                    if (
                        parameter.kind is inspect.Parameter.KEYWORD_ONLY
                        and parameter.name not in BASE_OPTIONS
                        and parameter.default is not inspect.Parameter.empty
                    ):
                        found.setdefault(parameter.name, parameter.default)
        _OPTIONS[cls] = found
        return dict(found)


def is_concrete(cls: type[Scheme]) -> bool:
    return cls.init_weight is not Scheme.init_weight


def schemes() -> dict[str, type[Scheme]]:
    """Return the registered schemes, name to class, sorted by name.

    Each is a :class:`Scheme` that :func:`initconv.layer_class` pairs with a layer kind, except
    schemes written as a subclass of one kind (``class MyConv2d(InitConv2d, scheme=...)``), which
    are their own layer.

    Examples:
        >>> schemes()["kaiming_normal"].__name__
        'KaimingNormal'
    """
    with _REGISTRY_LOCK:
        return dict(sorted(_REGISTRY.items()))


def scheme_names() -> tuple[str, ...]:
    """Every name a scheme is known by: the registered ones and their aliases."""
    registered = schemes()
    return tuple(sorted({*registered, *(a for a, n in SCHEME_ALIASES.items() if n in registered)}))


def resolve_scheme(spec: object, parameter: str = "scheme") -> type[Scheme]:
    """A scheme class from a registered name (aliases included) or a concrete scheme class."""
    if isinstance(spec, type) and issubclass(spec, Scheme):
        if not is_concrete(spec):
            raise TypeError(
                f"{parameter} must be a concrete scheme, got the abstract {spec.__name__}; one of "
                f"{tuple(schemes())}"
            )
        return spec
    if isinstance(spec, str):
        registered = schemes()
        name = SCHEME_ALIASES.get(spec, spec)
        if name in registered:
            return registered[name]
        names = scheme_names()
        raise ValueError(
            f"{parameter} must be one of {names}, got {spec!r}{suggestion(spec, names)}"
        )
    raise TypeError(f"{parameter} must be a scheme name or a Scheme subclass, got {describe(spec)}")


def registered_scheme(name: str) -> type[Scheme] | None:
    with _REGISTRY_LOCK:
        return _REGISTRY.get(name)


def restore_registry(saved: dict[str, type[Scheme]]) -> None:
    """Put the registry back as ``saved`` (a copy from :func:`schemes`): for tests."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
        _REGISTRY.update(saved)
