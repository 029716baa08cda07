"""Signal propagation: the second moment of every layer's output, forward and backward."""

from __future__ import annotations

import dataclasses
import io
import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import torch
from torch import Tensor, nn

from initconv._layers.base import InitLayer
from initconv._maths.fans import KINDS, fans
from initconv._meanfield.variance_map import verdict_of
from initconv._model.report import format_table
from initconv._validate import check_torch_seed

__all__ = ["PropagationRow", "PropagationTable", "propagation"]


@dataclasses.dataclass(frozen=True)
class PropagationRow:
    """One convolution of a :func:`propagation` table.

    Attributes:
        name: the module's name in the model.
        scheme: the initconv scheme, or ``"plain <class name>"`` for a layer without one.
        activation: the declared activation (``"-"`` for a plain layer, which declares none).
        gain: the declared gain (``nan`` for a plain layer; its ``weight_gain`` is measured).
        weight_gain: :math:`\\sqrt{\\text{fan\\_in} \\cdot \\mathrm{mean}(W^2)}`, the gain the
            weights actually have (0.577 for ``nn.Conv2d``'s default init).
        forward: the second moment of the layer's output.
        forward_ratio: ``forward`` over the previous row's (over the input's for the first row).
        backward: the second moment of the gradient at the layer's output.
        backward_ratio: ``backward`` over the next row's (the layer before it in the backward pass;
            over the cotangent's for the last row).
        verdict: :func:`variance_map`'s verdict for the activation and gain (``""`` if unknown).
    """

    name: str
    scheme: str
    activation: str
    gain: float
    weight_gain: float
    forward: float
    forward_ratio: float
    backward: float
    backward_ratio: float
    verdict: str


_COLUMNS = (
    "layer",
    "scheme",
    "activation",
    "gain",
    "weight_gain",
    "fwd_q",
    "fwd_ratio",
    "bwd_q",
    "bwd_ratio",
    "verdict",
)


class PropagationTable:
    """The result of :func:`propagation`: one :class:`PropagationRow` per convolution, forward order.

    ``str()`` is an aligned text table; :meth:`to_csv` and :meth:`plot` export it.

    Attributes:
        label: the model's name in plots.
        rows: the rows.
        input_moment: the second moment of the example input.
    """

    def __init__(self, label: str, rows: Sequence[PropagationRow], input_moment: float) -> None:
        self.label = label
        self.rows = tuple(rows)
        self.input_moment = input_moment

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[PropagationRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> PropagationRow:
        return self.rows[index]

    def __repr__(self) -> str:
        return f"PropagationTable(label={self.label!r}, rows={len(self.rows)})"

    def _cells(self) -> list[list[str]]:
        return [
            [
                row.name,
                row.scheme,
                row.activation,
                "-" if math.isnan(row.gain) else f"{row.gain:.4g}",
                f"{row.weight_gain:.4g}",
                f"{row.forward:.4g}",
                f"{row.forward_ratio:.4g}",
                f"{row.backward:.4g}",
                f"{row.backward_ratio:.4g}",
                row.verdict,
            ]
            for row in self.rows
        ]

    def __str__(self) -> str:
        lines = format_table(_COLUMNS, self._cells(), rule=False)
        unstable = sorted({row.activation for row in self.rows if row.verdict == "unstable"})
        title = f"{self.label}: input second moment {self.input_moment:.4g}"
        notes = []
        if unstable:
            notes.append(
                f"unstable variance map for {', '.join(unstable)}: deep plain stacks drift "
                "(see initconv.diagnostics.variance_map; initconv.lsuv_ or normalisation helps)"
            )
        return "\n".join([title, *lines, *notes])

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV text (a header, then one line per row); also written to ``path``."""
        buffer = io.StringIO()
        buffer.write(",".join(_COLUMNS) + "\n")
        for row in self.rows:
            values = [getattr(row, field.name) for field in dataclasses.fields(row)]
            buffer.write(",".join(_csv_cell(value) for value in values) + "\n")
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self, path: str | Path, *others: PropagationTable) -> None:
        """Plot the forward and backward second moments against depth to ``path`` (log scale).

        One line per table: this one and each of ``others``, labelled by :attr:`label`. Needs
        matplotlib (``pip install "initconv[plot]"``).
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError(
                'PropagationTable.plot needs matplotlib: pip install "initconv[plot]"'
            ) from error
        figure, (forward, backward) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        for table in (self, *others):
            depth = range(1, len(table.rows) + 1)
            forward.plot(depth, [row.forward for row in table.rows], label=table.label)
            backward.plot(depth, [row.backward for row in table.rows], label=table.label)
        for axes, title in ((forward, "forward: output"), (backward, "backward: gradient")):
            axes.set_yscale("log")
            axes.set_xlabel("conv layer")
            axes.set_ylabel("second moment")
            axes.set_title(title)
            axes.legend()
        figure.savefig(path, dpi=120)
        plt.close(figure)


def _csv_cell(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "," in text or '"' in text else text


def _describe(module: nn.Module) -> tuple[str, str, float, str]:
    if isinstance(module, InitLayer):
        verdict = verdict_of(module.activation, module.gain)
        return module.scheme or type(module).__name__, module.activation, module.gain, verdict
    # A layer without a scheme: what it is, and no declared activation or gain (its weight_gain
    # column is the gain its weights have).
    return f"plain {type(module).__name__}", "-", math.nan, ""


def _weight_gain(module: nn.Module) -> float:
    """sqrt(fan_in * mean(|W|^2)), with the layer's own fans (grouped, transposed, strided)."""
    # The attribute, not get_parameter(): a parametrized weight (weight norm) is computed.
    weight = cast(Tensor, module.weight).detach()
    if not weight.numel():
        return 0.0
    return math.sqrt(fans(module)[0] * _moment(weight))


def _moment(tensor: Tensor) -> float:
    """mean(|x|^2), in float64 (the modulus for a complex tensor)."""
    values = tensor.detach()
    if values.is_complex():
        values = values.abs()
    return float(values.double().pow(2).mean())


def check_measurable(model: nn.Module, example_input: Tensor) -> None:
    """A model and input with values to measure: none on the meta device, the input not empty and
    finite."""
    if example_input.is_meta or any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        raise ValueError(
            "model and example_input must hold values, but they are on the meta device; "
            "materialise the model first (model.to_empty(device=...) and reset_parameters())"
        )
    if example_input.numel() == 0:
        raise ValueError(f"example_input must not be empty, got shape {tuple(example_input.shape)}")
    if example_input.is_floating_point() or example_input.is_complex():
        bad = int((~torch.isfinite(example_input)).sum())
        if bad:
            raise ValueError(
                f"example_input must be finite, got {bad} NaN/inf of {example_input.numel()} values"
            )


def propagation(
    model: nn.Module,
    example_input: Tensor,
    *,
    label: str | None = None,
    seed: int = 0,
) -> PropagationTable:
    r"""Measure the signal's second moment at every convolution of ``model``, forward and backward.

    The forward pass records :math:`q_l = \mathrm{mean}(y_l^2)` for the output :math:`y_l` of each
    convolution, in the order they run. The backward pass starts from a standard normal cotangent
    on the model's output (seeded by ``seed``) and records the second moment of the gradient at each
    convolution's output. In a plain stack whose init preserves the signal, both stay within a small
    factor of 1 at every depth ("Delving deep into rectifiers" - He, K. et al. (2015), eqs. 10 and
    14); a per-layer ratio :math:`q_l / q_{l-1}` far from 1 shows where it vanishes or explodes.

    The model's parameters are not changed; their ``.grad`` (values and the tensors themselves)
    and the model's buffers (batch-norm running statistics, which a model in training mode
    updates) are left as they were: the backward pass is :func:`torch.autograd.grad`, which
    accumulates nothing into ``.grad`` and runs no post-accumulate-grad hook.

    Args:
        model: any module with convolutions (all of ``nn.Conv1d/2d/3d`` and their transposes).
        example_input: a batch the model accepts.
        label: the model's name in plots; the model's class name when ``None``.
        seed: seeds the backward cotangent.

    Returns:
        A :class:`PropagationTable`.

    Examples:
        >>> model = nn.Sequential(initconv.KaimingNormalConv2d(3, 8, 3, activation="relu"), nn.ReLU())
        >>> table = propagation(model, torch.randn(2, 3, 16, 16))
        >>> len(table), table[0].scheme
        (1, 'kaiming_normal')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, Tensor):
        raise TypeError(f"example_input must be a Tensor, got {type(example_input).__name__}")
    seed = check_torch_seed("seed", seed)
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__} {label!r}")
    check_measurable(model, example_input)
    names: dict[nn.Module, str] = {
        module: name for name, module in model.named_modules() if isinstance(module, KINDS)
    }
    if not names:
        raise ValueError(
            f"model has no convolutions or linear layers to measure ({type(model).__name__})"
        )

    order: list[nn.Module] = []
    forward: dict[nn.Module, float] = {}
    backward: dict[nn.Module, float] = {}

    caller = threading.get_ident()

    def record(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        # Only this call's forward pass: another thread running the model meanwhile is not it.
        if threading.get_ident() != caller or module in forward or not isinstance(output, Tensor):
            return
        order.append(module)
        forward[module] = _moment(output)
        if output.requires_grad:
            # A hook on the output itself: the gradient at this value, even where a later
            # in-place op (ReLU(inplace=True)) rewrites the tensor.
            output.register_hook(lambda grad: backward.__setitem__(module, _moment(grad)))  # type: ignore[no-untyped-call]

    # A model in training mode updates batch-norm running statistics on every forward pass.
    saved_buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    handles = [module.register_forward_hook(record) for module in names]
    try:
        x = example_input.detach().requires_grad_(example_input.is_floating_point())
        output = model(x)
        if not isinstance(output, Tensor):
            raise TypeError(f"model must return a Tensor, got {type(output).__name__}")
        generator = torch.Generator(device=output.device).manual_seed(seed)
        cotangent = torch.randn(
            output.shape, generator=generator, dtype=output.dtype, device=output.device
        )
        # torch.autograd.grad, not backward(): it returns the gradients instead of accumulating
        # them into .grad, so the gradients a user holds keep their values and identity, and no
        # post-accumulate-grad hook (an optimizer step in backward, DDP's reducer) runs.
        leaves = [x] if x.requires_grad else []
        leaves += [p for p in model.parameters() if p.requires_grad]
        if output.requires_grad and leaves:
            torch.autograd.grad(output, leaves, cotangent, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for buffer, value in saved_buffers:
                buffer.copy_(value)

    input_moment = _moment(example_input)
    rows: list[PropagationRow] = []
    previous = input_moment
    backward_values = [backward.get(module, math.nan) for module in order]
    following = [*backward_values[1:], _moment(cotangent)]
    for module, grad_moment, after in zip(order, backward_values, following, strict=True):
        scheme, activation, gain, verdict = _describe(module)
        rows.append(
            PropagationRow(
                name=names[module],
                scheme=scheme,
                activation=activation,
                gain=gain,
                weight_gain=_weight_gain(module),
                forward=forward[module],
                forward_ratio=forward[module] / previous if previous > 0 else math.inf,
                backward=grad_moment,
                backward_ratio=grad_moment / after if after > 0 else math.inf,
                verdict=verdict,
            )
        )
        previous = forward[module]
    return PropagationTable(label or type(model).__name__, rows, input_moment)
