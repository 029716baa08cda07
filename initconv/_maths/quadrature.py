"""Gaussian expectations E[f(z)], z ~ N(0, 1), by adaptive Gauss-Lobatto quadrature.

Activations such as relu, relu6, hardtanh and hardswish have kinks, where a fixed rule converges only
like h^2. Every panel is compared with its two halves and split until they agree, so a kink ends up in
a panel narrow enough to meet the tolerance wherever it is; nobody has to list the kinks. The rule
samples each panel's ends (Lobatto, not Legendre): a kink or jump between an end and the next node
would otherwise be seen by neither the panel nor its halves, which then agree on a wrong value.

The answer is bounded in work as well as in error. The tolerance is relative to E[|f(z)|] (an
absolute one may be given too), so the size of f does not matter: ``1000 * tanh`` converges like
``tanh``. A panel whose halves agree to the precision of f's own values is accepted: an f computed
in float32 cannot do better, and splitting it further only splits its rounding noise. And f is
evaluated at most :data:`MAX_EVALUATIONS` times in all, so a divergent or pathological f raises
:class:`QuadratureError` instead of taking minutes or all memory.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

__all__: list[str] = []

# Beyond |z| = 12 the standard normal density is below 2e-32, so even an integrand growing like
# exp(2|z|) loses less than 1e-15 there; one that does not decay by then fails the tail check.
_HALF_WIDTH = 12.0
_INITIAL_PANELS = 96
_ORDER = 16
_EDGE_INWARD = 2.0**-40
# Panels narrower than this are accepted as they are: only a jump discontinuity gets here, and it
# then contributes at most width * |f| ~ 1e-12 |f|.
_MIN_WIDTH = 1e-12
# Panels forced through at _MIN_WIDTH may leave at most this many tolerances unresolved in all:
# a jump leaves about width * |f| per panel, a few at most; a singularity leaves ~ the integral.
_SINGULAR_FACTOR = 64.0
# ... and only where f phi there exceeds this many times its largest value on the first panels:
# a jump's values stay within f's range, a singularity's grow without bound.
_SINGULAR_GROWTH = 1e4
# Halving from the initial width 0.25 reaches _MIN_WIDTH after 38 rounds; this only guards the loop.
_MAX_ROUNDS = 64
# A panel is accepted once its halves agree to this many times f's relative precision: each of the
# two estimates is off by at most half an ulp of every value it sums.
_NOISE_FACTOR = 4.0

MAX_EVALUATIONS = 2**20
"""The most points f is evaluated at by one :func:`gaussian_expectation` (8 MB of float64 each)."""

FLOAT64_PRECISION = torch.finfo(torch.float64).eps


class QuadratureError(ValueError):
    """The expectation cannot be computed: it diverges, or f needs more evaluations than allowed."""


@contextlib.contextmanager
def on_cpu() -> Iterator[None]:
    """Make the CPU the default device inside: the quadrature and the activations it evaluates
    allocate there even where the caller builds a model under ``with torch.device("meta")`` (the
    large-model path) or has set another default device."""
    if torch.get_default_device().type == "cpu":
        yield
        return
    with torch.device("cpu"):
        yield


@functools.cache
def gauss_legendre(order: int) -> tuple[Tensor, Tensor]:
    # Golub-Welsch: the nodes are the eigenvalues of the Jacobi matrix of the Legendre polynomials,
    # off-diagonal k / sqrt(4k^2 - 1); the weights are 2 v_0^2 for the normalised eigenvectors v.
    # Explicit device: a model built under `with torch.device("meta")` must still get its gains.
    k = torch.arange(1, order, dtype=torch.float64, device="cpu")
    off = k / torch.sqrt(4 * k * k - 1)
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    return nodes, 2 * vectors[0] ** 2


@functools.cache
def gauss_lobatto(order: int) -> tuple[Tensor, Tensor]:
    """Gauss-Lobatto nodes and weights on [-1, 1]: both ends and the ``order - 2`` roots of
    P'_(order-1), exact for polynomials of degree 2 order - 3.

    The ends are why the adaptive rule uses it: a jump between a panel's end and its first
    Gauss-Legendre node is sampled by no node of the panel nor of its halves, so the two agree and
    the panel is accepted with the jump's share missing (1e-5 relative, for a kink of a slope at
    0.0027 of a panel's width from its edge); an end node sees it, at a weight that halving
    changes, so the halves disagree until the panel is narrow enough.
    """
    n = order - 1
    # The interior nodes are the zeros of P'_n, an orthogonal family for the weight 1 - x^2
    # (Jacobi (1, 1)), whose Jacobi matrix has off-diagonal sqrt(k (k + 2) / ((2k + 1)(2k + 3))).
    k = torch.arange(1, n - 1, dtype=torch.float64, device="cpu")
    off = torch.sqrt(k * (k + 2) / ((2 * k + 1) * (2 * k + 3)))
    interior = torch.linalg.eigvalsh(torch.diag(off, 1) + torch.diag(off, -1))
    nodes = torch.cat([interior.new_tensor([-1.0]), interior, interior.new_tensor([1.0])])
    # w_i = 2 / (n (n + 1) P_n(x_i)^2), P_n by its three-term recurrence.
    previous, current = torch.ones_like(nodes), nodes.clone()
    for m in range(1, n):
        previous, current = current, ((2 * m + 1) * nodes * current - m * previous) / (m + 1)
    return nodes, 2 / (n * (n + 1) * current**2)


@functools.cache
def _panel_rule() -> tuple[Tensor, Tensor]:
    # Lobatto's ends pulled into the panel by 2^-40 of its half-width: a kink or jump exactly at
    # an edge (relu's at 0, which is one) is then seen from inside on both sides, as the limit
    # the integral needs, not as f's value there (relu'(0) = 0, the left side's); a jump within
    # 2^-40 of an edge goes unseen but costs at most 2^-41 of the panel's width times its size.
    # Moving the ends changes a smooth integrand's estimate by ~1e-15 relative.
    nodes, weights = gauss_lobatto(_ORDER)
    inward = torch.zeros_like(nodes)
    inward[0], inward[-1] = _EDGE_INWARD, -_EDGE_INWARD
    return nodes + inward, weights


def _panel_integrals(
    f: Callable[[Tensor], Tensor], lo: Tensor, hi: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Per panel, the integrals of f(z) phi(z) and of |f(z)| phi(z), and max |f(z) phi(z)|."""
    nodes, weights = _panel_rule()
    half = (hi - lo) / 2
    z = ((lo + hi) / 2)[:, None] + half[:, None] * nodes
    pdf = torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    density = pdf * weights
    values = f(z)
    if not isinstance(values, Tensor) or values.shape != z.shape:
        raise QuadratureError(
            f"f must return a tensor shaped like its input {tuple(z.shape)}, got "
            f"{tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__}"
        )
    values = values.to(torch.float64)
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        bad = float(z[~finite][0])
        raise QuadratureError(f"f is {float(values[~finite][0])} at z = {bad:.6g}")
    weighted = values * density
    peak = (values * pdf).abs().amax(dim=1)
    return weighted.sum(dim=1) * half, weighted.abs().sum(dim=1) * half, peak


def gaussian_expectation(
    f: Callable[[Tensor], Tensor],
    tol: float = 0.0,
    *,
    rtol: float = 1e-12,
    precision: float = FLOAT64_PRECISION,
    max_evaluations: int = MAX_EVALUATIONS,
    breakpoints: Tensor | None = None,
) -> float:
    """E[f(z)] for z ~ N(0, 1), within ``max(tol, rtol * E[|f(z)|])`` for any piecewise-smooth f,
    plus, at each jump of f, about 1e-12 times the jump (panels are not halved below 1e-12 wide).

    ``f`` maps a float64 tensor elementwise to a tensor of the same shape; ``precision`` is the
    relative precision of its values (float64's eps unless f computes in a narrower dtype), below
    which no tolerance can be met. Raises :class:`QuadratureError` when f is not finite at a node,
    when the integrand does not decay by ``|z| = 12`` (the expectation may be infinite), or when
    ``max_evaluations`` points do not suffice (the first panels alone take 1,536). A piece of f
    narrower than the first panels' node spacing (about 0.01) may be missed whole, unless
    ``breakpoints`` (points of z) bracket it: they are added to the first panels' edges, so a
    narrow piece between two of them is a panel of its own (those in the outermost panels,
    ``|z| > 11.75``, are dropped: those panels measure the tail).
    """
    with on_cpu(), torch.no_grad():
        return _integrate(f, tol, rtol, precision, max_evaluations, breakpoints)


def _integrate(
    f: Callable[[Tensor], Tensor],
    tol: float,
    rtol: float,
    precision: float,
    max_evaluations: int,
    breakpoints: Tensor | None,
) -> float:
    floor = max(rtol, _NOISE_FACTOR * precision)
    edges = torch.linspace(
        -_HALF_WIDTH, _HALF_WIDTH, _INITIAL_PANELS + 1, dtype=torch.float64, device="cpu"
    )
    if breakpoints is not None:
        inner = _HALF_WIDTH - 2 * _HALF_WIDTH / _INITIAL_PANELS
        points = breakpoints.to(torch.float64).cpu()
        edges = torch.unique(torch.cat([edges, points[points.abs() < inner]]))
    if max_evaluations < (edges.numel() - 1) * _ORDER:
        raise QuadratureError(
            f"max_evaluations must be at least {(edges.numel() - 1) * _ORDER} (the first panels' "
            f"points), got {max_evaluations!r}"
        )
    lo, hi = edges[:-1], edges[1:]
    whole, _, peaks = _panel_integrals(f, lo, hi)
    # The integrand's size as the first panels (and their halves) see it: a jump stays within it,
    # a singularity not.
    size = float(peaks.max())
    evaluations = lo.numel() * _ORDER
    total, total_abs = 0.0, 0.0
    for step in range(_MAX_ROUNDS):
        needed = 2 * lo.numel() * _ORDER
        if evaluations + needed > max_evaluations:
            wanted = f"a relative {floor:.3g}" + (f" or absolute {tol:.3g}" if tol > 0 else "")
            raise QuadratureError(
                f"the integral did not converge to {wanted} within "
                f"{max_evaluations} evaluations ({lo.numel()} panels still disagree with their "
                "halves): f is too rough, noisy or discontinuous to integrate"
            )
        evaluations += needed
        mid = (lo + hi) / 2
        halves, halves_abs, peaks = _panel_integrals(f, torch.cat([lo, mid]), torch.cat([mid, hi]))
        count = lo.numel()
        left, right = halves[:count], halves[count:]
        refined, refined_abs = left + right, halves_abs[:count] + halves_abs[count:]
        scale = total_abs + float(refined_abs.sum())
        if step == 0:
            _check_tail(float(refined_abs[0] + refined_abs[-1]), max(tol, floor * scale), scale)
            # A piece of f between the first panels' nodes is seen by their halves' first.
            size = max(size, float(peaks.max()))
        width = hi - lo
        budget = torch.maximum(
            max(tol, rtol * scale) * width / (2 * _HALF_WIDTH),
            _NOISE_FACTOR * precision * refined_abs,
        )
        converged = (refined - whole).abs() <= budget
        forced = ~converged & (width <= _MIN_WIDTH)
        if bool(forced.any()):
            peak = torch.maximum(peaks[:count], peaks[count:])
            _check_forced(refined - whole, forced, lo, peak, max(tol, floor * scale), size)
        done = converged | forced
        total += float(refined[done].sum())
        total_abs += float(refined_abs[done].sum())
        if bool(done.all()):
            return total
        keep = ~done
        whole = torch.cat([left[keep], right[keep]])
        lo, mid, hi = lo[keep], mid[keep], hi[keep]
        lo, hi = torch.cat([lo, mid]), torch.cat([mid, hi])
    raise QuadratureError(f"the integral did not converge in {_MAX_ROUNDS} rounds")


def _check_forced(
    change: Tensor, forced: Tensor, lo: Tensor, peak: Tensor, allowed: float, size: float
) -> None:
    # A panel of width _MIN_WIDTH whose halves still disagree straddles a jump, whose share is at
    # most width * |f| and is left unresolved, or a singularity (f ~ 1/z near 0), where halving
    # changes the estimate by an amount that does not shrink and f at the nodes grows past
    # anything the first panels saw: then the integral is infinite, or at least not computable
    # to the tolerance.
    unresolved = float(change[forced].abs().sum())
    growth = float(peak[forced].max()) / size if size > 0 else math.inf
    if unresolved > _SINGULAR_FACTOR * allowed and growth > _SINGULAR_GROWTH:
        where = float(lo[forced][change[forced].abs().argmax()])
        raise QuadratureError(
            f"the integrand f(z) phi(z) is singular near z = {where:.6g}: it reaches {growth:.3g}"
            f" times its size elsewhere, and panels {_MIN_WIDTH:g} wide there still change the "
            f"integral by {unresolved:.3g}, more than the tolerance {allowed:.3g} (f grows like "
            "1/|z - z0| or faster there, so the expectation may be infinite)"
        )


def _check_tail(edge: float, allowed: float, scale: float) -> None:
    # What lies beyond |z| = 12 is about what the outermost panels hold (an integrand decaying
    # like the density drops by e^-3 per 0.25); if that is not negligible, neither is the part cut.
    if edge > allowed:
        raise QuadratureError(
            f"the integrand f(z) phi(z) does not decay by |z| = {_HALF_WIDTH:g}: the outermost "
            f"panels hold {100 * edge / scale:.3g}% of E[|f|], so the expectation may be infinite (f "
            "grows like exp(z^2 / 2) or faster)"
        )
