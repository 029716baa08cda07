"""``python -m initconv demo``: a 100-layer plain CNN on digits, nn.Conv2d's default init against
initconv's Kaiming and critical inits.

nn.Conv2d's default has Var(W) = 1 / (3 fan_in); before a tanh, whose slope at 0 is 1, that shrinks
the signal's second moment 3x per layer until the biases dominate it, and a deep plain network stays
at chance. A per-layer gain is not enough at depth 100 either: initconv's Kaiming tanh gain, 5/3,
holds the variance at q* = 1.18 but puts the network in the chaotic phase (chi_1 = 1.21 > 1,
:func:`initconv.diagnostics.correlation_map`): nearby inputs decorrelate layer after layer, and the
gradients carry no usable signal. The critical init (:func:`initconv.critical`; Schoenholz et al.
2017, Xiao et al. 2018) puts it on the edge of chaos, chi_1 = 1, with delta-orthogonal weights and a
small random bias, and the same network trains. The demo measures all three at init
(:func:`initconv.diagnostics.propagation`), then trains them with the same seed, data and optimiser
(Adam) on scikit-learn's bundled digits (no download).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

import initconv
from initconv import diagnostics

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}
_MISSING = 'the demo needs scikit-learn, matplotlib and tqdm: pip install "initconv[demo]"'

#: sigma_b of the critical init per activation: tanh a small bias; relu 0, its only critical point;
#: gelu and silu where their critical lines' variance maps are most stable (docs/deep.md).
CRITICAL_BIAS_STD = {"tanh": 0.05, "relu": 0.0, "gelu": 0.65, "silu": 1.0}


@dataclasses.dataclass
class _Run:
    label: str
    table: diagnostics.PropagationTable
    steps: list[int] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    eval_steps: list[int] = dataclasses.field(default_factory=list)
    accuracies: list[float] = dataclasses.field(default_factory=list)


def digits(seed: int = 0, test_size: int = 397) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's 1,797 8x8 digits, standardised, split by a seeded shuffle:
    ``(x_train, y_train, x_test, y_test)``, images shaped ``(n, 1, 8, 8)``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    train, test = slice(test_size, None), slice(None, test_size)
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


def plain_cnn(
    depth: int,
    width: int,
    conv: Callable[..., nn.Conv2d],
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """``depth`` 3x3 convolutions, each followed by ``activation``, then global average pooling and
    a linear classifier: no normalisation, no skips. Circular padding: on 8x8 images, zero padding
    alone drops the second moment by (22/24)^2 = 0.84 per layer, whatever the init."""
    layers: list[nn.Module] = []
    for index in range(depth):
        layers += [
            conv(1 if index == 0 else width, width, 3, padding=1, padding_mode="circular"),
            activation(),
        ]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return nn.Sequential(*layers)


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(dim=1) == y).float().mean()
    model.train()
    return float(correct)


def train(
    model: nn.Module,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    *,
    steps: int,
    seed: int,
    lr: float,
    batch: int = 64,
    evaluate_every: int = 0,
    clip: float | None = None,
    adam: bool = False,
    progress: Callable[[], object] | None = None,
) -> tuple[list[float], list[tuple[int, float]]]:
    """SGD with momentum 0.9 (Adam if ``adam``) on cross-entropy, gradients clipped to norm
    ``clip`` if given; returns the training losses and (step, test accuracy) pairs. A loss that
    turns NaN ends the run early (the curve stops there)."""
    x_train, y_train, x_test, y_test = data
    optimiser: torch.optim.Optimizer = (
        torch.optim.Adam(model.parameters(), lr=lr)
        if adam
        else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    )
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    evaluations: list[tuple[int, float]] = []
    for step in range(1, steps + 1):
        index = torch.randint(len(y_train), (batch,), generator=generator)
        loss = nn.functional.cross_entropy(model(x_train[index]), y_train[index])
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimiser.step()
        losses.append(float(loss.detach()))
        if evaluate_every and (step % evaluate_every == 0 or step == steps):
            evaluations.append((step, accuracy(model, x_test, y_test)))
        if progress is not None:
            progress()
        if not math.isfinite(losses[-1]):
            break
    if not evaluations or evaluations[-1][0] != len(losses):
        evaluations.append((len(losses), accuracy(model, x_test, y_test)))
    return losses, evaluations


def critical_conv(activation: str, bias_std: float) -> Callable[..., nn.Conv2d]:
    """A factory of :class:`initconv.CriticalConv2d` on the critical line of ``activation`` at
    ``bias_std``; the first layer (one input channel: the standardised digits, second moment 1) is
    drawn normal at :meth:`~initconv.CriticalPoint.input_gain`, so the signal starts at q*."""
    point = initconv.critical(activation, bias_std)
    bias: dict[str, Any] = {"bias_init": "normal", "bias_std": bias_std} if bias_std else {}

    def build(in_channels: int, *args: Any, **kwargs: Any) -> nn.Conv2d:
        if in_channels == 1:
            kwargs = {**kwargs, "base": "normal", "gain": point.input_gain(1.0)}
        layer: Any = initconv.CriticalConv2d
        conv: nn.Conv2d = layer(in_channels, *args, **kwargs, activation=activation, **bias)
        return conv

    return build


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m initconv demo",
        description="Train a 100-layer plain CNN on scikit-learn's digits with nn.Conv2d's "
        "default init, initconv's Kaiming and its critical init, and plot signal propagation and "
        "training curves.",
    )
    parser.add_argument("--out", default="initconv-demo.png", help="where to write the figure")
    parser.add_argument("--depth", type=int, help="conv layers (default 100; 50 with --quick)")
    parser.add_argument("--width", type=int, default=16, help="channels per conv (default 16)")
    parser.add_argument(
        "--steps", type=int, help="Adam steps per model (default 400; 150 with --quick)"
    )
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument(
        "--activation", choices=sorted(_ACTIVATIONS), default="tanh", help="default: tanh"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads while training (default 1: these convolutions are too small for more "
        "to help, and on a busy machine more threads wait on each other)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a 50-layer net, 150 steps: under a minute"
    )
    return parser


def _plot(runs: list[_Run], path: str, depth: int, activation: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (signal, loss, acc) = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    for run in runs:
        layers = range(1, len(run.table) + 1)
        line = signal.plot(layers, [row.forward for row in run.table], label=run.label)[0]
        signal.plot(
            layers,
            [row.backward for row in run.table],
            linestyle="--",
            color=line.get_color(),
        )
        loss.plot(run.steps, run.losses, label=run.label, color=line.get_color(), alpha=0.8)
        acc.plot(
            run.eval_steps, run.accuracies, label=run.label, color=line.get_color(), marker="."
        )
    signal.set_yscale("log")
    signal.set_xlabel("layer (the last: the linear classifier)")
    signal.set_ylabel("second moment (solid: forward, dashed: gradient)")
    signal.set_title(f"at init: signal through {depth} plain {activation} conv layers")
    loss.set_yscale("log")
    loss.set_xlabel("Adam step")
    loss.set_ylabel("training cross-entropy")
    loss.set_title("training loss")
    acc.set_ylim(0, 1)
    acc.set_xlabel("Adam step")
    acc.set_ylabel("test accuracy")
    acc.set_title("held-out accuracy (397 digits; chance 0.1)")
    signal.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axes in (signal, loss, acc):
        axes.grid(alpha=0.3)
    figure.suptitle(_headline(runs))
    figure.legend(*loss.get_legend_handles_labels(), loc="outside lower center", ncol=len(runs))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _headline(runs: list[_Run]) -> str:
    """What the reader should see: the best and the worst run's final accuracy, measured."""
    best = max(runs, key=lambda run: run.accuracies[-1])
    worst = min(runs, key=lambda run: run.accuracies[-1])
    return (
        f"{worst.label} ends at {worst.accuracies[-1]:.2f} test accuracy (chance 0.1); "
        f"{best.label} reaches {best.accuracies[-1]:.2f}"
    )


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.depth is None:
        args.depth = 50 if args.quick else 100
    if args.steps is None:
        args.steps = 150 if args.quick else 400
    for option in ("depth", "width", "steps", "threads"):
        if getattr(args, option) < 1:
            print(f"--{option} must be positive, got {getattr(args, option)!r}", file=sys.stderr)
            return 2
    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        print(_MISSING, file=sys.stderr)
        return 1

    started = time.perf_counter()
    # These convolutions are tiny: a second thread only waits for the first, and on a busy machine
    # it waits long. Another thread count sums in another order, so the numbers move a little.
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        runs = _train_all(args)
    finally:
        torch.set_num_threads(threads)
    _plot(runs, args.out, args.depth, args.activation)
    _print(runs, args)
    elapsed = time.perf_counter() - started
    print(f"\nwrote {args.out} ({elapsed:.0f} s; train loss averaged over the last 20 steps)")
    return 0


def _train_all(args: argparse.Namespace) -> list[_Run]:
    from tqdm import tqdm

    data = digits(args.seed)
    activation = _ACTIVATIONS[args.activation]
    bias_std = CRITICAL_BIAS_STD[args.activation]
    variants: dict[str, Callable[..., nn.Conv2d]] = {
        "nn.Conv2d (torch default)": nn.Conv2d,
        f'initconv KaimingNormalConv2d(activation="{args.activation}")': (
            lambda *a, **k: initconv.KaimingNormalConv2d(*a, **k, activation=args.activation)
        ),
        f'initconv CriticalConv2d(activation="{args.activation}", bias_std={bias_std:g})': (
            critical_conv(args.activation, bias_std)
        ),
    }
    runs: list[_Run] = []
    with tqdm(total=len(variants) * args.steps, desc="training", unit="step") as bar:
        for label, conv in variants.items():
            torch.manual_seed(args.seed)
            model = plain_cnn(args.depth, args.width, conv, activation)
            table = diagnostics.propagation(model, data[0][:256], label=label, seed=args.seed)
            bar.set_postfix_str(label)
            losses, evaluations = train(
                model,
                data,
                steps=args.steps,
                seed=args.seed,
                lr=args.lr,
                evaluate_every=max(args.steps // 20, 1),
                adam=True,
                progress=lambda: bar.update(1),
            )
            bar.update(args.steps - len(losses))
            run = _Run(label, table, list(range(1, len(losses) + 1)), losses)
            run.eval_steps, run.accuracies = map(list, zip(*evaluations, strict=True))
            runs.append(run)
    return runs


def _print(runs: list[_Run], args: argparse.Namespace) -> None:
    print(
        f"\n{args.depth}-layer plain {args.activation} CNN (width {args.width}) on digits, "
        f"{args.steps} Adam steps (lr {args.lr:g}, batch 64), seed {args.seed}\n"
    )
    print("| init | log2(q_last conv / q_input) at init | final train loss | test accuracy |")
    print("|---|---|---|---|")
    for run in runs:
        # The first `depth` rows are the convolutions; the last row is the linear classifier.
        ratio = list(run.table)[args.depth - 1].forward / run.table.input_moment
        log2 = f"{math.log2(ratio):.1f}" if ratio > 0 else "-inf (underflow)"
        final_loss = sum(run.losses[-20:]) / len(run.losses[-20:])
        print(f"| {run.label} | {log2} | {final_loss:.3f} | {run.accuracies[-1]:.3f} |")
