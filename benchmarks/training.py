"""Training deep CNNs on scikit-learn's digits, every init under the same learning-rate sweep.

Plain CNNs (no normalisation, no skips): a stride-2 3x3 stem (1 -> 16 channels, 8x8 -> 4x4), then
``depth - 1`` more 3x3 convs of 16 channels, all with circular padding, each followed by the
activation, then global average pooling and a linear classifier (torch's default init for all).
The residual net: the same stem, then 100 blocks ``x + conv(relu(conv(x)))`` of 16 channels, no
normalisation.

Every init gets the same sweep: Adam at learning rates 3e-5, 1e-4, 3e-4 and 1e-3, batch 64, a fixed
number of steps; the rate is chosen per (network, init) by seed 0's accuracy on 200 validation
digits held out of the training split, then seeds 1 and 2 run at that rate; the table shows the
test accuracy (397 digits) at the chosen rate, median [min, max] over the 3 seeds. The seed fixes
the init and the batches; the split is fixed. Runs go to two worker processes with one thread
each (``torch.set_num_threads(1)``), so the numbers do not depend on the machine's thread count.

Inits: ``nn.Conv2d``'s default; ``initconv.KaimingNormalConv2d(activation=...)`` (He with the
activation's gain, zero bias); and ``"critical"``: ``initconv.CriticalConv2d`` on the critical
line of the activation (delta-orthogonal, bias N(0, sigma_b^2)), its stem drawn normal at
``critical(...).input_gain()`` so that the first pre-activations start at q*. sigma_b per
activation: tanh 0.05; relu 0 (its only critical point: delta-orthogonal at sqrt 2); gelu 0.65 and
silu 1.0, where their lines' variance maps are most stable. The residual net: He everywhere
(``"he"``), then ``initconv.residual_init_`` with ``"zero"``, ``"fixup"`` or ``"skipinit"``.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

import initconv
from initconv import diagnostics
from initconv._activations import resolve
from initconv._cli.demo import CRITICAL_BIAS_STD, accuracy, digits, train
from initconv._meanfield.gaussian import second_moment, second_moment_slope, slope_moment

# The runner's thread count for this process; the workers set their own to 1.
THREADS = 1
WIDTH = 16
RATES = (3e-5, 1e-4, 3e-4, 1e-3)
SEEDS = (0, 1, 2)
VALIDATION = 200
STEPS = 400
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
BIAS_STD = CRITICAL_BIAS_STD
PLAIN_INITS = ("torch default", "kaiming", "critical")
RESIDUAL_INITS = ("he", "zero", "fixup", "skipinit")

# (network, activation, depth, init): the full run, what fits the budget of 15 minutes on 2 idle
# cores (it prints the CPU time it took): the tanh stack at every depth, the residual net, and
# relu, gelu and silu at depth 20. ALL is the whole grid, about three times as long:
# `python -c "from benchmarks import training; print(training.run(False, training.ALL)[1])"`.
FULL = [
    *[("plain", "tanh", d, init) for d in (20, 100) for init in PLAIN_INITS],
    ("plain", "tanh", 200, "critical"),
    *[("plain", a, 20, init) for a in ("relu", "gelu", "silu") for init in PLAIN_INITS],
    *[("residual", "relu", 100, init) for init in ("he", "fixup")],
]
ALL = [
    *[("plain", a, d, init) for a in ACTIVATIONS for d in (20, 100, 200) for init in PLAIN_INITS],
    *[("residual", "relu", 100, init) for init in RESIDUAL_INITS],
]
QUICK = [
    *[("plain", "tanh", 3, init) for init in PLAIN_INITS],
    ("plain", "gelu", 3, "critical"),
    *[("residual", "relu", 2, init) for init in RESIDUAL_INITS],
]
Cell = tuple[str, str, int, str]
Job = tuple[Cell, float, int, int]


def _plain_conv(init: str, activation: str, stem: bool) -> Callable[..., nn.Module]:
    def build(cin: int, cout: int, stride: int) -> nn.Module:
        common: dict[str, Any] = {"padding": 1, "padding_mode": "circular"}
        if init == "torch default":
            return nn.Conv2d(cin, cout, 3, stride, **common)
        if init in ("kaiming", "he"):
            return initconv.KaimingNormalConv2d(
                cin, cout, 3, stride, activation=activation, **common
            )
        sigma_b = BIAS_STD[activation]
        bias: dict[str, Any] = {"bias_init": "normal", "bias_std": sigma_b} if sigma_b else {}
        if stem:
            # Digits are standardised: second moment 1, so the stem's gain puts q at q*.
            gain = initconv.critical(activation, sigma_b).input_gain(1.0)
            return initconv.CriticalConv2d(
                cin, cout, 3, stride, activation=activation, base="normal", gain=gain,
                **bias, **common,
            )  # fmt: skip
        return initconv.CriticalConv2d(
            cin, cout, 3, stride, activation=activation, **bias, **common
        )

    return build


def plain(depth: int, init: str, activation: str) -> nn.Sequential:
    """The plain CNN of ``depth`` convs."""
    layers: list[nn.Module] = []
    for index in range(depth):
        stem = index == 0
        conv = _plain_conv(init, activation, stem)
        layers += [conv(1 if stem else WIDTH, WIDTH, 2 if stem else 1), ACTIVATIONS[activation]()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDTH, 10)]
    return nn.Sequential(*layers)


class Block(nn.Module):
    """``x + conv2(relu(conv1(x)))``, He-initialised, no normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _plain_conv("he", "relu", False)(WIDTH, WIDTH, 1)
        self.act = nn.ReLU()
        self.conv2 = _plain_conv("he", "relu", False)(WIDTH, WIDTH, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


def residual(blocks: int, init: str, seed: int) -> nn.Sequential:
    """The norm-free residual net of ``blocks`` blocks, then ``residual_init_`` unless ``"he"``."""
    stem = _plain_conv("he", "relu", True)(1, WIDTH, 2)
    body = [Block() for _ in range(blocks)]
    model = nn.Sequential(
        stem, nn.ReLU(), *body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDTH, 10)
    )
    if init != "he":
        initconv.residual_init_(model, init, seed=seed)  # type: ignore[arg-type]
    return model


def one_run(job: Job) -> dict[str, Any]:
    (network, activation, depth, init), rate, seed, steps = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = residual(depth, init, seed) if network == "residual" else plain(depth, init, activation)
    x_train, y_train, x_test, y_test = digits(0)
    split = len(y_train) - VALIDATION
    data = (x_train[:split], y_train[:split], x_train[split:], y_train[split:])
    started = time.process_time()
    losses, evaluations = train(model, data, steps=steps, seed=seed, lr=rate, batch=64, adam=True)
    return {
        "network": network,
        "activation": activation,
        "depth": depth,
        "init": init,
        "rate": rate,
        "seed": seed,
        "validation": evaluations[-1][1],
        "test": accuracy(model, x_test, y_test),
        "final_loss": losses[-1],
        "diverged": not math.isfinite(losses[-1]),
        "cpu_seconds": time.process_time() - started,
    }


def _pool_map(pool: Any, jobs: list[Job], bar: Any) -> list[dict[str, Any]]:
    results = []
    # Longest first, so the two workers finish together.
    for result in pool.imap_unordered(one_run, sorted(jobs, key=lambda j: -j[0][2])):
        results.append(result)
        bar.update(1)
    return results


def sweep(cells: list[Cell], steps: int) -> list[dict[str, Any]]:
    """Seed 0 at every rate; then seeds 1 and 2 at each cell's best validation rate."""
    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")
    total = len(cells) * (len(RATES) + len(SEEDS) - 1)
    with context.Pool(2) as pool, tqdm(total=total, desc="training", unit="run") as bar:
        first = _pool_map(pool, [(c, r, SEEDS[0], steps) for c in cells for r in RATES], bar)
        best = {cell: _best_rate([r for r in first if _cell(r) == cell]) for cell in cells}
        rest = [(cell, best[cell], seed, steps) for cell in cells for seed in SEEDS[1:]]
        return first + _pool_map(pool, rest, bar)


def _cell(result: dict[str, Any]) -> Cell:
    return (result["network"], result["activation"], result["depth"], result["init"])


def _best_rate(runs: list[dict[str, Any]]) -> float:
    # Highest validation accuracy; ties go to the lower final loss, then the smaller rate.
    def key(r: dict[str, Any]) -> tuple[float, float, float]:
        loss = r["final_loss"] if math.isfinite(r["final_loss"]) else math.inf
        return (-r["validation"], loss, r["rate"])

    return float(min(runs, key=key)["rate"])


def table(results: list[dict[str, Any]], cells: list[Cell], steps: int) -> str:
    lines = [
        f"Test accuracy on digits after {steps} Adam steps (batch 64) at the rate that won on "
        f"validation among {', '.join(f'{r:g}' for r in RATES)}; median [min, max] over seeds "
        f"{list(SEEDS)} (`python -m benchmarks training`); chance is 0.10.",
        "",
        "| network | activation | depth | init | best rate | test accuracy | validation at "
        f"{' / '.join(f'{r:g}' for r in RATES)} (seed 0) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in cells:
        runs = [r for r in results if _cell(r) == cell]
        rate = _best_rate([r for r in runs if r["seed"] == SEEDS[0]])
        chosen = sorted(r["test"] for r in runs if r["rate"] == rate)
        by_rate = {r["rate"]: r for r in runs if r["seed"] == SEEDS[0]}
        sweep_cells = " / ".join(
            "nan" if by_rate[rate_]["diverged"] else f"{by_rate[rate_]['validation']:.2f}"
            for rate_ in RATES
        )
        network, activation, depth, init = cell
        size = f"{depth} blocks" if network == "residual" else str(depth)
        lines.append(
            f"| {network} | {activation} | {size} | {init} | {rate:g} | "
            f"{statistics.median(chosen):.3f} [{chosen[0]:.3f}, {chosen[-1]:.3f}] | {sweep_cells} |"
        )
    return "\n".join(lines)


LINE_Q = (0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def critical_lines() -> str:
    """The critical line of each activation, parametrised by q*: sigma_b, sigma_w and the
    variance map's slope there (M'(q*) < 1: a deep stack returns to q*)."""
    lines = [
        "The critical line chi_1 = 1 by its fixed point q*: sigma_b^2 = q* - E[phi^2] / E[phi'^2],"
        " sigma_w^2 = 1 / E[phi'^2], and the variance map's slope M'(q*) there "
        "(`initconv._meanfield.gaussian`; `python -m benchmarks training`).",
        "",
        "| activation | " + " | ".join(f"q* = {q:g}" for q in LINE_Q) + " |",
        "|---|" + "---|" * len(LINE_Q),
    ]
    for name in ("tanh", "gelu", "silu"):
        phi = resolve(name).phi
        cells = []
        for q in LINE_Q:
            sigma_w2 = 1 / slope_moment(phi, q)
            sigma_b2 = q - sigma_w2 * second_moment(phi, q)
            slope = sigma_w2 * second_moment_slope(phi, q)
            cells.append(
                f"sigma_b^2 {sigma_b2:.3g}, M' {slope:.3f}"
                if sigma_b2 >= 0
                else "none (sigma_b^2 < 0)"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "The inits used below:", ""]
    for name, sigma_b in BIAS_STD.items():
        point = initconv.critical(name, sigma_b)
        phase = diagnostics.correlation_map(name, point.weight_std, sigma_b, q0=point.q_star or 1.0)
        lines.append(f"- {point}; xi_q = {phase.depth_q:.3g} layers, xi_c = {phase.depth_c:.3g}")
    return "\n".join(lines)


def _log2_growth(activation: str, depth: int, seed: int, x: Tensor) -> float:
    """Median over ``x`` of log2(q_L / q_1) through a plain critical stack of width 64."""
    sigma_b = BIAS_STD[activation]
    point = initconv.critical(activation, sigma_b)
    torch.manual_seed(seed)
    common: dict[str, Any] = {"padding": 1, "padding_mode": "circular", "activation": activation}
    common.update({"bias_init": "normal", "bias_std": sigma_b} if sigma_b else {})
    gain = point.input_gain(float(x.pow(2).mean()))
    layers = [initconv.CriticalConv2d(1, 64, 3, base="normal", gain=gain, **common)]
    layers += [initconv.CriticalConv2d(64, 64, 3, **common) for _ in range(depth - 1)]
    first, h = None, x
    with torch.no_grad():
        for conv in layers:
            h = conv(h)
            moment = h.pow(2).mean(dim=(1, 2, 3))
            first = moment if first is None else first
            h = ACTIVATIONS[activation]()(h)
    return float(torch.log2(moment / first).median())


def propagation(quick: bool) -> str:
    """The drift test for gelu and silu: |median log2(q_L / q_1)| on held-out digits."""
    depth, seeds = (10, 2) if quick else (200, 3)
    x = digits(0)[2][:64].to(torch.float64)
    torch.set_default_dtype(torch.float64)
    try:
        rows = []
        for name in ("tanh", "gelu", "silu"):
            growth = sorted(_log2_growth(name, depth, seed, x) for seed in range(seeds))
            rows.append(
                f"| {name} | {BIAS_STD[name]:g} | {statistics.median(growth):.2f} "
                f"[{growth[0]:.2f}, {growth[-1]:.2f}] |"
            )
    finally:
        torch.set_default_dtype(torch.float32)
    return "\n".join(
        [
            f"log2(q_{depth} / q_1) of 64 held-out digits through a {depth}-layer plain critical "
            f"stack (width 64, 8x8 circular, float64; stem at the input gain), each stack's median "
            f"over the digits, median [min, max] over {seeds} seeds:",
            "",
            "| activation | sigma_b | log2(q_L / q_1) |",
            "|---|---|---|",
            *rows,
        ]
    )


def run(quick: bool, cells: list[Cell] | None = None) -> tuple[dict[str, Any], str]:
    chosen = cells if cells is not None else (QUICK if quick else FULL)
    steps = 20 if quick else STEPS
    theory = critical_lines() + "\n\n" + propagation(quick)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = sweep(chosen, steps)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    markdown = theory + "\n\n" + table(results, chosen, steps)
    markdown += (
        f"\n\nWorkers' CPU time: {cpu:.0f} s over {len(results)} runs, i.e. about "
        f"{cpu / 2 / 60:.1f} minutes on 2 idle cores."
    )
    data = {"steps": steps, "width": WIDTH, "rates": list(RATES), "cpu_seconds": round(cpu, 1)}
    return {**data, "runs": sorted(results, key=str)}, markdown
