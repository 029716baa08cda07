"""``python -m initconv demo``: a 100-layer plain CNN on digits, nn.Conv2d's default init against
initconv's Kaiming and critical inits.

The three inits fail or succeed in the three ways mean-field theory names (Poole et al. 2016,
Schoenholz et al. 2017; :func:`initconv.diagnostics.correlation_map` computes each phase):

- nn.Conv2d's default has Var(W) = 1 / (3 fan_in). Before a tanh, whose slope at 0 is 1, the part
  of the signal that depends on the input shrinks about 3x per layer until the biases are all that
  is left: it *vanishes* (the ordered phase, chi_1 = 0.33), and every input gives the same output.
- initconv's Kaiming tanh gain, 5/3, holds the signal's size (q* = 1.18) but puts the network in
  the *chaotic* phase (chi_1 = 1.21 > 1): two nearly identical inputs drift apart layer after layer
  until they are unrelated, and the gradients carry no usable signal.
- The critical init (:func:`initconv.critical`; Xiao et al. 2018) sits on the *edge of chaos*,
  chi_1 = 1, with delta-orthogonal weights and a small random bias: size and similarity both
  survive 100 layers, and the same network trains.

The demo measures both at init, then trains the three with the same seed, data and optimiser
(Adam) on scikit-learn's bundled digits (no download), and draws one picture of it all.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

import initconv
from initconv._cli import Parser, choice, error, positive_int

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


@dataclasses.dataclass(frozen=True)
class Settings:
    """How long the demo runs: the depth, the Adam steps per model and how often it evaluates."""

    depth: int
    steps: int
    evaluations: int


#: The full run and ``--quick``: the same 100-layer network, so the same story; the quick one
#: trains for fewer steps (Adam at 1e-4 is the largest rate at which the critical 100-layer net
#: trains in ``python -m benchmarks training``, so fewer steps cannot be bought with a larger one).
FULL = Settings(depth=100, steps=400, evaluations=20)
QUICK = Settings(depth=100, steps=150, evaluations=6)

#: The noisy copy of each digit: standard normal noise of this std on standardised pixels, so the
#: copy's correlation with the digit is about 1 / sqrt(1 + 0.3^2) = 0.96.
NOISE_STD = 0.3
#: How many digits (and noisy copies) the measurement at init sends through.
PROBE = 128


@dataclasses.dataclass
class _Run:
    label: str
    short: str
    share: list[float]
    similarity: list[float]
    losses: list[float] = dataclasses.field(default_factory=list)
    eval_steps: list[int] = dataclasses.field(default_factory=list)
    accuracies: list[float] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


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
    a linear classifier: no normalisation, no skips (the network of ``python -m benchmarks
    training``). The first conv has stride 2 (8x8 digits to 4x4), which makes the other
    ``depth - 1`` four times cheaper. Circular padding: on so small an image, zero padding alone
    drops the second moment by a fixed factor per layer (0.84 at 8x8), whatever the init."""
    layers: list[nn.Module] = []
    for index in range(depth):
        stem = index == 0
        layers += [
            conv(
                1 if stem else width,
                width,
                3,
                stride=2 if stem else 1,
                padding=1,
                padding_mode="circular",
            ),
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


def signal_at_init(
    model: nn.Module, x: Tensor, *, noise_std: float = NOISE_STD, seed: int = 0
) -> tuple[list[float], list[float]]:
    """What reaches each conv's output at init, from the input (index 0) to the last conv.

    Returns two lists, one value per depth:

    - the share of the signal that depends on the input: the variance across the digits ``x``,
      summed over units, over the second moment. The biases' part is the same for every input, so
      a share near 0 means the layer's output no longer depends on the input: it has vanished.
    - the similarity of each digit and its noisy copy (``x`` plus N(0, ``noise_std``^2) noise):
      the correlation sum(a b) / sqrt(sum(a^2) sum(b^2)) of their outputs, averaged over the
      digits, the correlation that mean-field theory's correlation map follows (Poole et al. 2016).
      It goes to 1 where inputs merge (ordered), to 0 where they scramble (chaotic), and holds on
      the critical line.

    Measured in the model's own dtype, as it computes: a part below its rounding is gone.
    """
    generator = torch.Generator().manual_seed(seed)
    noisy = x + noise_std * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    outputs: list[Tensor] = [torch.cat([x, noisy])]
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    handles = [
        conv.register_forward_hook(lambda _m, _i, output: outputs.append(output.detach()))
        for conv in convs
    ]
    try:
        with torch.no_grad():
            model(outputs[0])
    finally:
        for handle in handles:
            handle.remove()
    shares: list[float] = []
    similarities: list[float] = []
    for output in outputs:
        flat = output.flatten(1).double()
        clean, copy = flat[: len(x)], flat[len(x) :]
        moment = float(clean.pow(2).mean(0).sum())
        spread = float(clean.var(0, unbiased=False).sum())
        shares.append(spread / moment if moment > 0 else 0.0)
        norms = clean.norm(dim=1) * copy.norm(dim=1)
        similarities.append(float(((clean * copy).sum(1) / norms.clamp_min(1e-300)).mean()))
    return shares, similarities


def _parser() -> Parser:
    parser = Parser(
        "demo",
        f"A plain CNN ({FULL.depth} 3x3 tanh convs, no normalisation, no skips) built three ways:\n"
        "nn.Conv2d's default init, initconv.KaimingNormalConv2d and initconv.CriticalConv2d.\n"
        "Each is measured at init (does the input still reach the last layer? do two nearly\n"
        "identical digits stay alike?), then trained with the same seed, data and Adam optimiser\n"
        "on scikit-learn's 8x8 digits. Prints a table and writes a picture.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.steps} training steps per model instead of {FULL.steps} (the same "
        f"{QUICK.depth}-layer network, the same story, in about a third of the time)",
    )
    parser.add_argument(
        "--out", default="initconv-demo.png", help="where to write the picture (%(default)s)"
    )
    parser.add_argument("--depth", type=positive_int, help=f"conv layers (default {FULL.depth})")
    parser.add_argument("--width", type=positive_int, default=16, help="channels (default 16)")
    parser.add_argument(
        "--steps",
        type=positive_int,
        help=f"Adam steps per model (default {FULL.steps}; {QUICK.steps} with --quick)",
    )
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument(
        "--activation",
        type=choice(_ACTIVATIONS),
        default="tanh",
        help=f"one of {', '.join(sorted(_ACTIVATIONS))} (default tanh)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the inits and the batches")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads while training (default 1: these convolutions are too small for more "
        "to help, and on a busy machine more threads wait on each other)",
    )
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse(argv)
    if isinstance(args, int):
        return args
    settings = QUICK if args.quick else FULL
    args.depth = args.depth or settings.depth
    args.steps = args.steps or settings.steps
    if not math.isfinite(args.lr) or args.lr <= 0:
        return error(f"--lr must be a positive number, got {args.lr!r}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        return error(f"--out {args.out!r}: the folder {folder!r} does not exist")
    try:
        import matplotlib  # noqa: F401
        import sklearn  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return error(_MISSING)

    started = time.perf_counter()
    cpu = time.process_time()
    # These convolutions are tiny: a second thread only waits for the first, and on a busy machine
    # it waits long. Another thread count sums in another order, so the numbers move a little.
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        runs = _train_all(args, settings.evaluations)
    finally:
        torch.set_num_threads(threads)
    try:
        _plot(runs, args)
    except OSError as failure:
        return error(f"cannot write {args.out!r}: {failure}")
    _print(runs, args)
    print(
        f"\nwrote {args.out} ({time.perf_counter() - started:.0f} s, "
        f"{time.process_time() - cpu:.0f} s of CPU)"
    )
    return 0


def _variants(activation: str) -> dict[tuple[str, str], Callable[..., nn.Conv2d]]:
    """(table label, picture label) -> the conv factory of each init."""
    bias_std = CRITICAL_BIAS_STD[activation]

    def kaiming(*args: Any, **kwargs: Any) -> nn.Conv2d:
        return initconv.KaimingNormalConv2d(*args, **kwargs, activation=activation)

    return {
        ("nn.Conv2d (torch default)", "torch default"): nn.Conv2d,
        (f'initconv KaimingNormalConv2d(activation="{activation}")', "Kaiming"): kaiming,
        (
            f'initconv CriticalConv2d(activation="{activation}", bias_std={bias_std:g})',
            "critical",
        ): critical_conv(activation, bias_std),
    }


def _train_all(args: argparse.Namespace, evaluations: int) -> list[_Run]:
    from tqdm import tqdm

    data = digits(args.seed)
    activation = _ACTIVATIONS[args.activation]
    variants = _variants(args.activation)
    runs: list[_Run] = []
    # A progress bar is for a terminal: redirected to a log, it would write a line per update.
    quiet = not (sys.stdout.isatty() and sys.stderr.isatty())
    with tqdm(total=len(variants) * args.steps, desc="training", unit="step", disable=quiet) as bar:
        for (label, short), conv in variants.items():
            torch.manual_seed(args.seed)
            model = plain_cnn(args.depth, args.width, conv, activation)
            share, similarity = signal_at_init(model, data[0][:PROBE], seed=args.seed)
            bar.set_postfix_str(short)
            started = time.perf_counter()
            at_init = accuracy(model, data[2], data[3])
            losses, evaluated = train(
                model,
                data,
                steps=args.steps,
                seed=args.seed,
                lr=args.lr,
                evaluate_every=max(args.steps // evaluations, 1),
                adam=True,
                progress=lambda: bar.update(1),
            )
            bar.update(args.steps - len(losses))
            run = _Run(label, short, share, similarity, losses)
            run.eval_steps, run.accuracies = map(list, zip((0, at_init), *evaluated, strict=True))
            run.seconds = time.perf_counter() - started
            runs.append(run)
            bar.write(
                f"{short}: test accuracy {run.accuracies[-1]:.2f} after {len(losses)} steps "
                f"({run.seconds:.0f} s)"
            )
    return runs


_COLOURS = {"torch default": "#7f7f7f", "Kaiming": "#e66100", "critical": "#1a5fb4"}
#: Each init in the picture's legend: its class and what it does to the signal.
_LEGEND = {
    "torch default": "nn.Conv2d's default: vanishes",
    "Kaiming": "initconv Kaiming: chaos",
    "critical": "initconv critical: edge of chaos",
}
#: Below this share, the input's part of a float32 signal is rounding: it is gone.
_FLOOR = 1e-12


def _plot(runs: list[_Run], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Sized for a README column (about 900 px wide): the 1,350 px picture shrinks by about 2/3,
    # so 16-point tick labels still show at about 15 px.
    style: Any = {
        "font.size": 16,
        "axes.titlesize": 17,
        "axes.labelsize": 16,
        "xtick.labelsize": 16,
        "ytick.labelsize": 16,
        "legend.fontsize": 17,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 3,
    }
    by_name = {run.short: run for run in runs}
    with plt.rc_context(style):
        figure, (share, similar, acc) = plt.subplots(
            1, 3, figsize=(13.5, 5.4), layout="constrained"
        )
        for run in runs:
            colour = _COLOURS[run.short]
            layers = range(len(run.share))
            share.plot(layers, [max(v, _FLOOR / 10) for v in run.share], color=colour)
            similar.plot(layers, run.similarity, color=colour)
            acc.plot(run.eval_steps, run.accuracies, color=colour, label=_LEGEND[run.short])
        for run, height in zip(runs, _spread([run.accuracies[-1] for run in runs]), strict=True):
            acc.annotate(
                f"{run.accuracies[-1]:.2f}",
                (run.eval_steps[-1], height),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                color=_COLOURS[run.short],
                fontweight="bold",
            )
        share.set_yscale("log")
        share.set_ylim(_FLOOR, 5)
        share.set_yticks([1, 1e-4, 1e-8, 1e-12], ["1", "$10^{-4}$", "$10^{-8}$", "$10^{-12}$"])
        share.set_title("Does the input reach layer L?")
        share.set_ylabel("share of the signal from the input")
        if "torch default" in by_name:
            share.text(
                0.97,
                0.45,
                "torch default:\nthe input\nfades out",
                transform=share.transAxes,
                ha="right",
                color=_COLOURS["torch default"],
            )
        similar.set_ylim(-0.05, 1.1)
        similar.set_title("A digit and its noisy copy")
        similar.set_ylabel("similarity (correlation)")
        if "Kaiming" in by_name:
            similar.text(
                0.97,
                0.3,
                "Kaiming: they end\nup unrelated",
                transform=similar.transAxes,
                ha="right",
                color=_COLOURS["Kaiming"],
            )
        if "critical" in by_name:
            similar.text(
                0.97,
                0.72,
                "critical: they stay alike",
                transform=similar.transAxes,
                ha="right",
                color=_COLOURS["critical"],
            )
        for axes in (share, similar):
            axes.set_xlabel("layer L at init (0: the input)")
            axes.set_xlim(0, args.depth)
        acc.set_ylim(0, 1)
        acc.axhline(0.1, color="black", lw=1, ls=":")
        acc.text(0.02 * args.steps, 0.03, "dotted: chance (0.1)", va="bottom", fontsize=14)
        acc.set_xlim(0, args.steps * 1.15)
        acc.set_title("Training: held-out accuracy")
        acc.set_xlabel("Adam step")
        acc.set_ylabel("test accuracy")
        for axes in (share, similar, acc):
            axes.grid(alpha=0.3)
        figure.suptitle(
            f"A plain CNN of {args.depth} {args.activation} conv layers on 8x8 digits "
            "(no normalisation, no skips)",
            fontsize=18,
        )
        figure.legend(
            *acc.get_legend_handles_labels(),
            loc="outside lower center",
            ncol=len(runs),
            frameon=False,
            handlelength=1.5,
            columnspacing=1.2,
        )
        figure.savefig(args.out, dpi=100)
        plt.close(figure)


def _spread(values: list[float], gap: float = 0.07) -> list[float]:
    """``values`` moved apart, upwards, until neighbours are ``gap`` apart: label heights that do
    not overlap."""
    order = sorted(range(len(values)), key=values.__getitem__)
    heights = list(values)
    for below, above in itertools.pairwise(order):
        heights[above] = max(heights[above], heights[below] + gap)
    return heights


def _print(runs: list[_Run], args: argparse.Namespace) -> None:
    print(
        f"\n{args.depth}-layer plain {args.activation} CNN (width {args.width}) on digits, "
        f"{args.steps} Adam steps (lr {args.lr:g}, batch 64), seed {args.seed}\n"
    )
    print(
        "| init | at the last conv: share of the signal from the input | similarity of a digit "
        "and its noisy copy | final train loss | test accuracy |"
    )
    print("|---|---|---|---|---|")
    for run in runs:
        final_loss = sum(run.losses[-20:]) / len(run.losses[-20:])
        share = f"{run.share[-1]:.2g}" if run.share[-1] >= _FLOOR else "0 (float32 rounding)"
        print(
            f"| {run.label} | {share} | {run.similarity[-1]:.2f} | "
            f"{final_loss:.3f} | {run.accuracies[-1]:.3f} |"
        )
    print(
        "\n(train loss averaged over the last 20 steps; similarity starts at "
        f"{runs[0].similarity[0]:.2f} at the input)"
    )
