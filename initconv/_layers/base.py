"""InitLayer: what makes a scheme a torch layer whose ``reset_parameters()`` applies it.

The layer kinds (:mod:`initconv._layers.kinds`) derive from :class:`InitLayer` and their torch class; they
supply the signature, the layout and the arguments that rebuild the layer. Everything else about the
contract with ``nn.Module`` is here: the options taken before the torch layer exists, the
all-or-nothing reset, seeded generators, DTensor shards, the replay of an LSUV calibration and of a
µP record, the repr and their place in the ``state_dict``.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from initconv._activations import ActivationSpec, Resolved, from_spec, resolve
from initconv._layers.calibration import METADATA_KEY, MUP_KEY, Calibration, MuP
from initconv._layers.pairing import layer_class, note_class
from initconv._layers.sharding import shard_like
from initconv._maths.generators import seeded_generator
from initconv._schemes.base import BASE_OPTIONS, Scheme, check_bias_init, check_bias_std, schemes
from initconv._validate import (
    check_dtype,
    check_fits,
    check_nonnegative,
    check_seed,
    describe,
    suggestion,
)

__all__ = ["InitLayer"]

BiasInitArg = str | float | None
# The attributes a reset checks and may normalise, put back if it fails.
_CHECKED = ("gain", "bias_init", "bias_std", "seed", "activation", "_derived_gain")
Hook = Callable[[Tensor, "torch.Generator | None"], None]


def write_parameter(module: nn.Module, name: str, value: Tensor) -> None:
    """Give ``module.<name>`` the value ``value``, under ``no_grad``.

    A parametrized tensor is computed from ``parametrizations.<name>.original``, so a copy into it
    would be lost; it is assigned instead, which runs the parametrization's ``right_inverse``.
    """
    with torch.no_grad():
        if parametrize.is_parametrized(module, name):
            setattr(module, name, value)
            # A right_inverse can store a value it cannot give back: weight_norm keeps a zero
            # weight as g = 0, v = 0 and reads it as 0 / 0 = nan. Refused, not left nan; the
            # caller (write_parameters, residual_init_) puts the originals back.
            if bool(value.isfinite().all()) and not bool(getattr(module, name).isfinite().all()):
                raise ValueError(
                    f"the parametrization of {name!r} ({_parametrizations(module, name)}) "
                    "cannot hold this value: its right_inverse stores it so that the "
                    "parametrized tensor reads back as nan or inf (a zero weight under "
                    "weight_norm is 0 / 0)"
                )
        else:
            getattr(module, name).copy_(value)


def _parametrizations(module: nn.Module, name: str) -> str:
    chain = cast(nn.ModuleList, cast(nn.ModuleDict, module.parametrizations)[name])
    return ", ".join(type(step).__name__ for step in chain)


def write_parameters(module: nn.Module, values: list[tuple[str, Tensor]]) -> None:
    """:func:`store` every ``(name, value)``, or none of them.

    A store through a parametrization runs its ``right_inverse``, which can fail (a
    parametrization without one), so those go first, with their originals saved and put back if
    any fails; a copy into a plain tensor of the same shape and dtype cannot fail, so those go last.
    """
    parametrized = [(n, v) for n, v in values if parametrize.is_parametrized(module, n)]
    saved: list[tuple[Tensor, Tensor]] = []
    try:
        for name, value in parametrized:
            originals = cast(nn.ModuleDict, module.parametrizations)[name]
            saved += [(t, t.detach().clone()) for t in originals.parameters(recurse=False)]
            write_parameter(module, name, value)
    except BaseException:
        with torch.no_grad():
            for tensor, before in reversed(saved):
                if tensor.shape == before.shape:
                    tensor.copy_(before)
                else:
                    tensor.set_(before.untyped_storage(), 0, before.shape, before.stride())
        raise
    for name, value in values:
        if not parametrize.is_parametrized(module, name):
            write_parameter(module, name, value)


def _scaled(hook: Hook, scale: float) -> Hook:
    """``hook``'s draw times ``scale``."""

    def draw(tensor: Tensor, generator: torch.Generator | None) -> None:
        hook(tensor, generator)
        tensor.mul_(scale)

    return draw


def _check_bias(value: object, dtype: torch.dtype) -> str | float:
    checked = check_bias_init(value)
    if not isinstance(checked, str):
        check_fits("bias_init", checked, dtype)
    return checked


# The resolved activation of each layer whose gain it derived, to derive it again at a reset after
# an option it depends on changed. Kept here, not on the layer: a layer holds only plain values
# (a function, a lambda say, would not pickle). A copy or an unpickled layer is not here, and
# resolves its activation's name instead.
_ACTIVATIONS: weakref.WeakKeyDictionary[nn.Module, Resolved] = weakref.WeakKeyDictionary()
_ACTIVATIONS_LOCK = threading.Lock()


class InitLayer(Scheme):
    """A torch layer that initialises itself with its scheme; the base of every layer kind.

    Subclasses are the kinds (``InitConv2d``, ``InitLinear``, ...), which add their torch class and
    call :meth:`_take_options` before building it, and the (scheme, kind) pairs.

    Attributes:
        activation: the declared activation's canonical name.
        gain: the gain in use.
        bias_init: how the bias is drawn.
        bias_std: the bias's standard deviation for ``bias_init="normal"``, else ``None``.
        seed: the private generator's seed, or ``None`` for the global generator.
        calibration: the LSUV calibration that resets replay, or ``None``.
        mup: the µP record that resets replay (:func:`initconv.mup_`), or ``None``.
    """

    # The torch layer class of the kind; set by each kind.
    torch_kind: ClassVar[type[nn.Module]]

    if TYPE_CHECKING:
        mup: MuP | None
        _constructed: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        note_class(cls)

    def _take_options(
        self,
        activation: ActivationSpec | None,
        gain: float | None,
        bias_init: BiasInitArg,
        seed: int | None,
        options: Mapping[str, Any],
        dtype: torch.dtype | None,
    ) -> None:
        """Check and store every option, before the torch layer's ``__init__`` draws the weights."""
        cls = type(self)
        if cls.init_weight is Scheme.init_weight:
            raise TypeError(
                f"{cls.__name__} has no scheme of its own; construct one of "
                f"{tuple(schemes())} (initconv.layer_class(name, kind) gives the class), or "
                "subclass it with init_weight() and expected_variance()"
            )
        if dtype is not None:
            check_dtype("dtype", dtype)
        # bias_std travels with the scheme's options, so that the kinds' signatures stay as they are.
        options = dict(options)
        bias_std = options.pop("bias_std", None)
        dtype = dtype or torch.get_default_dtype()
        bias_init = _check_bias(cls.default_bias_init if bias_init is None else bias_init, dtype)
        if bias_std is None and bias_init == "normal":
            # The scheme's default std goes with its default draw, not with a bias_init given.
            bias_std = cls.default_bias_std
        # Plain values go straight into __dict__: nn.Module.__setattr__ would check each for a
        # Parameter, Module or buffer, which cost a sixth of building a small conv.
        self.__dict__.update(
            gain=None
            if gain is None
            else check_fits("gain", check_nonnegative("gain", gain), dtype),
            bias_init=bias_init,
            bias_std=check_bias_std(bias_init, bias_std),
            seed=None if seed is None else check_seed("seed", seed, optional=True),
            calibration=None,
            mup=None,
            _constructed=False,
        )
        unknown = [name for name in options if name not in cls.options()]
        if unknown:
            valid = tuple(sorted(cls.options()))
            raise TypeError(
                f"{cls.__name__} got an unexpected option {unknown[0]!r}; its options are "
                f"{valid + tuple(sorted(BASE_OPTIONS))}{suggestion(unknown[0], valid)}"
            )
        self.configure(**options)
        resolved = resolve(self.default_activation_spec() if activation is None else activation)
        self.__dict__["activation"] = resolved.name
        if self.gain is None:
            self._derive_gain(resolved, dtype)

    def _derive_gain(self, resolved: Resolved, dtype: torch.dtype) -> None:
        """Set the gain from the activation (and the scheme's options it depends on), and note
        from what: ``_derived_gain`` is ``((activation, *gain_inputs()), gain)``."""
        where = f"the gain of activation {resolved.name}"
        value = check_fits(where, self.activation_gain(resolved), dtype)
        inputs = (resolved.name, *self.gain_inputs())
        # Plain values only (a layer holds no function): the inputs, the gain, and a built-in
        # activation's spec, which rebuilds it in a copied or unpickled layer.
        derived = (inputs, value, resolved.spec)
        self.__dict__.update(gain=value, activation=resolved.name, _derived_gain=derived)
        with _ACTIVATIONS_LOCK:
            _ACTIVATIONS[self] = resolved

    def default_activation_spec(self) -> ActivationSpec:
        """The activation assumed when none is declared: the scheme's :attr:`default_activation`."""
        return type(self).default_activation

    # The contract with nn.Module.

    def reset_parameters(self) -> None:
        """Re-initialise weight and bias by the scheme.

        Once the layer is built, both are drawn into new tensors and stored only when every hook
        has succeeded, both or neither (a bias parametrization that refuses the value leaves the
        weight as it was too), so a failure leaves the parameters exactly as they were. The
        attributes ``gain``, ``bias_init`` and ``seed`` and the scheme's options are checked again
        first, against the weight's dtype: they may have been set since construction. During
        construction the parameters hold uninitialised memory, with nothing to protect, and the
        hooks write in place. A layer calibrated by :func:`initconv.lsuv_` replays its calibration
        instead: the calibration's base scheme drawn from its seed at the gain and options it was
        calibrated at, times its scale, and the bias drawn by the ``bias_init`` and ``bias_std``
        it was calibrated with, whatever the layer declares now. A layer
        parametrized by :func:`initconv.mup_` multiplies its weight draw by the record's
        :attr:`~initconv._layers.calibration.MuP.weight_scale` and its bias draw by its
        :attr:`~initconv._layers.calibration.MuP.bias_scale`.

        A gain the layer derived itself (none given) is derived again when what it depends on
        has changed: the activation, and for the critical scheme ``bias_std``. A layer without
        weights (zero channels) draws none, with torch's warning, but still writes its bias.
        """
        weight, bias = self.weight, cast("Tensor | None", self.bias)
        empty = weight.numel() == 0
        if empty and not weight.is_meta:
            # torch's own warning; a meta layer (a scheme's template) has nothing to draw anyway.
            warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        if bias is not None and bias.numel() == 0:
            bias = None
        if empty and bias is None:
            return
        if not self._constructed:
            with torch.no_grad():
                generator = self._generator(weight.device, self.seed)
                if not empty:
                    self.init_weight(weight, generator)
                if bias is not None:
                    self.init_bias(bias, generator)
            return
        saved = {key: self.__dict__.get(key) for key in _CHECKED}
        try:
            self._check_attributes(weight.dtype)
            with torch.no_grad():
                hook, bias_hook, seed = self._hooks(weight.dtype)
                generator = self._generator(weight.device, seed)
                values = [] if empty else [("weight", self._draw(weight, hook, generator))]
                if bias is not None:
                    values.append(("bias", self._draw(bias, bias_hook, generator)))
                write_parameters(self, values)
        except BaseException:
            # The attributes as they were too, normalised values and a derived gain included.
            self.__dict__.update(saved)
            raise

    def resolved_activation(self) -> Resolved | None:
        with _ACTIVATIONS_LOCK:
            resolved = _ACTIVATIONS.get(self)
        if resolved is None:
            derived = self.__dict__.get("_derived_gain")
            spec = derived[2] if isinstance(derived, tuple) and len(derived) > 2 else None
            resolved = None if spec is None else from_spec(spec)
        return resolved if resolved is not None and resolved.name == self.activation else None

    def _gain_parameter(self) -> str:
        """The name the gain was set by, for a refusal to name: ``gain``, unless a scheme has its
        own name for the same setting (the identity scheme's ``identity_gain``)."""
        return "gain"

    def _check_attributes(self, dtype: torch.dtype) -> None:
        # Plain attributes, so anything can have been assigned since construction; they are kept
        # as the plain float and int the checks return (not a numpy scalar, not an int past int64).
        check_dtype("the layer's dtype", dtype)
        calibration = self.__dict__.get("calibration")
        if calibration is not None and not isinstance(calibration, Calibration):
            raise TypeError(
                "calibration must be a Calibration (initconv.lsuv_ sets it) or None (the "
                f"layer's own scheme), got {describe(calibration)}"
            )
        bias_init = _check_bias(self.bias_init, dtype)
        name = self._gain_parameter()
        self.__dict__.update(
            gain=check_fits(name, check_nonnegative(name, self.gain), dtype),
            bias_init=bias_init,
            bias_std=check_bias_std(bias_init, self.bias_std),
            seed=None if self.seed is None else check_seed("seed", self.seed, optional=True),
        )
        self._follow_derived_gain(dtype)

    def _follow_derived_gain(self, dtype: torch.dtype) -> None:
        """Derive the gain again if the layer derived it and what it depends on has changed."""
        derived = self.__dict__.get("_derived_gain")
        if not isinstance(derived, tuple) or self.gain != derived[1]:
            return  # given, or set since: the user's value stands
        name, before = self.activation, derived[0]
        if (name, *self.gain_inputs()) == before:
            return
        resolved = self.resolved_activation()
        if resolved is None:
            try:
                resolved = resolve(name)
            except (TypeError, ValueError) as error:
                shown = ", ".join(f"{key}={value!r}" for key, value in before[1:])
                raise ValueError(
                    f"the gain of this layer was derived from activation {before[0]!r}"
                    f"{' with ' + shown if shown else ''}, which changed since; activation "
                    f"{name!r} cannot be resolved by name to derive it again (a copied or "
                    f"unpickled layer keeps only the name of a function of yours: {error}); set "
                    "the layer's gain explicitly"
                ) from None
        self._derive_gain(resolved, dtype)

    def _hooks(self, dtype: torch.dtype) -> tuple[Hook, Hook, int | None]:
        """The weight and bias hooks and their seed: the scheme's own, or a calibration's replay;
        each times the µP record's scale."""
        calibration = self.calibration
        hook: Hook = self.init_weight
        bias_hook: Hook = self.init_bias
        seed = self.seed
        if calibration is not None:
            own = calibration.base is None or calibration.base == self.scheme
            draw: Scheme = self
            if not calibration.recorded:
                # Saved before calibrations recorded their law: it replays at the layer's current
                # gain, options and bias, as it did then.
                if not own:
                    draw = self.template(cast(str, calibration.base))
            else:
                check_fits("the calibration's gain", cast(float, calibration.gain), dtype)
                _check_bias(calibration.bias_init, dtype)
                replica = self._replica(calibration, own)
                draw, bias_hook = replica, replica.init_bias
                if not own:
                    options = dict(calibration.options or {})
                    draw = self.template(
                        cast(str, calibration.base), gain=calibration.gain, **options
                    )
            hook, seed = _scaled(draw.init_weight, calibration.scale), calibration.seed
        if self.mup is not None and self.mup.weight_scale != 1.0:
            hook = _scaled(hook, self.mup.weight_scale)
        if self.mup is not None and self.mup.bias_scale != 1.0:
            bias_hook = _scaled(bias_hook, self.mup.bias_scale)
        return hook, bias_hook, seed

    def _replica(self, calibration: Calibration, own: bool) -> InitLayer:
        """This layer as it was calibrated: the calibration's gain and bias (and, where it drew
        its own scheme, its options) on a shallow copy that shares the parameters.

        Built without ``copy.copy``, which a parametrized module refuses.
        """
        replica: InitLayer = object.__new__(type(self))
        replica.__dict__.update(self.__dict__)
        replica.__dict__.update(
            gain=calibration.gain,
            bias_init=calibration.bias_init,
            bias_std=calibration.bias_std,
            calibration=None,
            mup=None,
        )
        if own and calibration.options is not None:
            replica.configure(**calibration.options)
        return replica

    def _recorded(self, calibration: Calibration) -> Calibration:
        """``calibration`` with what this layer's draw reads now: gain, bias and the drawing
        scheme's options (``None`` where the scheme keeps an option under another name)."""
        if calibration.recorded:
            return calibration
        if calibration.base is None or calibration.base == self.scheme:
            names = type(self).options()
            options: dict[str, Any] | None = {
                name: self.__dict__[name] for name in names if name in self.__dict__
            }
            if options is not None and len(options) < len(names):
                options = None
        else:
            options = schemes()[calibration.base].options()
        return dataclasses.replace(
            calibration,
            gain=self.gain,
            bias_init=self.bias_init,
            bias_std=self.bias_std,
            options=options,
        )

    @staticmethod
    def _generator(device: torch.device, seed: int | None) -> torch.Generator | None:
        # The whole 64-bit seed, on every device: seeded_generator() says how.
        if seed is None or device.type == "meta":
            return None
        return seeded_generator(seed, device)

    @staticmethod
    def _draw(like: Tensor, hook: Hook, generator: torch.Generator | None) -> Tensor:
        # A DTensor (FSDP2, tensor parallel) gets the full draw, then keeps this rank's shard, so
        # the sharded layer equals the unsharded one and no two shards repeat.
        values = torch.empty(like.shape, dtype=like.dtype, device=like.device)
        hook(values, generator)
        return shard_like(values, like)

    # Rebuilding: the kind knows its torch arguments.

    def torch_arguments(self) -> dict[str, Any]:
        """The torch layer's constructor arguments that rebuild this layer's shape."""
        raise NotImplementedError  # every kind overrides it

    def template(self, scheme: str | type[Scheme], **overrides: Any) -> InitLayer:
        arguments = {"gain": self.gain, **self.torch_arguments(), **overrides}
        cls = layer_class(scheme, self.torch_kind)
        layer: InitLayer = cls(**arguments, device="meta", dtype=self.weight.dtype)
        return layer

    @classmethod
    def serves(cls, *args: Any, **kwargs: Any) -> bool:
        """Whether ``cls(*args, **kwargs)`` can be built: ``False`` where the scheme's constructor
        raises ``ValueError`` for a configuration it cannot serve (a delta-orthogonal layer with
        fewer outputs than inputs, say).

        The default builds the layer on the meta device, which allocates and draws nothing; a scheme
        with a simple rule may override it. :mod:`initconv.testing` draws only configurations that
        the scheme serves.

        Examples:
            >>> initconv.DeltaOrthogonalConv2d.serves(8, 4, 3)
            False
        """
        try:
            cls(*args, **{**kwargs, "device": "meta"})
        except ValueError:
            return False
        return True

    # LSUV's calibration, as the layer shows it.

    @property
    def calibration(self) -> Calibration | None:
        """The LSUV calibration that every reset replays, or ``None``: a :class:`Calibration`,
        checked when set (set it to ``None`` to return to the layer's own scheme)."""
        return cast("Calibration | None", self.__dict__.get("calibration"))

    @calibration.setter
    def calibration(self, value: Calibration | None) -> None:
        self.calibrate(value)

    @property
    def calibrated_scale(self) -> float | None:
        """The calibration's scale, or ``None``; set it to ``None`` to return to the scheme."""
        calibration = self.calibration
        return None if calibration is None else calibration.scale

    @calibrated_scale.setter
    def calibrated_scale(self, value: None) -> None:
        if value is not None:
            raise ValueError(
                f"calibrated_scale can only be set to None (to return to the layer's own "
                f"scheme), got {value!r}; initconv.lsuv_ sets calibrations"
            )
        self.__dict__["calibration"] = None

    @property
    def calibrated_base(self) -> str | None:
        """The scheme the calibration draws, or ``None``."""
        calibration = self.calibration
        return None if calibration is None else calibration.base

    def set_mup(self, record: MuP | None) -> None:
        """Set (or with ``None`` clear) the µP record that every reset replays; :func:`initconv.mup_`
        sets it."""
        if record is not None and not isinstance(record, MuP):
            raise TypeError(f"record must be a MuP record or None, got {describe(record)}")
        self.__dict__["mup"] = record

    def calibrate(self, calibration: Calibration | None) -> None:
        """Set (or with ``None`` clear) the calibration that every reset replays.

        A calibration that does not record the gain, bias and options it was drawn at gets this
        layer's current ones: the layer's weights are that draw at the time it is calibrated.
        """
        if calibration is not None and not isinstance(calibration, Calibration):
            raise TypeError(
                "calibration must be a Calibration (initconv.lsuv_ sets it) or None (the "
                f"layer's own scheme), got {describe(calibration)}"
            )
        self.__dict__["calibration"] = None if calibration is None else self._recorded(calibration)

    def extra_repr(self) -> str:
        parts = [
            super().extra_repr(),
            f"scheme={self.scheme or type(self).__name__}",
            f"activation={self.activation}",
            f"gain={self.gain:.4g}",
        ]
        defaults: dict[str, object] = {
            **self.options(),
            "bias_init": type(self).default_bias_init,
            # A bias_std goes with a normal bias only: shown where it is not the scheme's default.
            "bias_std": type(self).default_bias_std if self.bias_init == "normal" else None,
            "seed": None,
        }
        for name, default in defaults.items():
            value = getattr(self, name, default)
            if value != default:
                parts.append(f"{name}={value!r}")
        calibration = self.calibration
        if isinstance(calibration, Calibration):
            parts.append(f"calibrated_scale={calibration.scale:.6g}")
            parts.append(f"calibrated_base={calibration.base!r}")
            # What the replay draws at where it is not what the layer declares now.
            if calibration.recorded and calibration.gain != self.gain:
                parts.append(f"calibrated_gain={calibration.gain:.4g}")
            if calibration.recorded and calibration.bias_init != self.bias_init:
                parts.append(f"calibrated_bias_init={calibration.bias_init!r}")
        if self.mup is not None:
            parts.append(f"mup={self.mup.role}")
        return ", ".join(parts)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickles from before calibrations were one attribute, as torch's convs do for
        # padding_mode.
        scale = state.pop("calibrated_scale", None)
        base = state.pop("calibrated_base", None)
        if "calibration" not in state:
            seed = state.get("seed")
            state["calibration"] = (
                None if scale is None or seed is None else Calibration(scale, base, seed)
            )
        state.setdefault("mup", None)  # pickles from before µP records
        super().__setstate__(state)  # type: ignore[no-untyped-call]

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            local = metadata.setdefault(prefix[:-1], {})
            if self.calibration is not None:
                local[METADATA_KEY] = self.calibration.to_metadata()
            if self.mup is not None:
                local[MUP_KEY] = self.mup.to_metadata()

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
        value = local_metadata.get(METADATA_KEY)
        if value is not None:
            name = prefix[:-1] or "(model)"
            try:
                calibration = Calibration.from_metadata(value, schemes())
            except (TypeError, ValueError) as error:
                error_msgs.append(f"layer {name!r}: {error}")
            else:
                if not calibration.recorded:
                    warnings.warn(
                        f"layer {name!r}: its LSUV calibration was saved before calibrations "
                        f"recorded the law they were drawn at, so it replays at this layer's gain "
                        f"{self.gain:.6g}, bias_init {self.bias_init!r} and options: the same "
                        "weights only if they are what the calibrated layer declared. Run "
                        "initconv.lsuv_ again, or save the calibrated model again, to record them",
                        UserWarning,
                        stacklevel=2,
                    )
                # The replay is built now, so that options the drawing scheme does not take, or
                # values it refuses, fail the load by name rather than the next reset.
                previous = self.__dict__.get("calibration")
                self.__dict__["calibration"] = calibration
                try:
                    self._hooks(self.weight.dtype)
                except (TypeError, ValueError) as error:
                    self.__dict__["calibration"] = previous
                    error_msgs.append(f"layer {name!r}: its calibration cannot replay: {error}")
                    return
                self.__dict__["seed"] = calibration.seed
        record = local_metadata.get(MUP_KEY)
        if record is not None:
            try:
                self.__dict__["mup"] = MuP.from_metadata(record)
            except (TypeError, ValueError) as error:
                error_msgs.append(f"layer {prefix[:-1] or '(model)'!r}: {error}")
