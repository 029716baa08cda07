r"""Gaussian moments of an activation, the ones mean-field theory of deep networks is made of.

With :math:`z, z_1, z_2 \sim \mathcal{N}(0, 1)` independent, :math:`u = \sqrt{q}\, z`,
:math:`u_1 = \sqrt{q}\, z_1` and :math:`u_2 = \sqrt{q}\,(c z_1 + \sqrt{1 - c^2}\, z_2)`:
:math:`\mathbb{E}[\phi(u)^2]`, :math:`\mathbb{E}[\phi'(u)^2]`, the derivative in :math:`q` of the
first, and the cross moments :math:`\mathbb{E}[\phi(u_1)\phi(u_2)]` and
:math:`\mathbb{E}[\phi'(u_1)\phi'(u_2)]`. The one-dimensional ones use the adaptive quadrature
(exact to ~1e-12 relative, kinks included); the two-dimensional ones a fixed composite
Gauss-Legendre grid, exact to ~1e-14 for smooth activations and ~3e-8 at a kink (relu against its
closed form, the arc-cosine kernel). :math:`\phi'` comes from autograd.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from initconv._maths.quadrature import gauss_legendre, gaussian_expectation

__all__: list[str] = []

Phi = Callable[[Tensor], Tensor]

# The two-dimensional grid: 128 panels of 16 Gauss-Legendre nodes on [-10, 10] per axis; beyond
# |z| = 10 the density is below 8e-23.
_GRID_PANELS = 128
_GRID_HALF_WIDTH = 10.0


def derivative(phi: Phi, x: Tensor) -> Tensor:
    r""":math:`\phi'(x)` elementwise, by autograd (0 where :math:`\phi` is flat or has no slope)."""
    with torch.enable_grad():
        leaf = x.detach().clone().requires_grad_(True)
        y = phi(leaf).to(torch.float64)
        (slope,) = torch.autograd.grad(y.sum(), leaf, allow_unused=True)
    return torch.zeros_like(x) if slope is None else slope.detach()


def relative_expectation(f: Callable[[Tensor], Tensor]) -> float:
    """E[f(z)] to ~1e-12 relative to f's size: the quadrature's tolerance is absolute, and the
    moments span many orders of magnitude over the q searched."""
    probe = torch.linspace(-8.0, 8.0, 257, dtype=torch.float64)
    scale = float(f(probe).abs().max())
    if not math.isfinite(scale) or scale == 0.0:
        scale = 1.0
    return scale * gaussian_expectation(lambda z: f(z) / scale, tol=1e-12)


def second_moment(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi(\sqrt{q} z)^2]`."""
    root = math.sqrt(q)
    return relative_expectation(lambda z: phi(root * z).to(torch.float64) ** 2)


def slope_moment(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi'(\sqrt{q} z)^2]`: :math:`\chi_1 / \sigma_w^2` at :math:`q`."""
    root = math.sqrt(q)
    return relative_expectation(lambda z: derivative(phi, root * z) ** 2)


def second_moment_slope(phi: Phi, q: float) -> float:
    r""":math:`\frac{d}{dq}\mathbb{E}[\phi(\sqrt{q} z)^2]
    = \mathbb{E}[\phi(\sqrt{q} z)\, \phi'(\sqrt{q} z)\, z] / \sqrt{q}`."""
    root = math.sqrt(q)

    def integrand(z: Tensor) -> Tensor:
        x = root * z
        return phi(x).to(torch.float64) * derivative(phi, x) * z

    return relative_expectation(integrand) / root


def illinois(
    f: Callable[[float], float],
    a: float,
    b: float,
    fa: float,
    fb: float,
    *,
    x_tol: float,
    f_tol: float,
    iterations: int,
) -> float:
    """A root of ``f`` between ``a`` and ``b``, where ``fa`` and ``fb`` have opposite signs, by the
    Illinois variant of regula falsi: superlinear, and never leaves the bracket."""
    c = b
    for _ in range(iterations):
        c = b - fb * (b - a) / (fb - fa)
        fc = f(c)
        if fc == 0.0 or abs(b - a) < x_tol:
            break
        if (fc > 0) != (fb > 0):
            a, fa = b, fb
        else:
            fa /= 2
        b, fb = c, fc
        if abs(fc) < f_tol:
            break
    return c


def root_log(excess: Callable[[float], float], lo: float, hi: float) -> float:
    """A root of ``excess`` between ``lo`` and ``hi`` > 0 (signs differ), by :func:`illinois` on
    log q."""
    log_root = illinois(
        lambda t: excess(math.exp(t)),
        math.log(lo),
        math.log(hi),
        excess(lo),
        excess(hi),
        x_tol=1e-13,
        f_tol=1e-14,
        iterations=100,
    )
    return math.exp(log_root)


def log_grid_roots(
    excess: Callable[[float], float], grid: list[float], values: list[float] | None = None
) -> list[float]:
    """The roots of ``excess`` bracketed by consecutive points of ``grid`` (increasing, > 0);
    ``values`` are ``excess`` on the grid, if already known."""
    if values is None:
        values = [excess(q) for q in grid]
    roots: list[float] = []
    for i in range(len(grid) - 1):
        if values[i] == 0.0:
            roots.append(grid[i])
        elif (values[i] > 0) != (values[i + 1] > 0) and values[i + 1] != 0.0:
            roots.append(root_log(excess, grid[i], grid[i + 1]))
    if values and values[-1] == 0.0:
        roots.append(grid[-1])
    return roots


@functools.cache
def _grid() -> tuple[Tensor, Tensor]:
    """Composite Gauss-Legendre nodes on [-10, 10] and their weights times the normal density."""
    nodes, weights = gauss_legendre(16)
    edges = torch.linspace(
        -_GRID_HALF_WIDTH, _GRID_HALF_WIDTH, _GRID_PANELS + 1, dtype=torch.float64
    )
    mid, half = (edges[:-1] + edges[1:]) / 2, (edges[1:] - edges[:-1]) / 2
    z = (mid[:, None] + half[:, None] * nodes).flatten()
    w = (half[:, None] * weights).flatten() * torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return z, w


def cross_moment(f: Phi, q: float, c: float) -> float:
    r""":math:`\mathbb{E}[f(u_1) f(u_2)]` for :math:`(u_1, u_2)` centred normal with variances
    :math:`q` and correlation :math:`c \in [-1, 1]`."""
    z, w = _grid()
    c = min(max(c, -1.0), 1.0)
    root, s = math.sqrt(q), math.sqrt(max(1.0 - c * c, 0.0))
    first = f(root * z).to(torch.float64)
    second = f(root * (c * z[:, None] + s * z[None, :])).to(torch.float64)
    return float((w * first) @ (second @ w))


def cross_slope_moment(phi: Phi, q: float, c: float) -> float:
    r""":math:`\mathbb{E}[\phi'(u_1)\, \phi'(u_2)]`: the slope of the correlation map over
    :math:`\sigma_w^2`."""
    return cross_moment(lambda x: derivative(phi, x), q, c)
