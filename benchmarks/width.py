"""Does the best learning rate carry across width and depth? µP against the standard
parametrization, Adam on scikit-learn's digits.

Width: a CNN, ``conv(1 -> w, 3x3) relu conv(w -> w, 3x3, stride 2) relu conv(w -> w, 3x3) relu
avgpool linear(w -> 10)``, at widths 16, 32, 64, 128 and 256. Depth: a pre-activation residual
CNN of width 16, a stride-2 3x3 stem then blocks ``x + conv(relu(bn(conv(relu(bn(x))))))``, at
4, 8, 16 and 32 blocks. Standard parametrization ("SP"): ``initconv.convert`` (He, relu gain, the
readout's gain 1), one rate for every parameter. µP: the same, then ``initconv.mup_(model, base)``
with base the width-16 CNN (the 4-block net), and ``initconv.param_groups``; the base itself is the
same model under both (µP's multipliers are all 1 there), so it is trained once.

Every model trains for ``STEPS`` Adam steps (batch 64, batches drawn by the seed) at every rate of
the grid ``RATES`` (factors of 2), for each seed of ``SEEDS``; the seed fixes the init and the
batches. The loss of a run is its training loss averaged over the last ``TAIL`` steps (infinite
if it turned non-finite). Per parametrization and size:

- best rate: the grid rate with the lowest median loss over the seeds;
- shift: the integer number of grid steps s that best aligns the size's loss-versus-rate curve
  with the base's, ``min_s mean_i (c(i + s) - c_base(i))^2`` over the rates both cover (at least
  half the grid), with each curve the median over seeds capped at the loss of a uniform guess,
  ln 10 (negative: the curve moved to smaller rates);
- divergence edge: the smallest rate above the best at which most seeds end no better than a
  guess (loss >= ``FAILED`` or non-finite);
- loss at the base's best rate, median [min, max] over the seeds.

Runs go to two worker processes with one thread each, so the numbers do not depend on the
machine's thread count.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import resource
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import initconv
from initconv._cli.demo import digits

THREADS = 1
WIDTHS = (16, 32, 64, 128, 256)
DEPTHS = (4, 8, 16, 32)
DEPTH_WIDTH = 16
RATES = tuple(2.0**k for k in range(-12, 0))
SEEDS = (0, 1, 2)
STEPS = 150
BATCH = 64
TAIL = 20
# A channel that is positive for none of the first 512 digits at any position counts as dead.
ALIVE_INPUTS = 512
# A run that ends at this loss or above has learned nothing (a uniform guess is ln 10 = 2.30).
FAILED = 2.0
CAP = math.log(10)
QUICK: dict[str, Any] = {
    "widths": (16, 32),
    "depths": (2, 4),
    "rates": tuple(2.0**k for k in (-9, -7, -5, -3)),
    "seeds": (0,),
    "steps": 12,
}
FULL: dict[str, Any] = {
    "widths": WIDTHS,
    "depths": DEPTHS,
    "rates": RATES,
    "seeds": SEEDS,
    "steps": STEPS,
}
PARAMETRIZATIONS = ("SP", "µP")
Job = tuple[
    str, str, int, int, float, int, int
]  # network, parametrization, size, base, rate, seed, steps


def cnn(width: int) -> nn.Sequential:
    """The width benchmark's CNN, plain torch layers."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


def cnn_bn(width: int) -> nn.Sequential:
    """The width benchmark's CNN with a BatchNorm before each ReLU: a channel's pre-activation is
    recentred on every batch, so it dies only where its learned shift outweighs its learned scale,
    not because the weights before it drifted."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, stride=2, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


class Block(nn.Module):
    """``x + conv2(relu(bn2(conv1(relu(bn1(x))))))``: a pre-activation residual block."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(width)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))


def resnet(blocks: int, width: int = DEPTH_WIDTH) -> nn.Sequential:
    """The depth benchmark's residual CNN, plain torch layers."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, stride=2, padding=1),
        nn.Sequential(*(Block(width) for _ in range(blocks))),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


NETWORKS: dict[str, Callable[[int], nn.Module]] = {"cnn": cnn, "cnn_bn": cnn_bn, "resnet": resnet}
# The activation after each layer, for convert: the readout is linear, every other layer is
# followed by a relu (in the residual net, the next block's relu acts on the branch's output).
ACTIVATIONS: dict[str, dict[str, str]] = {
    "cnn": {"8": "linear", "*": "relu"},
    "cnn_bn": {"11": "linear", "*": "relu"},
    "resnet": {"5": "linear", "*": "relu"},
}


def build(network: str, parametrization: str, size: int, base: int) -> nn.Module:
    """The model at ``size`` (width or blocks): He init with each layer's activation, and for µP
    parametrized against the model at ``base``."""
    model = NETWORKS[network](size)
    initconv.convert(model, activation=ACTIVATIONS[network])  # type: ignore[arg-type]
    if parametrization == "µP":
        initconv.mup_(model, NETWORKS[network](base))
    return model


def one_run(job: Job) -> dict[str, Any]:
    network, parametrization, size, base, rate, seed, steps = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build(network, parametrization, size, base)
    # The same line for both: plain groups for SP, µP's rates for a model mup_ parametrized.
    optimizer = torch.optim.Adam(initconv.param_groups(model, rate))
    x, y, _, _ = digits(0)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    for _ in range(steps):
        index = torch.randint(len(y), (BATCH,), generator=generator)
        loss = nn.functional.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
    tail = losses[-min(TAIL, len(losses)) :]
    value = statistics.fmean(tail) if all(math.isfinite(v) for v in tail) else math.inf
    return {
        "network": network,
        "parametrization": parametrization,
        "size": size,
        "rate": rate,
        "seed": seed,
        "loss": value,
        "alive": alive(model, x[:ALIVE_INPUTS]),
    }


def alive(model: nn.Module, x: Tensor) -> list[float]:
    """After each ``nn.ReLU`` among ``model``'s children, the fraction of channels still alive:
    positive somewhere in the output for at least one of the inputs ``x``."""
    fractions = []
    with torch.no_grad():
        for child in model.children():
            x = child(x)
            if isinstance(child, nn.ReLU):
                positive = (x > 0).reshape(x.shape[0], x.shape[1], -1).any(dim=2).any(dim=0)
                fractions.append(float(positive.double().mean()))
    return fractions


def _jobs(config: dict[str, Any]) -> list[Job]:
    jobs: list[Job] = []
    for network, sizes in (("cnn", config["widths"]), ("resnet", config["depths"])):
        base = sizes[0]
        for parametrization in PARAMETRIZATIONS:
            for size in sizes:
                if size == base and parametrization != "SP":
                    continue  # the base is the same model under both: trained once, as SP
                for rate in config["rates"]:
                    for seed in config["seeds"]:
                        jobs.append(
                            (network, parametrization, size, base, rate, seed, config["steps"])
                        )
    return jobs


def _cost(job: Job) -> float:
    network, _, size, _, _, _, steps = job
    return steps * (size**2 if network == "cnn" else 200 * size)


def sweep(jobs: list[Job], workers: int = 2) -> list[dict[str, Any]]:
    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")
    results = []
    with context.Pool(workers) as pool, tqdm(total=len(jobs), desc="width", unit="run") as bar:
        # Longest first, so the workers finish together.
        for result in pool.imap_unordered(one_run, sorted(jobs, key=_cost, reverse=True)):
            results.append(result)
            bar.update(1)
    return results


# --- Analysis ----------------------------------------------------------------------------------


def _losses(
    results: list[dict[str, Any]], network: str, parametrization: str, size: int, rate: float
) -> list[float]:
    base_run = [r for r in results if r["network"] == network and r["size"] == size]
    chosen = [r for r in base_run if r["rate"] == rate and r["parametrization"] == parametrization]
    if not chosen:  # the base, trained once as SP
        chosen = [r for r in base_run if r["rate"] == rate]
    return sorted(r["loss"] for r in chosen)


def curve(
    results: list[dict[str, Any]],
    network: str,
    parametrization: str,
    size: int,
    rates: Sequence[float],
) -> list[float]:
    """The median loss over seeds at each rate."""
    return [
        statistics.median(_losses(results, network, parametrization, size, rate)) for rate in rates
    ]


def best_index(values: Sequence[float]) -> int:
    """The rate with the lowest loss; ties go to the smaller rate."""
    return min(range(len(values)), key=lambda i: (values[i], i))


def shift(values: Sequence[float], base: Sequence[float]) -> int:
    """The integer shift s minimising the mean squared difference of the capped curves,
    ``values[i + s]`` against ``base[i]``, over at least half the grid; ties go to the smaller
    |s|."""
    capped = [min(v, CAP) for v in values]
    reference = [min(v, CAP) for v in base]
    n = len(reference)
    best: tuple[float, int, int] | None = None
    for s in range(-(n // 2), n // 2 + 1):
        pairs = [(capped[i + s], reference[i]) for i in range(n) if 0 <= i + s < n]
        error = statistics.fmean((a - b) ** 2 for a, b in pairs)
        key = (error, abs(s), s)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2]


def divergence_index(
    results: list[dict[str, Any]],
    network: str,
    parametrization: str,
    size: int,
    rates: Sequence[float],
    start: int,
) -> int | None:
    """The first rate index above ``start`` where most seeds fail (``None``: none in the grid)."""
    for i in range(start + 1, len(rates)):
        losses = _losses(results, network, parametrization, size, rates[i])
        failed = sum(1 for v in losses if not math.isfinite(v) or v >= FAILED)
        if 2 * failed > len(losses):
            return i
    return None


def _log2(rate: float) -> str:
    return f"2^{round(math.log2(rate))}"


def _spread(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        return f"{statistics.median(values):.3f} ({len(values) - len(finite)} diverged)"
    return f"{statistics.median(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def analyse(
    results: list[dict[str, Any]], network: str, sizes: Sequence[int], rates: Sequence[float]
) -> dict[str, Any]:
    base = sizes[0]
    base_curve = curve(results, network, "SP", base, rates)
    base_best = best_index(base_curve)
    out: dict[str, Any] = {}
    for parametrization in PARAMETRIZATIONS:
        rows = []
        for size in sizes:
            values = curve(results, network, parametrization, size, rates)
            best = best_index(values)
            edge = divergence_index(results, network, parametrization, size, rates, best)
            at_base = _losses(results, network, parametrization, size, rates[base_best])
            rows.append(
                {
                    "size": size,
                    "curve": values,
                    "best": best,
                    "shift": shift(values, base_curve),
                    "edge": edge,
                    "at_base_best": at_base,
                }
            )
        out[parametrization] = rows
    out["base_best"] = base_best
    return out


def _edge_text(edge: int | None, rates: Sequence[float]) -> str:
    return _log2(rates[edge]) if edge is not None else f"none up to {_log2(rates[-1])}"


def _edge_move(edge: int | None, base_edge: int | None, n: int) -> int:
    # A missing edge counts as one step past the grid.
    return (n if edge is None else edge) - (n if base_edge is None else base_edge)


def _wider_is_better(rows: list[dict[str, Any]]) -> list[bool]:
    """Per size after the first: its median loss at the base's best rate is at most the narrower
    size's worst seed (not worse beyond the seeds' spread)."""
    verdicts = []
    for narrower, wider in itertools.pairwise(rows):
        verdicts.append(statistics.median(wider["at_base_best"]) <= max(narrower["at_base_best"]))
    return verdicts


def table(analysis: dict[str, Any], network: str, rates: Sequence[float], unit: str) -> str:
    n = len(rates)
    lines = [
        f"| parametrization | {unit} | best rate | shift (grid steps) | divergence edge | edge move "
        f"| loss at the base's best rate {_log2(rates[analysis['base_best']])} |",
        "|---|---|---|---|---|---|---|",
    ]
    for parametrization in PARAMETRIZATIONS:
        rows = analysis[parametrization]
        base_edge = rows[0]["edge"]
        for row in rows:
            lines.append(
                f"| {parametrization} | {row['size']} | {_log2(rates[row['best']])} | "
                f"{row['shift']:+d} | {_edge_text(row['edge'], rates)} | "
                f"{_edge_move(row['edge'], base_edge, n):+d} | {_spread(row['at_base_best'])} |"
            )
    return "\n".join(lines)


def curves_table(analysis: dict[str, Any], rates: Sequence[float], unit: str) -> str:
    lines = [
        f"| parametrization | {unit} | " + " | ".join(_log2(r) for r in rates) + " |",
        "|---|---|" + "---|" * len(rates),
    ]
    for parametrization in PARAMETRIZATIONS:
        for row in analysis[parametrization]:
            cells = [f"{v:.3f}" if math.isfinite(v) else "inf" for v in row["curve"]]
            lines.append(f"| {parametrization} | {row['size']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(width: dict[str, Any], depth: dict[str, Any], n: int) -> list[str]:
    """The issue's criteria, each with the number it rests on."""
    mup, sp = width["µP"], width["SP"]
    worst_shift = max(abs(row["shift"]) for row in mup)
    worst_edge = max(abs(_edge_move(row["edge"], mup[0]["edge"], n)) for row in mup)
    sp_shift = sp[-1]["shift"]
    wider = _wider_is_better(mup)
    depth_best = [row["best"] for row in depth["µP"]]
    depth_move = max(abs(b - depth_best[0]) for b in depth_best)
    sp_depth_best = [row["best"] for row in depth["SP"]]
    sp_depth_move = max(abs(b - sp_depth_best[0]) for b in sp_depth_best)

    def mark(ok: bool) -> str:
        return "yes" if ok else "NO"

    return [
        f"- µP, every width's curve within 1 grid step of the base's: largest |shift| "
        f"{worst_shift} ({mark(worst_shift <= 1)}).",
        f"- µP, divergence edge moves at most 1 step: largest move {worst_edge} "
        f"({mark(worst_edge <= 1)}).",
        f"- SP, shift at the widest ({sp[-1]['size']}) at least 2 steps: {sp_shift:+d} "
        f"({mark(abs(sp_shift) >= 2)}).",
        f"- µP, wider is better at the base's best rate (each width's median at most the next "
        f"narrower's worst seed): {mark(all(wider))} ({', '.join(mark(v) for v in wider)}).",
        f"- depth-µP, best rate moves at most 1 step from {depth['µP'][0]['size']} blocks: "
        f"largest move {depth_move} ({mark(depth_move <= 1)}); SP: {sp_depth_move}.",
    ]


def plot(width: dict[str, Any], depth: dict[str, Any], rates: Sequence[float], path: Path) -> bool:
    """The loss-versus-rate curves, one panel per (network, parametrization); False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    exponents = [math.log2(r) for r in rates]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    for row_axes, (analysis, unit) in zip(axes, ((width, "width"), (depth, "blocks")), strict=True):
        for panel, parametrization in zip(row_axes, PARAMETRIZATIONS, strict=True):
            for row in analysis[parametrization]:
                values = [min(v, CAP) for v in row["curve"]]
                panel.plot(exponents, values, marker="o", label=f"{unit} {row['size']}")
            panel.set_title(f"{parametrization}, by {unit}")
            panel.set_xlabel("log2 learning rate")
            panel.set_ylabel("training loss (capped at ln 10)")
            panel.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def run(quick: bool, config: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    chosen = config if config is not None else (QUICK if quick else FULL)
    rates = chosen["rates"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = sweep(_jobs(chosen))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    width = analyse(results, "cnn", chosen["widths"], rates)
    depth = analyse(results, "resnet", chosen["depths"], rates)
    # The plot of the full run only: a quick run (and the test of it) writes nothing.
    png = Path(__file__).resolve().parent / "results" / "width.png"
    plotted = not quick and config is None and plot(width, depth, rates, png)
    seeds, steps = chosen["seeds"], chosen["steps"]
    setup = (
        f"Adam, {steps} steps of batch {BATCH} on digits, rates {_log2(rates[0])}..{_log2(rates[-1])} "
        f"in factors of 2, seeds {list(seeds)}; a run's loss is its training loss over the last "
        f"{min(TAIL, steps)} steps, the curve the median over seeds (`python -m benchmarks width`)."
    )
    markdown = "\n".join(
        [
            f"µP against SP: does the best learning rate carry across width and depth? {setup}",
            "",
            f"Width (the CNN; base width {chosen['widths'][0]}):",
            "",
            table(width, "cnn", rates, "width"),
            "",
            f"Depth (the residual CNN of width {DEPTH_WIDTH}; base {chosen['depths'][0]} blocks):",
            "",
            table(depth, "resnet", rates, "blocks"),
            "",
            "The criteria:",
            "",
            *verdicts(width, depth, len(rates)),
            "",
            "The curves (median loss over seeds at each rate):",
            "",
            curves_table(width, rates, "width"),
            "",
            curves_table(depth, rates, "blocks"),
            "",
            (f"The plot: benchmarks/results/{png.name}. " if plotted else "")
            + f"Workers' CPU time: {cpu:.0f} s over {len(results)} runs, about "
            f"{cpu / 2 / 60:.1f} minutes on 2 idle cores.",
        ]
    )
    data = _json_safe(
        {
            "config": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in chosen.items()
            },
            "cpu_seconds": round(cpu, 1),
            "width": width,
            "depth": depth,
            "runs": sorted(results, key=str),
        }
    )
    return data, markdown


def _json_safe(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats (a diverged run's loss) as ``None``,
    which strict JSON readers take."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
