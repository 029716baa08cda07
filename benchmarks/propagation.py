"""Signal propagation through plain conv stacks, for every built-in activation.

Stacks of 3x3 convolutions (width 64, circular padding, no bias, no normalisation, no skips), each
followed by the activation, on one 64 x 8 x 8 standard normal input, in float64 so that a signal
shrinking 6x per layer still shows a number at depth 200. For each activation, init and seed it
reports log2(q_L / q_0), with q_L = mean(h_L^2) of the L-th conv's output (depths 10, 50, 200 and
1000, read off one 1000-layer stack) and q_0 that of the input: median [min, max] over 5 seeds.

Inits: ``nn.Conv2d``'s default; ``nn.init.kaiming_normal_`` with ``torch.nn.init.calculate_gain``
where torch knows the activation; initconv's ``KaimingNormalConv2d(activation=...)``; the derived
fixed-point gain where initconv keeps torch's value instead (tanh, sigmoid); ``initconv.lsuv_``
where it exists (calibrated on another batch); and ``DeltaOrthogonalConv2d`` + tanh at gain 1, the
critical point of Xiao et al. (2018) without bias. The theory column is
:func:`initconv.diagnostics.variance_map` at the gain used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

import initconv
from benchmarks._common import spread
from initconv import diagnostics
from initconv._activations import resolve
from initconv._maths.quadrature import gaussian_expectation

# One thread: these convs are small, and on a shared machine a second thread mostly waits.
THREADS = 1
WIDTH, SIZE = 64, 8
DEPTHS = (10, 50, 200, 1000)
SEEDS = 5
STABLE = ("tanh", "elu", "selu", "softplus", "sigmoid")
TORCH_GAINS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
KEEPS_TORCH_GAIN = ("tanh", "sigmoid")
LSUV_FOR = ("relu", "gelu", "silu", "mish", "hardswish")


def builtin_activations() -> list[str]:
    return sorted({resolve(name).name for name in initconv.activations()})


def _phi(name: str) -> Callable[[Tensor], Tensor]:
    return resolve(name).phi


def derived_gain(name: str) -> float:
    phi = _phi(name)
    return 1 / math.sqrt(gaussian_expectation(lambda z: phi(z) ** 2))


def _conv(kind: str, name: str, gain: float | None) -> nn.Conv2d:
    shape: dict[str, Any] = {
        "padding": 1,
        "padding_mode": "circular",
        "bias": False,
        "dtype": torch.float64,
    }
    if kind == "torch default":
        return nn.Conv2d(WIDTH, WIDTH, 3, **shape)
    if kind == "torch calculate_gain":
        conv = nn.Conv2d(WIDTH, WIDTH, 3, **shape)
        std = nn.init.calculate_gain(name) / math.sqrt(conv.weight[0].numel())  # type: ignore[arg-type]
        nn.init.normal_(conv.weight, 0.0, std)
        return conv
    if kind == "delta-orthogonal":
        return initconv.DeltaOrthogonalConv2d(WIDTH, WIDTH, 3, **shape, gain=gain)
    return initconv.KaimingNormalConv2d(WIDTH, WIDTH, 3, **shape, activation=name, gain=gain)


def measure(kind: str, name: str, gain: float | None, seed: int) -> list[float]:
    """log2(q_L / q_0) at each depth in DEPTHS for one seeded stack."""
    phi = _phi(name)
    x = torch.randn(
        1, WIDTH, SIZE, SIZE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    q0 = float(x.pow(2).mean())
    torch.manual_seed(10_000 + seed)
    out: list[float] = []
    if kind == "lsuv":
        layers: list[nn.Module] = []
        for _ in range(DEPTHS[-1]):
            layers += [_conv("initconv", name, None), _Act(phi)]
        model = nn.Sequential(*layers)
        calibration = torch.randn(
            x.shape, generator=torch.Generator().manual_seed(99 + seed), dtype=torch.float64
        )
        initconv.lsuv_(model, calibration)
        convs = [m for m in model if isinstance(m, nn.Conv2d)]
    else:
        convs = None
    with torch.no_grad():
        for depth in range(1, DEPTHS[-1] + 1):
            conv = convs[depth - 1] if convs is not None else _conv(kind, name, gain)
            h = conv(x)
            if depth in DEPTHS:
                q = float(h.pow(2).mean())
                out.append(math.log2(q / q0) if q > 0 else -math.inf)
            x = phi(h)
    return out


class _Act(nn.Module):
    def __init__(self, phi: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.phi = phi

    def forward(self, x: Tensor) -> Tensor:
        return self.phi(x)


def configurations(lsuv: bool) -> list[tuple[str, str, float | None, float]]:
    """(activation, init, gain passed, gain in effect) for every row."""
    rows: list[tuple[str, str, float | None, float]] = []
    for name in builtin_activations():
        rows.append((name, "torch default", None, 1 / math.sqrt(3)))
        if name in TORCH_GAINS:
            rows.append((name, "torch calculate_gain", None, nn.init.calculate_gain(name)))  # type: ignore[arg-type]
        rows.append((name, "initconv", None, initconv.gain(name)))
        if name in KEEPS_TORCH_GAIN:
            rows.append((name, "initconv derived gain", derived_gain(name), derived_gain(name)))
        if lsuv and name in LSUV_FOR:
            rows.append((name, "lsuv", None, initconv.gain(name)))
    rows.append(("tanh", "delta-orthogonal", 1.0, 1.0))
    return rows


def run(quick: bool) -> tuple[dict[str, Any], str]:
    global DEPTHS
    seeds = 2 if quick else SEEDS
    if quick:
        DEPTHS = (5, 10, 20)
    lsuv = getattr(initconv, "lsuv_", None) is not None
    from tqdm import tqdm

    rows = configurations(lsuv)
    results: list[dict[str, Any]] = []
    for name, kind, gain, effective in tqdm(rows, desc="propagation", unit="config"):
        values = [measure(kind, name, gain, seed) for seed in range(seeds)]
        theory = diagnostics.variance_map(name, effective)
        results.append(
            {
                "activation": name,
                "init": kind,
                "gain": effective,
                "slope": theory.slope,
                "fixed_point": theory.fixed_point,
                "verdict": theory.verdict,
                "log2_ratio": {str(d): [v[i] for v in values] for i, d in enumerate(DEPTHS)},
            }
        )
    header = " | ".join(f"depth {d}" for d in DEPTHS)
    lines = [
        f"log2(q_L / q_0), median [min, max] over {seeds} seeds; width {WIDTH}, {SIZE}x{SIZE} "
        "circular, float64 (`python -m benchmarks propagation`). Theory: "
        "`initconv.diagnostics.variance_map` at the gain used (q*, M'(q*)). -inf: underflow below "
        "2^-1074.",
        "",
        f"| activation | init | gain | theory | {header} |",
        "|---|---|---|---|" + "---|" * len(DEPTHS),
    ]
    for r in results:
        cells = " | ".join(spread(r["log2_ratio"][str(d)]) for d in DEPTHS)
        theory = f"q* {r['fixed_point']:.3g}, M' {r['slope']:.3f}, {r['verdict']}"
        lines.append(f"| {r['activation']} | {r['init']} | {r['gain']:.4f} | {theory} | {cells} |")
    check_depth = str(200 if 200 in DEPTHS else DEPTHS[-1])
    targets = []
    for r in results:
        derived = r["init"] == "initconv derived gain" or (
            r["init"] == "initconv" and r["activation"] not in KEEPS_TORCH_GAIN
        )
        if r["activation"] in STABLE and derived:
            values = sorted(r["log2_ratio"][check_depth])
            median = (
                values[len(values) // 2]
                if len(values) % 2
                else sum(values[len(values) // 2 - 1 : len(values) // 2 + 1]) / 2
            )
            targets.append(
                f"{r['activation']} {median:+.2f} ({'met' if abs(median) <= 1 else 'missed'})"
            )
    lines += [
        "",
        f"Target |median| <= 1 at depth {check_depth} under the derived gain: "
        + "; ".join(targets)
        + ".",
    ]
    return {"depths": list(DEPTHS), "seeds": seeds, "width": WIDTH, "rows": results}, "\n".join(
        lines
    )
