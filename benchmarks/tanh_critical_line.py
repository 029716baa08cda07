"""Where initconv's tanh gain sits relative to the critical line of Xiao et al. (2018).

Mean field theory of deep tanh networks ("Exponential expressivity in deep neural networks through
transient chaos", Poole, B. et al. (2016); for CNNs "Dynamical isometry and a mean field theory of
CNNs", Xiao, L. et al. (2018)). With weight variance sigma_w^2 (the gain squared: a delta-orthogonal
or orthogonal layer times g maps a unit-variance channel vector to variance g^2) and bias variance
sigma_b^2, a signal of variance q moves through one layer and tanh as

    q -> sigma_w^2 E[tanh(sqrt(q) z)^2] + sigma_b^2,     z ~ N(0, 1),

with a fixed point q*. Two nearby inputs separate by the factor

    chi_1 = sigma_w^2 E[tanh'(sqrt(q*) z)^2]

per layer in squared norm. chi_1 < 1 is the ordered phase (inputs merge), chi_1 > 1 the chaotic phase (they
decorrelate), and chi_1 = 1 is the critical line on which Xiao et al. train 10,000-layer vanilla
CNNs with delta-orthogonal kernels. Off it, a perturbation's squared norm changes e-fold every
1 / |ln chi_1| layers.

Run ``python benchmarks/tanh_critical_line.py``. It prints the critical line, the mean-field numbers
for the gains initconv gives tanh, and an empirical check: the per-layer growth of a small
perturbation through a 64-layer, 256-channel DeltaOrthogonalConv2d + tanh stack (seeded), which
should match chi_1.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch

import initconv
from initconv._maths.quadrature import gaussian_expectation


def _tanh_moments(q: float) -> tuple[float, float]:
    """(E[tanh(sqrt(q) z)^2], E[tanh'(sqrt(q) z)^2]) for z ~ N(0, 1)."""
    s = math.sqrt(q)
    second = gaussian_expectation(lambda z: torch.tanh(s * z) ** 2)
    slope = gaussian_expectation(lambda z: torch.cosh(s * z) ** -4)
    return second, slope


def _bisect(f: Callable[[float], float], lo: float, hi: float, steps: int = 80) -> float:
    """A root of ``f`` in [lo, hi], where f(lo) and f(hi) differ in sign (geometric bisection)."""
    f_lo = f(lo)
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        if (f(mid) > 0) == (f_lo > 0):
            lo, f_lo = mid, f(mid)
        else:
            hi = mid
    return math.sqrt(lo * hi)


def fixed_point(sigma_w2: float, sigma_b2: float) -> float:
    """The stable nonzero fixed point q* of the variance map (0 if the map contracts to 0)."""
    if sigma_b2 == 0 and sigma_w2 <= 1:
        return 0.0

    def excess(q: float) -> float:
        return sigma_w2 * _tanh_moments(q)[0] + sigma_b2 - q

    return _bisect(excess, 1e-12, 1e3)


def chi_1(sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """(q*, chi_1) for tanh at (sigma_w^2, sigma_b^2)."""
    q = fixed_point(sigma_w2, sigma_b2)
    return q, sigma_w2 * (_tanh_moments(q)[1] if q > 0 else 1.0)


def critical_sigma_w2(sigma_b2: float) -> tuple[float, float]:
    """(sigma_w^2, q*) on the critical line chi_1 = 1 for the given sigma_b^2.

    On the line, sigma_w^2 = 1 / E[tanh'^2] at q*, and q* solves
    q = E[tanh^2] / E[tanh'^2] + sigma_b^2; at sigma_b^2 = 0 the line ends at sigma_w^2 = 1, q* = 0.
    """
    if sigma_b2 == 0:
        return 1.0, 0.0

    def excess(q: float) -> float:
        second, slope = _tanh_moments(q)
        return second / slope + sigma_b2 - q

    q = _bisect(excess, 1e-12, 1e3)
    return 1 / _tanh_moments(q)[1], q


def empirical_chi_1(gain: float, layers: int, channels: int, seed: int) -> tuple[float, float]:
    """(chi_1, q) measured on a DeltaOrthogonalConv2d + tanh stack: the per-layer growth of the
    squared norm of a small perturbation, and the last pre-activation's second moment.

    Zero bias (initconv's default), float64, circular padding on 8 x 8 pixels. The first 8 layers
    let the signal settle at q*; chi_1 is the geometric mean over the remaining layers.
    """
    generator = torch.Generator().manual_seed(seed)
    stack = [
        initconv.DeltaOrthogonalConv2d(
            channels,
            channels,
            3,
            padding=1,
            padding_mode="circular",
            gain=gain,
            seed=seed + i,
            dtype=torch.float64,
        )
        for i in range(layers)
    ]
    x = torch.randn(1, channels, 8, 8, generator=generator, dtype=torch.float64)
    size = 1e-6 * math.sqrt(x.numel())
    dx = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    dx *= size / dx.norm()
    burn_in, log_growth = 8, 0.0
    with torch.no_grad():
        for i, conv in enumerate(stack):
            h = conv(x)
            y = torch.tanh(h)
            dy = torch.tanh(conv(x + dx)) - y
            if i >= burn_in:
                log_growth += 2 * math.log(float(dy.norm()) / size)
            # Rescaled every layer, so the perturbation stays infinitesimal.
            x, dx = y, dy * (size / dy.norm())
    return math.exp(log_growth / (layers - burn_in)), float(h.pow(2).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print("Critical line of tanh (chi_1 = 1), Xiao et al. (2018):\n")
    print("| sigma_b^2 | sigma_w^2 | gain sigma_w | q* |")
    print("|---|---|---|---|")
    for sigma_b2 in (0.0, 1e-5, 1e-3, 1e-2, 0.05, 0.1):
        sigma_w2, q = critical_sigma_w2(sigma_b2)
        print(f"| {sigma_b2:g} | {sigma_w2:.4f} | {math.sqrt(sigma_w2):.4f} | {q:.4g} |")

    derived = 1 / math.sqrt(gaussian_expectation(lambda z: torch.tanh(z) ** 2))
    gains = {
        "initconv.gain('tanh') (torch's 5/3)": initconv.gain("tanh"),
        "derived 1/sqrt(E[tanh(z)^2])": derived,
        "critical at sigma_b^2 = 0": 1.0,
    }
    print(
        f"\ninitconv's tanh gains at sigma_b^2 = 0 (bias_init='zeros'); empirical chi_1 from a "
        f"{args.layers}-layer, {args.channels}-channel DeltaOrthogonalConv2d + tanh stack, "
        f"seed {args.seed}:\n"
    )
    print(
        "| gain | sigma_w^2 | q* | chi_1 | phase | layers per e-fold | measured chi_1 | measured q |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, g in gains.items():
        q, chi = chi_1(g * g, 0.0)
        phase = "critical" if abs(chi - 1) < 1e-9 else ("chaotic" if chi > 1 else "ordered")
        depth = "inf" if abs(chi - 1) < 1e-9 else f"{1 / abs(math.log(chi)):.2f}"
        measured, q_last = empirical_chi_1(g, args.layers, args.channels, args.seed)
        print(
            f"| {label} = {g:.4f} | {g * g:.4f} | {q:.4f} | {chi:.4f} | {phase} | {depth} | "
            f"{measured:.4f} | {q_last:.4f} |"
        )
    print(
        "\nAt gain 1 and sigma_b^2 = 0, q decays towards q* = 0 only like 1/depth, so a finite stack "
        "measures chi_1 = E[tanh'(sqrt(q) z)^2] slightly below 1."
    )


if __name__ == "__main__":
    main()
