"""Layer-sequential unit-variance (LSUV) calibration that the layers replay without data.

Mishkin & Matas (2015) initialise each layer with an orthogonal draw and rescale it until its output
on a real batch has unit variance. That fixes what no analytic gain can: the unstable variance map
of gelu/silu/mish/hardswish in deep plain stacks (slope M'(1) > 1), the drift of relu at finite
width, and architectures whose gains are unknown. Here the result is not a one-off rewrite of the
weights: each layer keeps a :class:`~initconv._layers.calibration.Calibration` (scale, base scheme, seed),
and its ``reset_parameters()`` replays the same draw times the same scale, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from initconv._layers.base import InitLayer
from initconv._layers.calibration import Calibration
from initconv._layers.sharding import is_dtensor
from initconv._maths.fans import KINDS
from initconv._model.convert import convert_layers
from initconv._model.report import Report
from initconv._model.surgery import Undo
from initconv._schemes.base import Scheme, resolve_scheme
from initconv._validate import check_int, check_real, describe

__all__ = ["LSUVReport", "LSUVRow", "lsuv_"]


@dataclasses.dataclass(frozen=True)
class LSUVRow:
    """One calibrated layer: ``iterations`` rescalings took its output variance on the batch to
    ``variance`` (1 within the tolerance); ``scale`` multiplies the ``seed``-ed base draw."""

    name: str
    iterations: int
    variance: float
    scale: float
    seed: int


class LSUVReport(Report[LSUVRow]):
    """What :func:`lsuv_` did, one :class:`LSUVRow` per layer in forward order; ``str()`` is a table.

    Attributes:
        rows: the calibrated layers, in the order the batch reached them.
        base: the base scheme drawn.
        converted: layers that were plain torch layers and were converted to ``base`` first.
        unreached: initconv layers the batch never reached, left as they were.
        skipped: other subclasses of the torch layers, left as they were.
        tied: ``(layer, calibrated)`` pairs: a layer that shares a parameter with a calibrated
            one (tied weights) and took its calibration instead of a second one.
    """

    def __init__(
        self,
        rows: Sequence[LSUVRow],
        base: str,
        converted: tuple[str, ...] = (),
        unreached: tuple[str, ...] = (),
        skipped: tuple[str, ...] = (),
        tied: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(rows)
        self.base = base
        self.converted = converted
        self.unreached = unreached
        self.skipped = skipped
        self.tied = tied

    def __repr__(self) -> str:
        return (
            f"LSUVReport({len(self.rows)} layers, base={self.base!r}, "
            f"max iterations {max((row.iterations for row in self.rows), default=0)})"
        )

    columns = (
        ("layer", lambda row: row.name),
        ("iterations", lambda row: str(row.iterations)),
        ("variance", lambda row: f"{row.variance:.4f}"),
        ("scale", lambda row: f"{row.scale:.6g}"),
        ("seed", lambda row: str(row.seed)),
    )

    def summary(self) -> list[str]:
        lines = []
        lines.append(f"{len(self.rows)} layers calibrated on base {self.base!r}.")
        for what, names in (
            ("converted from torch layers", self.converted),
            ("not reached by the batch", self.unreached),
            ("skipped (not initconv layers)", self.skipped),
        ):
            if names:
                lines.append(f"{what}: {', '.join(names)}")
        if self.tied:
            pairs = ", ".join(f"{layer} (with {calibrated})" for layer, calibrated in self.tied)
            lines.append(
                f"sharing weights with a calibrated layer, replaying its calibration: {pairs}"
            )
        return lines


@dataclasses.dataclass
class _Saved:
    """A layer as it was before :func:`lsuv_` touched it: every tensor it owns (parametrization
    originals included), its calibration and its seed."""

    layer: InitLayer
    tensors: list[tuple[Tensor, Tensor]]
    calibration: Calibration | None
    seed: int | None

    @classmethod
    def of(cls, layer: InitLayer) -> _Saved:
        tensors: list[tuple[Tensor, Tensor]] = [(p, p.detach().clone()) for p in layer.parameters()]
        return cls(layer, tensors, layer.calibration, layer.seed)

    def restore(self) -> None:
        with torch.no_grad():
            for tensor, value in self.tensors:
                tensor.copy_(value)
        # As it was, not through calibrate(), which would record a saved calibration's law anew.
        self.layer.__dict__["calibration"] = self.calibration
        self.layer.seed = self.seed


def _check_options(tol: object, max_iters: object, base: object) -> str:
    value = check_real("tol", tol)
    if not 0 < value < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    check_int("max_iters", max_iters, minimum=1)
    scheme = resolve_scheme(base, "base")
    if scheme.scheme is None:
        name = getattr(base, "__name__", "MyScheme")
        raise ValueError(
            f"base must be a registered scheme, so that a checkpoint can name it; got the "
            f"unregistered {describe(base)} (a subclass that changes its parent's draw or theory "
            f"is a scheme of its own: register it, class {name}(..., scheme='my_name'))"
        )
    return scheme.scheme


def _check_batch(batch: object) -> tuple[Tensor, ...]:
    args = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not args or not all(isinstance(arg, Tensor) for arg in args):
        raise TypeError(
            "batch must be a Tensor or a tuple of Tensors (the model's positional inputs), got "
            f"{type(batch).__name__}"
        )
    for arg in args:
        if arg.numel() == 0:
            raise ValueError(
                f"batch must not be empty: the output variance of an empty batch is undefined, "
                f"got a tensor of shape {tuple(arg.shape)}"
            )
        if (arg.is_floating_point() or arg.is_complex()) and not arg.is_meta:
            bad = int((~torch.isfinite(arg)).sum())
            if bad:
                raise ValueError(
                    f"batch must be finite: no scale gives a layer unit variance on NaN or inf, "
                    f"got {bad} NaN/inf of {arg.numel()} values"
                )
    return args


def _check_devices(model: nn.Module, args: tuple[Tensor, ...]) -> None:
    devices = {arg.device for arg in args}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if (
            isinstance(module, KINDS)
            and isinstance(weight, Tensor)
            and weight.device not in devices
        ):
            where = " (materialise it with to_empty() first)" if weight.is_meta else ""
            raise ValueError(
                f"batch is on {', '.join(sorted(map(str, devices)))} but layer {name or '(model)'!r} "
                f"is on {weight.device}{where}; move the batch or the model"
            )


def _convert_plain(model: nn.Module, base: str) -> tuple[tuple[str, ...], Undo]:
    """Convert the exact torch layers to ``base``; return their names and how to undo it."""
    if isinstance(model, KINDS) and not isinstance(model, InitLayer):
        raise TypeError(
            f"lsuv_ calibrates initconv layers, but the model is a plain {type(model).__name__}; "
            "build it with an initconv scheme, or wrap it: lsuv_(nn.Sequential(layer), batch)"
        )
    if isinstance(model, InitLayer):
        return (), Undo()
    report, undo = convert_layers(model, base, "infer", False, None, None, False, {})
    return tuple(row.name for row in report.converted), undo


def _variance(output: object, name: str) -> float:
    if not isinstance(output, Tensor):
        raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a Tensor")
    if output.numel() < 2:
        raise ValueError(
            f"layer {name!r} gives {output.numel()} output value on the batch (shape "
            f"{tuple(output.shape)}), whose variance is 0 whatever the scale; pass a batch with "
            "more samples; the model is restored"
        )
    return float(output.detach().to(torch.float64).var(correction=0))


def _calibrate(
    layer: InitLayer, name: str, inputs: tuple[Any, ...], base: str, tol: float, max_iters: int
) -> LSUVRow:
    """Rescale ``layer``'s ``base`` draw until its output variance on ``inputs`` is 1 within tol."""
    if layer.seed is None:
        layer.seed = int(torch.randint(0, 2**32, ()))
    scale = 1.0
    layer.calibrate(Calibration(scale, base, layer.seed))
    try:
        layer.reset_parameters()
    except (TypeError, ValueError) as error:
        raise ValueError(f"base {base!r} cannot initialise layer {name!r}: {error}") from error
    # The replay is the draw times the scale, and the bias does not depend on it: a rescaling
    # multiplies the first draw again, as the replay's own mul_ does, rather than drawing anew.
    # A parametrized or sharded weight is written through its reset, as the replay writes it, and
    # so is one a µP record scales after the calibration (a second rounding in the other order).
    weight = layer.weight
    plain = not parametrize.is_parametrized(layer, "weight") and not is_dtensor(weight)
    plain = plain and (layer.mup is None or layer.mup.weight_scale == 1.0)
    drawn = weight.detach().clone() if plain else None
    variances: list[float] = []
    while True:
        variance = _variance(layer.forward(*inputs), name)
        variances.append(variance)
        if not (math.isfinite(variance) and variance > 0):
            raise ValueError(
                f"layer {name!r} has output variance {variance!r} on the batch, so no scale "
                "makes it 1: a dead layer (its input is constant, or the base draws zeros); "
                "the model is restored"
            )
        if abs(variance - 1) <= tol:
            return LSUVRow(name, len(variances) - 1, variance, scale, layer.seed)
        if len(variances) > max_iters:
            seen = ", ".join(f"{v:.4g}" for v in variances)
            raise RuntimeError(
                f"layer {name!r} did not reach output variance 1 within tol={tol!r} in "
                f"max_iters={max_iters!r} rescalings (variances {seen}): its output does not "
                "scale with its weight (a large bias, a weight-standardised forward); the "
                "model is restored"
            )
        scale /= math.sqrt(variance)
        layer.calibrate(Calibration(scale, base, layer.seed))
        if drawn is None:
            layer.reset_parameters()
        else:
            with torch.no_grad():
                weight.copy_(drawn * scale)


def lsuv_(
    model: nn.Module,
    batch: Tensor | Sequence[Tensor],
    *,
    tol: float = 0.02,
    max_iters: int = 10,
    base: str | type[Scheme] = "orthogonal",
) -> LSUVReport:
    r"""Calibrate every initconv layer of ``model`` to unit output variance on ``batch``.

    Layer-sequential unit-variance initialisation, described in "All you need is a good init" -
    Mishkin, D. & Matas, J. (2015). In forward order, each layer :math:`l` (convolutions,
    transposed convolutions and linear layers alike) is drawn from the ``base`` scheme
    (orthogonal, as in the paper), then rescaled on the input :math:`x_l` that the batch gives it,
    with the layers before it already calibrated:

    .. math::
        W_l \leftarrow \frac{W_l}{\sqrt{v_l}}, \qquad v_l = \operatorname{Var}[f_l(x_l)]
        \quad \text{until} \quad |v_l - 1| \le \text{tol},

    the variance taken over every element of the layer's output. The layer stores the result as
    plain state, its calibration: ``calibrated_scale`` (the product of the rescalings),
    ``calibrated_base`` and ``seed``, and what the draw read off the layer: the gain, the bias's
    ``bias_init`` and ``bias_std`` and the drawing scheme's options. Its ``reset_parameters()``,
    hence ``to_empty()`` materialisation and FSDP, then replays the calibrated weights bit for bit
    without data, and ``state_dict()`` carries the calibration in its metadata (loading into the
    plain torch layer with ``strict=True`` still works). A fresh model that loads it replays the
    same weights whatever activation or bias its layers declare; a calibration saved before the
    gain was recorded replays at the loading layer's gain, with a warning that says so. A layer
    without a seed gets one drawn from torch's global generator, so ``torch.manual_seed`` before
    the call makes the whole calibration reproducible. Set ``calibrated_scale = None`` to return a
    layer to its own scheme.

    Tied weights are calibrated once, as a layer called twice is: a layer that shares a parameter
    with a layer already calibrated takes that calibration (``report.tied``), so that a reset of
    either replays the same values into the shared tensor; where it would replay other values (the
    same tensor grouped or laid out otherwise), a ValueError names both. A shared parameter that
    a module ``lsuv_`` does not calibrate holds too (an embedding tied to an output layer) changes
    with it, and a warning names it.

    Plain torch layers are first converted to ``base`` by :func:`initconv.convert` (with
    ``reinit=False``, activations inferred); those the batch never reaches are converted back. The
    model runs once, in the mode it is in (call ``model.eval()`` first for deterministic dropout),
    under ``torch.no_grad()``; its buffers (batch-norm running statistics) are restored afterwards.
    A layer called more than once is calibrated on its first call. Only the calibrated layers'
    weights, biases (re-drawn by their ``bias_init``) and calibrations change.

    On any error (a dead layer, whose output variance is 0 or not finite; a layer that does not
    reach the tolerance in ``max_iters`` rescalings; an exception from the model) every layer is
    restored, parametrizations' originals included, conversions are undone, and the hooks are
    removed.

    Args:
        model: the model, or a single initconv layer.
        batch: the model's input, or a tuple of its positional inputs; not empty, on the
            layers' device.
        tol: the accepted :math:`|v_l - 1|`, in (0, 1).
        max_iters: the most rescalings per layer, at least 1.
        base: a registered scheme, by name or class.

    Returns:
        An :class:`LSUVReport`: per layer the rescalings taken, the final variance and the scale.

    Raises:
        TypeError: a bad argument type, or a plain torch layer that cannot be converted.
        ValueError: a bad value, an empty batch, a batch on another device, a dead layer, an
            unregistered base, or tied layers that cannot replay one calibration.
        RuntimeError: a layer that did not converge.

    Examples:
        >>> model = nn.Sequential(
        ...     initconv.KaimingNormalConv2d(3, 16, 3, padding=1, activation="gelu"),
        ...     nn.GELU(),
        ...     initconv.KaimingNormalConv2d(16, 16, 3, padding=1),
        ... )
        >>> report = lsuv_(model, torch.randn(8, 3, 16, 16))
        >>> [round(row.variance, 1) for row in report]
        [1.0, 1.0]
        >>> model[0].reset_parameters()  # the calibrated weights again, without data
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    base = _check_options(tol, max_iters, base)
    args = _check_batch(batch)
    _check_devices(model, args)
    converted, undo = _convert_plain(model, base)
    targets = {
        module: name or "(model)"
        for name, module in model.named_modules()
        if isinstance(module, InitLayer)
    }
    skipped = tuple(
        name or "(model)"
        for name, module in model.named_modules()
        if isinstance(module, KINDS) and not isinstance(module, InitLayer)
    )
    if not targets:
        raise ValueError("model has no initconv or torch layers to calibrate")
    touched: dict[InitLayer, _Saved] = {}
    rows: list[LSUVRow] = []
    tied: list[tuple[str, str]] = []
    owners = _owners(model)

    caller = threading.get_ident()

    def calibrate(layer: nn.Module, inputs: tuple[Any, ...]) -> None:
        # This call's forward pass only: a model that serves another thread meanwhile must not
        # be calibrated on that thread's inputs.
        if threading.get_ident() != caller:
            return
        if isinstance(layer, InitLayer) and layer not in touched:
            partner = _calibrated_partner(layer, owners, touched)
            touched[layer] = _Saved.of(layer)
            if partner is None:
                rows.append(_calibrate(layer, targets[layer], inputs, base, float(tol), max_iters))
            else:
                tied.append(_tie(layer, partner, owners, touched, targets))

    buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    handles = [layer.register_forward_pre_hook(calibrate) for layer in targets]
    try:
        try:
            with torch.no_grad():
                model(*args)
        finally:
            for handle in handles:
                handle.remove()
            with torch.no_grad():
                for buffer, value in buffers:
                    buffer.copy_(value)
        # A layer the batch never reached but whose weight is a calibrated layer's (tied) replays
        # that calibration too, or its next reset would draw its own scheme over the weight.
        for layer in targets:
            partner = None if layer in touched else _calibrated_partner(layer, owners, touched)
            if partner is not None:
                touched[layer] = _Saved.of(layer)
                tied.append(_tie(layer, partner, owners, touched, targets))
    except BaseException:
        for saved in reversed(touched.values()):
            saved.restore()
        undo()
        raise

    unreached_layers = [layer for layer in targets if layer not in touched]
    undo(only=unreached_layers)
    unreached = tuple(targets[layer] for layer in unreached_layers)
    converted = tuple(name for name in converted if name not in unreached)
    for names, why in (
        (unreached, "the batch never reached"),
        (skipped, "are not initconv layers:"),
    ):
        if names:
            warnings.warn(
                f"lsuv_: {why} {', '.join(names)}; left as they were", UserWarning, stacklevel=2
            )
    others = _other_sharers(touched, owners)
    if others:
        warnings.warn(
            f"lsuv_: calibrating changed {', '.join(others)} too: they share a Parameter with a "
            "calibrated layer (tied weights), and their own reset_parameters() draws their own "
            "init over it",
            UserWarning,
            stacklevel=2,
        )
    return LSUVReport(rows, base, converted, unreached, skipped, tuple(tied))


Owners = dict[int, list[tuple[str, nn.Module, str]]]


def _owners(model: nn.Module) -> Owners:
    """Who holds each Parameter, by identity: ``(module name, module, parameter name)``."""
    owners: Owners = {}
    for name, module in model.named_modules():
        for key, parameter in module._parameters.items():
            if parameter is not None:
                owners.setdefault(id(parameter), []).append((name or "(model)", module, key))
    return owners


def _shared(layer: InitLayer, owners: Owners) -> list[tuple[Tensor, str, nn.Module, str]]:
    """``layer``'s parameters that another module holds too (tied weights), with who holds them:
    ``(parameter, module name, module, parameter name)``. A parametrization's original, held by
    the layer's own submodule, is the layer's."""
    own = set(layer.modules())
    return [
        (parameter, name, module, key)
        for parameter in layer.parameters()
        for name, module, key in owners.get(id(parameter), ())
        if module not in own
    ]


def _calibrated_partner(
    layer: InitLayer, owners: Owners, touched: dict[InitLayer, _Saved]
) -> InitLayer | None:
    for _, _, module, _ in _shared(layer, owners):
        if isinstance(module, InitLayer) and module in touched:
            return module
    return None


def _tie(
    layer: InitLayer,
    partner: InitLayer,
    owners: Owners,
    touched: dict[InitLayer, _Saved],
    names: dict[InitLayer, str],
) -> tuple[str, str]:
    """Give ``layer`` its calibrated ``partner``'s calibration: a tied weight is calibrated once,
    and both layers' resets must then replay the same values into it, or neither calibrates."""
    shared = [
        (parameter, f"{name}.{key}")
        for parameter, name, module, key in _shared(layer, owners)
        if isinstance(module, InitLayer) and module in touched
    ]
    before = [parameter.detach().clone() for parameter, _ in shared]
    calibration = partner.calibration
    layer.__dict__["calibration"] = calibration
    layer.seed = None if calibration is None else calibration.seed
    why = ""
    try:
        layer.reset_parameters()
    except (TypeError, ValueError) as error:
        why = f": {error}"
    else:
        changed = [
            shown
            for (parameter, shown), value in zip(shared, before, strict=True)
            if not torch.equal(parameter, value)
        ]
        if changed:
            why = f": its replay draws other values into {', '.join(changed)}"
    if why:
        raise ValueError(
            f"layers {names[layer]!r} and {names[partner]!r} share a Parameter (tied weights) and "
            f"{names[layer]!r} cannot replay {names[partner]!r}'s calibration{why}; give them the "
            "same kind, shape and scheme, or untie them; the model is restored"
        )
    return names[layer], names[partner]


def _other_sharers(touched: dict[InitLayer, _Saved], owners: Owners) -> list[str]:
    """Parameters of calibrated layers that modules lsuv_ does not calibrate hold too."""
    found: dict[str, None] = {}
    for layer in touched:
        for _, name, module, key in _shared(layer, owners):
            if not (isinstance(module, InitLayer) and module in touched):
                found[f"{name}.{key}"] = None
    return list(found)
