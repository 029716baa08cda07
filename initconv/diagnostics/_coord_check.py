r"""The coordinate check: the size of every layer's activations across widths, after a few steps.

Yang, G. et al. (2022), "Tensor Programs V", Section 7 and Figure 5: under µP every coordinate of
every activation stays of the same size as the width grows, during training as at init; under the
standard parametrization the updates make hidden activations grow with width (or the readout's
vanish), and a wider model needs another learning rate. Training the same model at several widths
for a few steps and comparing the sizes shows which a model is in, layer by layer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from initconv._model.param_groups import OPTIMIZERS, param_groups
from initconv._model.report import format_table
from initconv._validate import check_choice, check_int, check_real, describe

__all__ = ["CoordCheck", "CoordRow", "coord_check"]

LossFunction = Callable[[Tensor, Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class CoordRow:
    """One layer at one width after ``step`` optimizer steps: ``size`` is the mean absolute value
    of the layer's output coordinates, averaged over the seeds."""

    name: str
    width: int
    step: int
    size: float


class CoordCheck:
    """The result of :func:`coord_check`: every layer's activation size per width and step.

    ``str()`` is a table of the sizes after the last step with each layer's :meth:`spread`;
    :meth:`plot` draws the sizes against width, one panel per step.

    Attributes:
        widths: the widths, in the order given.
        steps: the optimizer steps taken (sizes are recorded after 0, 1, ..., ``steps``).
        layers: the layers' names, in the order they run.
        rows: one :class:`CoordRow` per layer, width and step.
        label: a title for the table and plot.
    """

    def __init__(
        self,
        widths: Sequence[int],
        steps: int,
        layers: Sequence[str],
        rows: Sequence[CoordRow],
        label: str,
    ) -> None:
        self.widths = tuple(widths)
        self.steps = steps
        self.layers = tuple(layers)
        self.rows = tuple(rows)
        self.label = label
        self._sizes = {(row.name, row.width, row.step): row.size for row in self.rows}

    def __iter__(self) -> Iterator[CoordRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (
            f"CoordCheck(label={self.label!r}, widths={self.widths}, steps={self.steps}, "
            f"{len(self.layers)} layers)"
        )

    def size(self, layer: str, width: int, step: int) -> float:
        """The mean absolute activation of ``layer`` at ``width`` after ``step`` steps."""
        key = (layer, width, step)
        if key not in self._sizes:
            raise KeyError(
                f"layer, width and step must be one of the check's: layers {self.layers}, "
                f"widths {self.widths}, steps 0..{self.steps}; got {key!r}"
            )
        return self._sizes[key]

    def spread(self, layer: str, step: int | None = None) -> float:
        r"""The largest size over the smallest across widths, at ``step`` (the last when ``None``).

        Near 1 under µP; growing with the width range under the standard parametrization. At
        step 0 µP's readout is the exception by design: its init variance falls like
        :math:`1/\text{fan\_in}^2`, so its output starts at a size :math:`\propto n^{-1/2}` that the
        first updates, of size independent of :math:`n`, take over from."""
        t = self.steps if step is None else step
        sizes = [self.size(layer, width, t) for width in self.widths]
        low, high = min(sizes), max(sizes)
        if not math.isfinite(high):
            return math.inf
        return high / low if low > 0 else math.inf

    def exponent(self, layer: str, step: int | None = None) -> float:
        """The slope of log(size) against log(width), least squares over the widths, at ``step``
        (the last step when ``None``): 0 when flat, 1 when the size grows like the width."""
        t = self.steps if step is None else step
        xs = [math.log(width) for width in self.widths]
        ys = [math.log(max(self.size(layer, width, t), 1e-300)) for width in self.widths]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
        den = sum((x - mean_x) ** 2 for x in xs)
        return num / den

    def __str__(self) -> str:
        header = (
            "layer",
            *(f"w={width}" for width in self.widths),
            "spread",
            "exponent",
        )
        cells = [
            (
                name,
                *(f"{self.size(name, width, self.steps):.4g}" for width in self.widths),
                f"{self.spread(name):.3g}",
                f"{self.exponent(name):+.2f}",
            )
            for name in self.layers
        ]
        lines = [
            f"{self.label}: mean |activation| after {self.steps} steps; spread = largest over "
            "smallest across widths; exponent = d log size / d log width",
            *format_table(header, cells),
        ]
        return "\n".join(lines)

    def plot(self, path: str | Path, *, steps: Sequence[int] | None = None) -> None:
        """Plot each layer's size against width to ``path``, one panel per step (log-log).

        ``steps``: the panels (default: every step, at most the first four and the last). Needs
        matplotlib (``pip install "initconv[plot]"``).
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError(
                'CoordCheck.plot needs matplotlib: pip install "initconv[plot]"'
            ) from error
        if steps is None:
            chosen = sorted({*range(min(4, self.steps + 1)), self.steps})
        else:
            chosen = [check_int("steps", t, minimum=0) for t in steps]
        figure, axes = plt.subplots(
            1, len(chosen), figsize=(3.2 * len(chosen), 3.4), sharey=True, squeeze=False
        )
        for panel, t in zip(axes[0], chosen, strict=True):
            for name in self.layers:
                sizes = [self.size(name, width, t) for width in self.widths]
                panel.plot(self.widths, sizes, marker="o", label=name)
            panel.set_xscale("log", base=2)
            panel.set_yscale("log")
            panel.set_xlabel("width")
            panel.set_title(f"step {t}")
        axes[0][0].set_ylabel("mean |activation|")
        axes[0][-1].legend(fontsize="small", loc="best")
        figure.suptitle(self.label)
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)


def _check_batch(batch: object) -> tuple[Tensor, Tensor]:
    if (
        not isinstance(batch, (tuple, list))
        or len(batch) != 2
        or not all(isinstance(t, Tensor) for t in batch)
    ):
        raise TypeError(
            f"batch must be a pair (inputs, targets) of tensors, got {describe(batch)[:120]}"
        )
    return cast(Tensor, batch[0]), cast(Tensor, batch[1])


def _check_widths(widths: object) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of ints, got {describe(widths)}")
    checked = tuple(check_int("widths", width, minimum=1) for width in widths)
    if len(set(checked)) < 2:
        raise ValueError(f"widths must hold at least two different widths, got {widths!r}")
    return checked


def _default_loss(output: Tensor, target: Tensor) -> Tensor:
    if target.is_floating_point():
        return nn.functional.mse_loss(output, target)
    return nn.functional.cross_entropy(output, target)


def _layers(model: nn.Module) -> dict[nn.Module, str]:
    """The modules that own parameters, by name (the parameters of a parametrization belong to
    the layer it parametrizes)."""
    found: dict[nn.Module, str] = {}
    for name, module in model.named_modules():
        if not name or "parametrizations" in name.split("."):
            continue
        if any(True for _ in module.parameters(recurse=False)) or hasattr(
            module, "parametrizations"
        ):
            found.setdefault(module, name)
    return found


def _run(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    steps: int,
    lr: float,
    optimizer: str,
    loss: LossFunction,
) -> tuple[list[str], dict[tuple[str, int], float]]:
    names = _layers(model)
    groups = param_groups(model, lr, optimizer=cast(Any, optimizer))
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(groups) if optimizer == "adam" else torch.optim.SGD(groups)
    )
    order: list[str] = []
    sizes: dict[tuple[str, int], float] = {}
    step = 0

    def record(module: nn.Module, args: object, output: object) -> None:
        if not isinstance(output, Tensor) or (names[module], step) in sizes:
            return
        if step == 0:
            order.append(names[module])
        sizes[(names[module], step)] = float(output.detach().abs().double().mean())

    handles = [module.register_forward_hook(record) for module in names]
    try:
        for step in range(steps + 1):
            output = model(inputs)
            if not isinstance(output, Tensor):
                raise TypeError(f"the model must return a Tensor, got {describe(output)[:80]}")
            if step == steps:
                break
            value = loss(output, targets)
            opt.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            opt.step()
    finally:
        for handle in handles:
            handle.remove()
    return order, sizes


def coord_check(
    make_model: Callable[[int], nn.Module],
    widths: Sequence[int],
    batch: tuple[Tensor, Tensor],
    *,
    steps: int = 8,
    lr: float = 1e-2,
    optimizer: Literal["adam", "sgd"] = "adam",
    loss: LossFunction | None = None,
    seeds: int = 2,
    label: str | None = None,
) -> CoordCheck:
    r"""Train ``make_model(width)`` for a few steps at every width and measure every layer's
    activation size (Yang, G. et al. (2022), "Tensor Programs V", Section 7).

    At each width and seed, the model is built, its optimizer takes
    :func:`initconv.param_groups`' groups (so a model parametrized by :func:`initconv.mup_` in
    ``make_model`` trains with µP's rates, any other with one rate), and it runs ``steps`` steps on
    ``batch``. Before the first step and after each, the size of the output of every module with
    parameters is recorded:

    .. math::
        s_\ell(n, t) = \frac{1}{N} \sum_i |h_{\ell, i}|,

    the mean absolute coordinate of layer :math:`\ell`'s output at width :math:`n` after :math:`t`
    steps, averaged over ``seeds`` models. Under µP, :math:`s_\ell(n, t)` does not depend on
    :math:`n` (:meth:`CoordCheck.spread` near 1, :meth:`CoordCheck.exponent` near 0); under the
    standard parametrization the updates make hidden layers grow with :math:`n` (Adam: like
    :math:`n`, exponent near 1). µP's readout starts small by design (variance
    :math:`\propto 1/\text{fan\_in}^2`: output :math:`\propto n^{-1/2}` at step 0) and its updates,
    of a size independent of :math:`n`, take over within a few steps; hence the default of 8. The
    model is built and trained under a forked random state, so torch's global generator is as it
    was.

    Args:
        make_model: builds the model at a width; all widths must give the same module names.
        widths: at least two widths, e.g. ``(16, 32, 64, 128, 256)``.
        batch: ``(inputs, targets)``, one batch that every step trains on.
        steps: optimizer steps, >= 1.
        lr: the base learning rate.
        optimizer: ``"adam"`` (``torch.optim.Adam``) or ``"sgd"`` (``torch.optim.SGD``).
        loss: ``loss(output, targets)``; cross-entropy for integer targets, mean squared error
            for float ones when ``None``.
        seeds: models per width (seeds 0, 1, ...), whose sizes are averaged.
        label: the title of the table and plot.

    Returns:
        A :class:`CoordCheck`.

    Examples:
        >>> def make(width):
        ...     model = nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 4))
        ...     initconv.mup_(model, nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)))
        ...     return model
        >>> check = coord_check(make, (8, 32, 128), (torch.randn(64, 8), torch.randint(0, 4, (64,))))
        >>> check.spread("0") < 1.5
        True
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable width -> model, got {describe(make_model)}")
    widths = _check_widths(widths)
    inputs, targets = _check_batch(batch)
    steps = check_int("steps", steps, minimum=1)
    lr = check_real("lr", lr, positive=True)
    optimizer = cast(Literal["adam", "sgd"], check_choice("optimizer", optimizer, OPTIMIZERS))
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable (output, targets) -> loss, got {describe(loss)}")
    seeds = check_int("seeds", seeds, minimum=1)
    loss_function = _default_loss if loss is None else loss
    layers: list[str] | None = None
    totals: dict[tuple[str, int, int], float] = {}
    for width in widths:
        for seed in range(seeds):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = make_model(width)
                if not isinstance(model, nn.Module):
                    raise TypeError(
                        f"make_model must return an nn.Module, got {describe(model)[:80]} at "
                        f"width {width}"
                    )
                order, sizes = _run(model, inputs, targets, steps, lr, optimizer, loss_function)
            if layers is None:
                layers = order
            elif order != layers:
                raise ValueError(
                    f"make_model must build the same layers at every width: width {width} runs "
                    f"{tuple(order)}, width {widths[0]} {tuple(layers)}"
                )
            for (name, step), size in sizes.items():
                key = (name, width, step)
                totals[key] = totals.get(key, 0.0) + size / seeds
    assert_layers = layers or []
    rows = [
        CoordRow(name, width, step, totals[(name, width, step)])
        for name in assert_layers
        for width in widths
        for step in range(steps + 1)
    ]
    title = label or f"{optimizer} at lr {lr:g}"
    return CoordCheck(widths, steps, assert_layers, rows, title)
