r"""Gaussian moments of an activation, the ones mean-field theory of deep networks is made of.

With :math:`z, z_1, z_2 \sim \mathcal{N}(0, 1)` independent, :math:`u = \sqrt{q}\, z`,
:math:`u_1 = \sqrt{q}\, z_1` and :math:`u_2 = \sqrt{q}\,(c z_1 + \sqrt{1 - c^2}\, z_2)`:
:math:`\mathbb{E}[\phi(u)^2]`, :math:`\mathbb{E}[\phi'(u)^2]`, the derivative in :math:`q` of the
first, and the cross moments :math:`\mathbb{E}[\phi(u_1)\phi(u_2)]` and
:math:`\mathbb{E}[\phi'(u_1)\phi'(u_2)]`. The one-dimensional ones use the adaptive quadrature
(exact to ~1e-12 relative, kinks included); the two-dimensional ones a fixed composite
Gauss-Legendre grid, exact to ~1e-14 for smooth activations and ~3e-8 at a kink at 0 (relu against
its closed form, the arc-cosine kernel). A kink or jump away from 0 falls inside a panel: the slope
cross moment of hardtanh (a jump in phi' at +-1) is up to 6e-4 off at q = 1, 2.5e-3 at q = 4 (c = 0;
against the normal's probability of the square) and 7% at q = 100 (c = 1), and so are c* and chi_c
in the chaotic phase of such activations (hardtanh, relu6, hardswish), which correlation_map
therefore checks the grid for. A feature of phi narrower than the quadratures' nodes (a bump 1e-3
wide) is put on the one-dimensional quadrature's panel edges (checked_activation); the grid misses
it. :math:`\phi'` comes from autograd; at :math:`q = 0` the slope moment is its limit
:math:`q \to 0^+`, the mean of the two one-sided slopes at 0 squared
(autograd's value at a kink is one of them, not the limit). Everything is computed on the CPU
in float64, whatever the default device.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from initconv._activations import ActivationSpec, Resolved, resolve
from initconv._maths.derived_gain import (
    GainError,
    fingerprint,
    precision_of,
    unit_scale,
    untouched,
)
from initconv._maths.quadrature import (
    FLOAT64_PRECISION,
    QuadratureError,
    gauss_legendre,
    gaussian_expectation,
    on_cpu,
)
from initconv._meanfield.slopes import Phi, check_slopes, derivative, one_sided_slopes

__all__: list[str] = []

# The relative precision of the activation's values, below which no moment can be resolved: an
# activation that computes in float32 is float32 noise at 1e-7. Set by activation_context().
_PRECISION: contextvars.ContextVar[float] = contextvars.ContextVar(
    "precision", default=FLOAT64_PRECISION
)

# The edges (in x) of the features of phi' too narrow for the quadrature to see by itself, which
# slopes.check_slopes finds, while an activation's moments are computed (checked_activation): the
# moments put them on the quadrature's first panels' edges.
_FEATURES: contextvars.ContextVar[Tensor | None] = contextvars.ContextVar("features", default=None)
# How far relative_expectation moves its probe to measure an integrand's rounding: a few ulps.
_NUDGE = 4 * FLOAT64_PRECISION
# How many probe points relative_expectation lets kinks of phi sit on.
_PAST_KINKS = 7

# The highest q the fixed points of the variance map are searched at. The one-dimensional moments
# lose accuracy with q, as phi(sqrt(q) z) of a saturating activation turns into a step of width
# 1 / sqrt(q): against tanh's asymptotic forms (E[phi'^2] ~ 4 / (3 sqrt(2 pi q)), 1 - E[phi^2] ~
# 2 / sqrt(2 pi q), dE[phi^2]/dq ~ 1 / (sqrt(2 pi) q^1.5)) they are within 1e-12 up to q = 2^24,
# 2e-7 at 2^64, 1e-6 at 2^68 and 6e-5 at 2^80, so the search stops at 2^68 (a pre-activation
# standard deviation of 1.7e10; tanh at gain 1e10 settles at 1e20, below it).
Q_TOP = 2.0**68

# The two-dimensional grid: 128 panels of 16 Gauss-Legendre nodes on [-10, 10] per axis; beyond
# |z| = 10 the density is below 8e-23.
_GRID_PANELS = 128
_GRID_HALF_WIDTH = 10.0


def resolve_for(function: str, activation: ActivationSpec) -> Resolved:
    """``resolve(activation)`` for the mean-field function ``function``: a callable whose gain
    cannot be derived is refused for what it means to the maps, not with the gain's remedy
    (``pass gain=``), which ``critical()`` has no parameter for."""
    try:
        return resolve(activation)
    except GainError as error:
        zero = error.zero
        why = (
            "so chi_1 = sigma_w^2 E[phi'(u)^2] is 0 and the variance map is sigma_b^2 at every "
            "sigma_w: there is nothing for"
            if zero
            else "which"
        )
        raise ValueError(
            f"{error.reason}, {why} {function}() {'to solve' if zero else 'needs'}"
        ) from None


@contextlib.contextmanager
def activation_context(label: str, phi: Phi, builtin: bool) -> Iterator[tuple[Phi, float]]:
    """Where an activation's mean-field moments are computed: on the CPU, its buffers put back
    after (a module that updates one in forward), and, for a function of the user's, at the
    precision its outputs have, scaled by a power of 2 to unit size.

    Yields ``(phi / scale, scale)``. The maps' answers scale simply (the critical line's sigma_w
    by 1 / scale, q* not at all), so an activation of size 1e-200, whose squared slopes underflow,
    is solved as one of size 1. A quadrature that cannot converge is a ValueError naming it.
    """
    with on_cpu(), untouched(phi):
        scale, precision = 1.0, FLOAT64_PRECISION
        if not builtin:
            outputs = fingerprint(label, phi)
            precision = precision_of(outputs)
            scale = unit_scale(outputs)
        normed = phi if scale == 1.0 else _scaled(phi, scale)
        token = _PRECISION.set(precision)
        try:
            yield normed, scale
        except QuadratureError as error:
            hint = (
                f"; its outputs are rounded to {precision:.3g} (it computes in a narrower dtype "
                "than the float64 it is given), and the slopes of a rounded function are too "
                "noisy to integrate: compute it in float64"
                if precision > FLOAT64_PRECISION
                else ""
            )
            raise ValueError(
                f"activation {label!r}: its Gaussian moments cannot be computed ({error}){hint}"
            ) from None
        finally:
            _PRECISION.reset(token)


@contextlib.contextmanager
def checked_activation(label: str, phi: Phi, builtin: bool) -> Iterator[tuple[Phi, float]]:
    """:func:`activation_context` for an activation whose slope the maps use: refused by
    :func:`check_slopes` if they cannot, and its narrow features put on the quadrature's panel
    edges while its moments are computed."""
    with activation_context(label, phi, builtin) as (normed, scale):
        token = _FEATURES.set(check_slopes(label, phi))
        try:
            yield normed, scale
        finally:
            _FEATURES.reset(token)


def _scaled(phi: Phi, scale: float) -> Phi:
    def normed(x: Tensor) -> Tensor:
        return phi(x).to(torch.float64) / scale

    return normed


def end_slope_moment(phi: Phi) -> float:
    r""":math:`\lim_{q \to 0^+} \mathbb{E}[\phi'(\sqrt{q} z)^2]
    = (\phi'(0^-)^2 + \phi'(0^+)^2) / 2`: half of :math:`\sqrt{q} z` lies on each side of 0, and
    :math:`\phi'` tends to each side's slope there."""
    left, right = one_sided_slopes(phi)
    return (left * left + right * right) / 2


def _breakpoints(root: float) -> Tensor | None:
    """The features of the activation under way, as points of z where x = root z."""
    features = _FEATURES.get()
    return None if features is None or features.numel() == 0 else features / root


def relative_expectation(f: Callable[[Tensor], Tensor], root: float) -> float:
    """E[f(z)] to ~1e-12 relative to f's size: the quadrature's tolerance is absolute, and the
    moments span many orders of magnitude over the q searched.

    No more is asked than f's values hold. An activation written as a difference of growing
    terms, ``s * relu(x) - s * relu(x - 1)``, is exact only to about eps s |x|, which at a large
    q (|x| = 1e5) is 1e-10 of its size, and no panel's halves agree closer than that. So f's
    relative precision is measured where its size is: the largest change of f on the probe when
    every point moves by a few units in the last place, which also holds the change the
    argument's own rounding makes (eps |z f'(z)|). A kink of phi on a probe point (a step of
    phi'^2 there) is no rounding: it moves f one way only, by its size (each point's change is the
    smaller of the two ways), or both ways where autograd's slope at the kink is neither side's
    (|x - k| at k); rounding moves f at every point, so the eighth largest change is taken, past
    up to seven such kinks. ``root`` is the ratio of the activation's argument to z, which puts
    the activation's features on the quadrature's panel edges."""
    probe = torch.linspace(-8.0, 8.0, 257, dtype=torch.float64, device="cpu")
    with on_cpu(), torch.no_grad():
        values = f(probe)
        outward = (f(probe * (1 + _NUDGE)) - values).abs()
        inward = (f(probe * (1 - _NUDGE)) - values).abs()
    moved = torch.minimum(outward, inward)
    finite = torch.isfinite(values) & torch.isfinite(moved)
    scale = float(values.abs().max())
    if not math.isfinite(scale) or scale == 0.0:
        scale = 1.0
    changes = moved[finite]
    change = (
        float(changes.topk(min(_PAST_KINKS + 1, changes.numel())).values[-1])
        if changes.numel()
        else 0.0
    )
    precision = max(_PRECISION.get(), change / scale)
    return scale * gaussian_expectation(
        lambda z: f(z) / scale, tol=1e-12, precision=precision, breakpoints=_breakpoints(root)
    )


def second_moment(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi(\sqrt{q} z)^2]`."""
    root = math.sqrt(q)
    return relative_expectation(lambda z: phi(root * z).to(torch.float64) ** 2, root)


def mean(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi(\sqrt{q} z)]`: at :math:`c = 0`, where :math:`u_1, u_2` are
    independent, the cross moment is its square."""
    root = math.sqrt(q)
    return relative_expectation(lambda z: phi(root * z).to(torch.float64), root)


def slope_mean(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi'(\sqrt{q} z)]`: at :math:`c = 0` the slope cross moment is its
    square."""
    root = math.sqrt(q)
    return relative_expectation(lambda z: derivative(phi, root * z), root)


def slope_moment(phi: Phi, q: float) -> float:
    r""":math:`\mathbb{E}[\phi'(\sqrt{q} z)^2]`: :math:`\chi_1 / \sigma_w^2` at :math:`q`; at
    :math:`q = 0` its limit :func:`end_slope_moment`."""
    if q == 0:
        return end_slope_moment(phi)
    root = math.sqrt(q)
    return relative_expectation(lambda z: derivative(phi, root * z) ** 2, root)


def line_deficit(
    phi: Phi, q: float, slopes: tuple[float, float], slope: float | None = None
) -> float:
    r""":math:`D(q) = q\, \mathbb{E}[\phi'(u)^2] - \mathbb{E}[\phi(u)^2]`, :math:`u = \sqrt{q} z`,
    for :math:`\phi(0) = 0` with one-sided slopes ``slopes`` at 0, free of the cancellation
    between its two terms.

    With :math:`a(x)` the slope on :math:`x`'s side of 0 and :math:`r(x) = \phi(x) - a(x)\, x`,
    Gaussian integration by parts on each half-line (:math:`\mathbb{E}[u\, g(u); u > 0] =
    q\, \mathbb{E}[g'(u); u > 0]` for :math:`g(0) = 0`) cancels every term linear in :math:`a`
    exactly, leaving

    .. math::
        D(q) = q\, \mathbb{E}[r'(u)^2] - \mathbb{E}[r(u)^2],

    two terms of the same order (tanh: :math:`3 q^3` and :math:`\frac{5}{3} q^3`), where
    :math:`q \mathbb{E}[\phi'^2]` and :math:`\mathbb{E}[\phi^2]` agree to :math:`O(q^2)`
    relative. The critical line's fixed point solves :math:`D(q) = \sigma_b^2\,
    \mathbb{E}[\phi'(u)^2]`, which at small :math:`\sigma_b` no difference of the two moments
    resolves.
    """
    root = math.sqrt(q)
    left, right = slopes

    def side(x: Tensor) -> Tensor:
        # In float64: torch.where of two Python floats would make a float32 tensor.
        return torch.where(x > 0, x.new_tensor(right), x.new_tensor(left))

    def remainder(z: Tensor) -> Tensor:
        x = root * z
        return (phi(x).to(torch.float64) - side(x) * x) ** 2

    def slope_remainder(z: Tensor) -> Tensor:
        x = root * z
        return (derivative(phi, x) - side(x)) ** 2

    if slope is None:
        slope = slope_moment(phi, q)
    return q * _cancelled(slope_remainder, slope, root) - _cancelled(remainder, q * slope, root)


def _cancelled(f: Callable[[Tensor], Tensor], size: float, root: float) -> float:
    r""":math:`\mathbb{E}[f]` for :math:`f = (g - h)^2` with :math:`g, h` of second moment about
    ``size`` that (nearly) cancel, to the precision the cancellation leaves.

    Each of :math:`g, h` carries a rounding error :math:`\epsilon |g|`, so :math:`f` is off by
    about :math:`2 \epsilon |g - h| |g|`, not by :math:`\epsilon f`: where :math:`g - h` is
    small, :math:`f` is mostly noise, which no relative tolerance on :math:`\mathbb{E}[f]` can
    be met through. So a first pass finds :math:`\mathbb{E}[f]` to 1e-6 or to
    :math:`16 \epsilon` ``size`` (the noise, as :math:`\mathbb{E}[f] \le` ``size``), and the
    second asks no more than the noise
    allows, :math:`16 \epsilon \sqrt{\mathbb{E}[f]\, \text{size}}` (Cauchy-Schwarz bounds
    :math:`\mathbb{E}[|g - h||g|]` by it), or 1e-12 relative where that is finer; neither below
    :math:`(4\epsilon)^2` ``size`` (where f is all noise) nor 1e-20 ``size`` (which no use of
    :math:`D` needs).
    """
    precision = _PRECISION.get()
    # Below 1e-20 of size (far below what D is needed to), or f's noise squared, nothing counts.
    floor = max(1e-20, (4 * precision) ** 2) * size
    # E[f] <= size, so the noise is at most 16 eps size: the first pass asks no more.
    breakpoints = _breakpoints(root)
    rough = gaussian_expectation(
        f,
        tol=max(16 * precision * size, floor),
        rtol=1e-6,
        precision=precision,
        breakpoints=breakpoints,
    )
    noise = 16 * precision * math.sqrt(max(rough, 0.0) * size)
    return gaussian_expectation(
        f, tol=max(noise, floor), precision=precision, breakpoints=breakpoints
    )


def second_moment_slope(phi: Phi, q: float) -> float:
    r""":math:`\frac{d}{dq}\mathbb{E}[\phi(\sqrt{q} z)^2]
    = \mathbb{E}[\phi(\sqrt{q} z)\, \phi'(\sqrt{q} z)\, z] / \sqrt{q}
    = \mathbb{E}[(z^2 - 1)\, \phi(\sqrt{q} z)^2] / (2q)`.

    The second form (the derivative of the density of :math:`u = \sqrt{q} z` in :math:`q`,
    :math:`\partial_q n_q(u) = n_q(u) (u^2/q - 1) / (2q)`) is used above :math:`q = 1`: there
    :math:`\phi'(\sqrt{q} z)` of a saturating activation is a spike of width
    :math:`1/\sqrt{q}` at 0 that the quadrature's panels step over (tanh's slope came out 0 from
    :math:`q = 2^{26}` on), while :math:`\phi^2` is only a step there. Below 1 the first, whose
    integrand does not cancel to :math:`O(q)` where :math:`\phi(0) \ne 0`, is used.
    """
    root = math.sqrt(q)
    if q > 1.0:
        return relative_expectation(
            lambda z: (z * z - 1) * phi(root * z).to(torch.float64) ** 2, root
        ) / (2 * q)

    def integrand(z: Tensor) -> Tensor:
        x = root * z
        return phi(x).to(torch.float64) * derivative(phi, x) * z

    return relative_expectation(integrand, root) / root


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
    f_lo, f_hi = excess(lo), excess(hi)
    log_root = illinois(
        lambda t: excess(math.exp(t)),
        math.log(lo),
        math.log(hi),
        f_lo,
        f_hi,
        x_tol=1e-13,
        # Relative to the bracket's values: an excess of 1e-13 on either side (the critical
        # line near its end) is not already a root.
        f_tol=1e-14 * min(abs(f_lo), abs(f_hi), 1.0),
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
        -_GRID_HALF_WIDTH, _GRID_HALF_WIDTH, _GRID_PANELS + 1, dtype=torch.float64, device="cpu"
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
    with on_cpu(), torch.no_grad():
        first = f(root * z).to(torch.float64)
        second = f(root * (c * z[:, None] + s * z[None, :])).to(torch.float64)
    return float((w * first) @ (second @ w))


def cross_slope_moment(phi: Phi, q: float, c: float) -> float:
    r""":math:`\mathbb{E}[\phi'(u_1)\, \phi'(u_2)]`: the slope of the correlation map over
    :math:`\sigma_w^2`."""
    return cross_moment(lambda x: derivative(phi, x), q, c)


def grid_moments(phi: Phi, q: float) -> tuple[float, float, float]:
    r"""The grid's :math:`\mathbb{E}[\phi(u)]`, :math:`\mathbb{E}[\phi(u)^2]` and
    :math:`\mathbb{E}[\phi'(u)^2]` by its own one-dimensional rule: its cross moments are the
    first squared at :math:`c = 0` (its weights factor) and the others at :math:`c = 1`, where
    :math:`u_1 = u_2` (its weights in :math:`z_2` sum to 1). Held against the adaptive
    quadrature's, they say how well the grid resolves :math:`\phi`."""
    z, w = _grid()
    x = math.sqrt(q) * z
    with on_cpu(), torch.no_grad():
        values = phi(x).to(torch.float64)
    return (
        float((w * values).sum()),
        float((w * values**2).sum()),
        float((w * derivative(phi, x) ** 2).sum()),
    )
