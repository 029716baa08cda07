"""Layer-sequential unit-variance (LSUV) calibration that the layers replay without data (issue 8).

Mishkin & Matas (2015) initialise each layer with an orthogonal draw and rescale it until its output
on a real batch has unit variance. That fixes what no analytic gain can: the unstable variance map
of gelu/silu/mish/hardswish in deep plain stacks (slope M'(1) > 1, shared/DESIGN.md), the drift of
relu at finite width, and architectures whose gains are unknown. Here the result is not a one-off
rewrite of the weights: each layer keeps ``calibrated_scale``, ``calibrated_base`` and ``seed``, and
its ``reset_parameters()`` replays the same draw times the same scale, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from initconv._base import InitConv2d, schemes

__all__ = ["LSUVReport", "LSUVRow", "lsuv_"]

# The base when the orthogonal scheme (issue 4) is not registered (issue 8): He et al. (2015).
_FALLBACK_BASE = "kaiming_normal"


@dataclasses.dataclass(frozen=True)
class LSUVRow:
    """One calibrated layer: ``iterations`` rescalings took its output variance on the batch to
    ``variance`` (1 within the tolerance); ``scale`` multiplies the ``seed``-ed base draw."""

    name: str
    iterations: int
    variance: float
    scale: float
    seed: int


class LSUVReport:
    """What :func:`lsuv_` did, one :class:`LSUVRow` per layer in forward order; ``str()`` is a table.

    Attributes:
        rows: the calibrated layers, in the order the batch reached them.
        base: the base scheme drawn (``"kaiming_normal"`` where ``"orthogonal"`` is not registered).
        converted: layers that were plain ``nn.Conv2d`` and were converted to ``base`` first.
        unreached: :class:`InitConv2d` layers the batch never reached, left as they were.
        skipped: other ``nn.Conv2d`` subclasses, left as they were.
    """

    def __init__(
        self,
        rows: tuple[LSUVRow, ...],
        base: str,
        converted: tuple[str, ...] = (),
        unreached: tuple[str, ...] = (),
        skipped: tuple[str, ...] = (),
    ) -> None:
        self.rows = rows
        self.base = base
        self.converted = converted
        self.unreached = unreached
        self.skipped = skipped

    def __iter__(self) -> Iterator[LSUVRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> LSUVRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __repr__(self) -> str:
        return (
            f"LSUVReport({len(self.rows)} layers, base={self.base!r}, "
            f"max iterations {max((row.iterations for row in self.rows), default=0)})"
        )

    def __str__(self) -> str:
        header = ("layer", "iterations", "variance", "scale", "seed")
        table = [header] + [
            (
                row.name,
                str(row.iterations),
                f"{row.variance:.4f}",
                f"{row.scale:.6g}",
                str(row.seed),
            )
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append(f"{len(self.rows)} layers calibrated on base {self.base!r}.")
        for what, names in (
            ("converted from nn.Conv2d", self.converted),
            ("not reached by the batch", self.unreached),
            ("skipped (not InitConv2d)", self.skipped),
        ):
            if names:
                lines.append(f"{what}: {', '.join(names)}")
        return "\n".join(lines)


@dataclasses.dataclass
class _Saved:
    """A layer as it was before :func:`lsuv_` touched it."""

    layer: InitConv2d
    weight: Tensor
    bias: Tensor | None
    scale: float | None
    base: str | None
    seed: int | None

    @classmethod
    def of(cls, layer: InitConv2d) -> _Saved:
        bias = None if layer.bias is None else layer.bias.detach().clone()
        return cls(
            layer,
            layer.weight.detach().clone(),
            bias,
            layer.calibrated_scale,
            layer.calibrated_base,
            layer.seed,
        )

    def restore(self) -> None:
        with torch.no_grad():
            self.layer.weight.copy_(self.weight)
            if self.layer.bias is not None and self.bias is not None:
                self.layer.bias.copy_(self.bias)
        self.layer.calibrated_scale = self.scale
        self.layer.calibrated_base = self.base
        self.layer.seed = self.seed


def _check_options(tol: object, max_iters: object, base: object) -> str:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise TypeError(f"tol must be a float, got {type(tol).__name__} {tol!r}")
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    if isinstance(max_iters, bool) or not isinstance(max_iters, int):
        raise TypeError(f"max_iters must be an int, got {type(max_iters).__name__} {max_iters!r}")
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters!r}")
    registered = schemes()
    if not isinstance(base, str):
        raise TypeError(f"base must be one of {tuple(registered)}, got {type(base).__name__}")
    if base == "orthogonal" and base not in registered:
        # The documented fallback when the structured schemes (issue 4) are absent.
        return _FALLBACK_BASE
    if base not in registered:
        raise ValueError(f"base must be one of {tuple(registered)}, got {base!r}")
    return base


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
    return args


def _check_devices(model: nn.Module, args: tuple[Tensor, ...]) -> None:
    devices = {arg.device for arg in args}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.weight.device not in devices:
            where = " (materialise it with to_empty() first)" if module.weight.is_meta else ""
            raise ValueError(
                f"batch is on {', '.join(sorted(map(str, devices)))} but layer {name or '(model)'!r} "
                f"is on {module.weight.device}{where}; move the batch or the model"
            )


def _convert_plain(model: nn.Module, base: str) -> tuple[tuple[str, ...], list[Any]]:
    """Convert exactly-``nn.Conv2d`` layers to ``base``; return their names and how to undo it."""
    plain = [name for name, m in model.named_modules() if type(m) is nn.Conv2d]
    if not plain:
        return (), []
    import initconv

    # convert() is the adoption issue's; without it (or for a bare nn.Conv2d) LSUV needs InitConv2d.
    convert = getattr(initconv, "convert", None)
    if convert is None or type(model) is nn.Conv2d:
        raise TypeError(
            f"lsuv_ calibrates InitConv2d layers, but layer {plain[0] or '(model)'!r} is a plain "
            "nn.Conv2d; build it with an initconv scheme"
        )
    slots = [
        (parent, key, child)
        for parent in model.modules()
        for key, child in parent._modules.items()
        if type(child) is nn.Conv2d
    ]
    report = convert(model, scheme=base, activation="infer", reinit=False)
    return tuple(row.name for row in report.converted), slots


def _variance(output: object, name: str) -> float:
    if not isinstance(output, Tensor):
        raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a Tensor")
    return float(output.detach().to(torch.float64).var(correction=0))


def lsuv_(
    model: nn.Module,
    batch: Tensor | Sequence[Tensor],
    *,
    tol: float = 0.02,
    max_iters: int = 10,
    base: str = "orthogonal",
) -> LSUVReport:
    r"""Calibrate every :class:`InitConv2d` of ``model`` to unit output variance on ``batch``.

    Layer-sequential unit-variance initialisation, described in "All you need is a good init" -
    Mishkin, D. & Matas, J. (2015). In forward order, each layer :math:`l` is drawn from the
    ``base`` scheme (orthogonal, as in the paper), then rescaled on the input :math:`x_l` that the
    batch gives it, with the layers before it already calibrated:

    .. math::
        W_l \leftarrow \frac{W_l}{\sqrt{v_l}}, \qquad v_l = \operatorname{Var}[\mathrm{conv}_l(x_l)]
        \quad \text{until} \quad |v_l - 1| \le \text{tol},

    the variance taken over every element of the layer's output. The layer stores the result as
    plain state: ``calibrated_scale`` (the product of the rescalings), ``calibrated_base`` and
    ``seed``. Its ``reset_parameters()``, hence ``to_empty()`` materialisation and FSDP, then
    replays the calibrated weights bit for bit without data, and ``state_dict()`` carries the
    three in its metadata (loading into plain ``nn.Conv2d`` with ``strict=True`` still works).
    A layer without a seed gets one drawn from torch's global generator, so ``torch.manual_seed``
    before the call makes the whole calibration reproducible. Set ``calibrated_scale = None`` to
    return a layer to its own scheme.

    Plain ``nn.Conv2d`` layers are first converted to ``base`` by :func:`initconv.convert` (with
    ``reinit=False``, activations inferred). The model runs once, in the mode it is in (call
    ``model.eval()`` first for deterministic dropout), under ``torch.no_grad()``; its buffers
    (batch-norm running statistics) are restored afterwards. A layer called more than once is
    calibrated on its first call. Only the calibrated layers' weights, biases (re-drawn by their
    ``bias_init``) and calibration attributes change.

    On any error (a dead layer, whose output variance is 0 or not finite; a layer that does not
    reach the tolerance in ``max_iters`` rescalings; an exception from the model) every layer is
    restored, conversions are undone, and the hooks are removed.

    Args:
        model: the model, or a single :class:`InitConv2d`.
        batch: the model's input, or a tuple of its positional inputs; not empty, on the
            layers' device.
        tol: the accepted :math:`|v_l - 1|`, in (0, 1).
        max_iters: the most rescalings per layer, at least 1.
        base: a registered scheme name; ``"orthogonal"`` falls back to ``"kaiming_normal"`` where
            the orthogonal scheme is not registered.

    Returns:
        An :class:`LSUVReport`: per layer the rescalings taken, the final variance and the scale.

    Raises:
        TypeError: a bad argument type, or a plain ``nn.Conv2d`` that cannot be converted.
        ValueError: a bad value, an empty batch, a batch on another device, or a dead layer.
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
    converted, slots = _convert_plain(model, base)
    targets = {
        module: name or "(model)"
        for name, module in model.named_modules()
        if isinstance(module, InitConv2d)
    }
    skipped = tuple(
        name or "(model)"
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and not isinstance(module, InitConv2d)
    )
    if not targets:
        raise ValueError("model has no InitConv2d or nn.Conv2d layers to calibrate")

    touched: dict[InitConv2d, _Saved] = {}
    rows: list[LSUVRow] = []

    def calibrate(layer: nn.Module, inputs: tuple[Any, ...]) -> None:
        if not isinstance(layer, InitConv2d) or layer in touched:
            return
        name = targets[layer]
        touched[layer] = _Saved.of(layer)
        if layer.seed is None:
            layer.seed = int(torch.randint(0, 2**32, ()))
        scale = 1.0
        layer.calibrated_base, layer.calibrated_scale = base, scale
        try:
            layer.reset_parameters()
        except (TypeError, ValueError) as error:
            raise ValueError(f"base {base!r} cannot initialise layer {name!r}: {error}") from error
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
                break
            if len(variances) > max_iters:
                seen = ", ".join(f"{v:.4g}" for v in variances)
                raise RuntimeError(
                    f"layer {name!r} did not reach output variance 1 within tol={tol!r} in "
                    f"max_iters={max_iters!r} rescalings (variances {seen}): its output does not "
                    "scale with its weight (a large bias, a weight-standardised forward); the "
                    "model is restored"
                )
            scale /= math.sqrt(variance)
            layer.calibrated_scale = scale
            layer.reset_parameters()
        rows.append(LSUVRow(name, len(variances) - 1, variance, scale, layer.seed))

    buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    handles = [layer.register_forward_pre_hook(calibrate) for layer in targets]
    try:
        with torch.no_grad():
            model(*args)
    except BaseException:
        for saved in reversed(touched.values()):
            saved.restore()
        for parent, key, child in slots:
            parent._modules[key] = child
        raise
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, value in buffers:
                buffer.copy_(value)

    unreached = tuple(name for layer, name in targets.items() if layer not in touched)
    for names, why in ((unreached, "the batch never reached"), (skipped, "are not InitConv2d:")):
        if names:
            warnings.warn(
                f"lsuv_: {why} {', '.join(names)}; left as they were", UserWarning, stacklevel=2
            )
    return LSUVReport(tuple(rows), base, converted, unreached, skipped)
