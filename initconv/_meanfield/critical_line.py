r"""The edge of chaos: :func:`critical` finds it for an activation and a bias variance, and the
``"critical"`` scheme initialises a layer on it.

Mean-field theory of deep networks (Poole, B. et al. (2016), "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz, S. et al. (2017), "Deep information
propagation"): with :math:`\mathrm{Var}(W) = \sigma_w^2 / \text{fan\_in}` and biases
:math:`\mathcal{N}(0, \sigma_b^2)`, a pre-activation of second moment :math:`q` maps to

.. math::
    q \mapsto \sigma_w^2\, \mathbb{E}[\phi(\sqrt{q} z)^2] + \sigma_b^2, \qquad
    \chi_1 = \sigma_w^2\, \mathbb{E}[\phi'(\sqrt{q^*} z)^2],

and two nearby inputs separate by :math:`\chi_1` per layer at the fixed point :math:`q^*`. On the
critical line :math:`\chi_1 = 1` they keep their distance and the depth scales diverge, which is
what lets a plain network of hundreds of layers train (Xiao, L. et al. (2018), "Dynamical isometry
and a mean field theory of CNNs"). On the line, :math:`\sigma_w^2 = 1 / \mathbb{E}[\phi'^2]` and
:math:`q^*` solves :math:`q = \mathbb{E}[\phi^2] / \mathbb{E}[\phi'^2] + \sigma_b^2`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import weakref
from typing import Any

import torch
from torch import Tensor

from initconv._activations import ActivationSpec, Resolved
from initconv._maths.derived_gain import fingerprint, same
from initconv._meanfield.gaussian import (
    checked_activation,
    end_slope_moment,
    line_deficit,
    log_grid_roots,
    resolve_for,
    root_log,
    second_moment,
    second_moment_slope,
    slope_moment,
)
from initconv._meanfield.line_end import Series, agrees, root, series
from initconv._meanfield.slopes import Phi, one_sided_slopes
from initconv._meanfield.variance_map import FixedPoint, fixed, squared
from initconv._validate import check_real

__all__ = ["CriticalPoint", "critical"]

# Where the line is searched: q* in [2^-24, 2^12], every 2 octaves, then refined. Above it the
# slope phi'(sqrt(q) z) of a saturating activation is a spike narrower than the quadrature's
# first panels resolve, and no network of unit-scale inputs lives there.
_GRID = [2.0**k for k in range(-24, 13, 2)]
# A variance-map slope this close to 1 is 1 (the quadrature is good to ~1e-12).
_MARGINAL = 1e-9
# The line is unknown where E[phi'^2] is below this share of its largest value on the grid within
# a factor _NEARBY of q.
_RESOLVED = 1e-9
_NEARBY = 16.0


@dataclasses.dataclass(frozen=True)
class CriticalPoint(FixedPoint):
    r"""A point on the critical line :math:`\chi_1 = 1` of an activation: a :class:`FixedPoint`
    (``activation``, ``weight_std``, ``bias_std``, ``q_star``, ``variance_slope``) where nearby
    inputs neither merge nor separate. ``q_star`` is 0 at the line's end without bias, where it is
    approached like 1/depth.
    """

    def input_gain(self, input_moment: float = 1.0) -> float:
        r"""The gain of a first layer whose inputs have second moment ``input_moment``, so that its
        pre-activations start at :math:`q^*`: :math:`\sqrt{(q^* - \sigma_b^2) / q_\text{in}}`
        (0 at the end of the line, :math:`q^* = 0`)."""
        moment = check_real("input_moment", input_moment, positive=True)
        return math.sqrt(max(self.q_star - self.bias_std**2, 0.0) / moment)

    def __str__(self) -> str:
        return (
            f"{self.activation} at bias_std {self.bias_std:.4g}: weight_std "
            f"{fixed(self.weight_std, 6)} (sigma_w^2 = {squared(self.weight_std)}),"
            f" q* = {self.q_star:.6g}, "
            f"M'(q*) = {self.variance_slope:.4f}"
        )


class _Line:
    r"""The critical line of one activation: :math:`\sigma_w^2(q) = 1/G(q)` and the excess
    :math:`\log(M(q)/q)` of the variance map there, :math:`G(q) = \mathbb{E}[\phi'(\sqrt{q}
    z)^2]`.

    For :math:`\phi(0) = 0` the map's deficit :math:`q - \mathbb{E}[\phi^2]/G = D(q)/G` comes
    from :func:`line_deficit`, exact where the difference of the two moments loses every digit
    (tanh's is :math:`\frac43 q^3`: at :math:`q = 10^{-4}` that difference is off by 1e-9
    relative, at :math:`2^{-24}` by 2%).
    """

    def __init__(self, phi: Phi) -> None:
        self.phi = phi
        self.zero_at_0 = _value_at_zero(phi) == 0
        self.slopes = one_sided_slopes(phi)
        self._slope_moments: dict[float, float] = {}
        self._deficits: dict[float, float] = {}

    def slope_moment(self, q: float) -> float:
        """G(q), computed once per q."""
        if q not in self._slope_moments:
            self._slope_moments[q] = slope_moment(self.phi, q)
        return self._slope_moments[q]

    def resolved(self, q: float) -> bool:
        """Whether the line is known at q: G(q) well above the quadrature's error.

        Where G is below _RESOLVED of its largest value nearby (on the grid within a factor 16 of
        q), the quadrature (good to ~1e-12 of the slopes' size) does not know G, so sigma_w^2 =
        1/G is unknown there: phi is flat over almost all of N(0, q), a plateau around 0 at small
        q. The size is taken nearby, not over the whole grid, because an activation's slopes
        may grow without bound (x - x^5: G(2^12) is 7e17 times G(0)) and the quadrature's error
        at q is a share of the slopes N(0, q) reaches."""
        nearby = [p for p in _GRID if q / _NEARBY <= p <= q * _NEARBY]
        scale = max([self.slope_moment(p) for p in nearby], default=0.0)
        return self.slope_moment(q) > _RESOLVED * max(scale, self.slope_moment(q))

    def sigma_w2(self, q: float) -> float:
        slope = self.slope_moment(q)
        return 1.0 / slope if slope > 0 else math.inf

    def deficit(self, q: float) -> float:
        r""":math:`D(q)/(q G(q))`: how far below :math:`q` the line's :math:`\sigma_w^2
        \mathbb{E}[\phi^2]` lies, relative to :math:`q`; NaN where the line is not resolved."""
        if q in self._deficits:
            return self._deficits[q]
        slope = self.slope_moment(q)
        if not self.resolved(q):
            value = math.nan
        elif self.zero_at_0:
            value = line_deficit(self.phi, q, self.slopes, slope) / (q * slope)
        else:
            value = 1.0 - second_moment(self.phi, q) / (q * slope)
        self._deficits[q] = value
        return value

    def excess(self, q: float, sigma_b2: float) -> float:
        """log(M(q) / q) on the line, at bias variance ``sigma_b2`` (NaN where unresolved)."""
        relative = sigma_b2 / q - self.deficit(q)
        if math.isnan(relative):
            return math.nan
        return math.log1p(relative) if relative > -1 else -math.inf

    def slope(self, q: float) -> float:
        """M'(q) on the line (NaN where unresolved)."""
        if not self.resolved(q):
            return math.nan
        return second_moment_slope(self.phi, q) / self.slope_moment(q)


def _runs(grid: list[float], values: list[float]) -> list[tuple[list[float], list[float]]]:
    """The maximal runs of consecutive grid points whose values are known (not NaN)."""
    runs: list[tuple[list[float], list[float]]] = []
    for q, value in zip(grid, values, strict=True):
        if math.isnan(value):
            if runs and runs[-1][0]:
                runs.append(([], []))
            continue
        if not runs:
            runs.append(([], []))
        runs[-1][0].append(q)
        runs[-1][1].append(value)
    return [run for run in runs if len(run[0]) > 1]


def _candidates(line: _Line, sigma_b2: float) -> list[float]:
    """Every q* > 0 on the grid's range where the line meets the variance map's fixed points,
    where the line is resolved."""

    def excess(q: float) -> float:
        return line.excess(q, sigma_b2)

    values = [excess(q) for q in _GRID]
    if sigma_b2 == 0:
        # Without bias the line's points solve D(q) = 0. An activation linear on both sides of 0
        # up to a kink at x = k (hardtanh: k = 1; relu6: k = 6 on the right, relu's line on
        # the left) has D(q) > 0 at every q > 0 but only e^(-k^2 / 2q)-small: hardtanh's is
        # D(q) = 2 sqrt(q) n(a) - 2 (1 - Phi(a)), a = 1 / sqrt(q) (Gaussian integration by
        # parts on |u| < 1), positive by the Mills ratio 1 - Phi(a) < n(a) / a, and about
        # 2 q^1.5 n(a), below float64's resolution of q G(q) once q is below about 1/70. There the deficit
        # rounds to exactly 0 at every grid point: not a fixed point but an unresolved one, so
        # no root is taken from it, and the line's end q* -> 0 (added by the caller) remains,
        # as for tanh.
        values = [math.nan if value == 0.0 else value for value in values]
    return [
        root for grid, run in _runs(_GRID, values) for root in log_grid_roots(excess, grid, run)
    ]


def _is_homogeneous(line: _Line) -> bool:
    """Positively homogeneous (relu, leaky relu, linear): E[phi^2] / E[phi'^2] = q for every q."""
    return all(abs(line.deficit(q)) < 1e-9 for q in (2.0**-8, 1.0, 2.0**8))


def _stable_from(line: _Line) -> float | None:
    """The least sigma_b at which the line's fixed point is stable, where the slope crosses 1
    once going up the line; ``None`` if it never does on the grid."""
    slopes = [line.slope(q) - 1 for q in _GRID]
    for i in range(len(_GRID) - 1, 0, -1):
        # NaN (unresolved) compares False either way.
        if slopes[i] <= 0 < slopes[i - 1]:
            q = root_log(lambda q: line.slope(q) - 1, _GRID[i - 1], _GRID[i])
            sigma_b2 = q * line.deficit(q)
            return math.sqrt(max(sigma_b2, 0.0))
    return None


@dataclasses.dataclass(frozen=True)
class _Point:
    """A fixed point on the line: q*, sigma_w^2 there, M'(q*), and whether it is stable."""

    q: float
    sigma_w2: float
    slope: float
    stable: bool
    # M'(q*) - 1, where known better than slope - 1 (the series' is exact to O(q*) relative).
    excess: float | None = None


def _on_grid(line: _Line, q: float) -> _Point:
    slope = line.slope(q)
    return _Point(q, line.sigma_w2(q), slope, slope <= 1 + _MARGINAL)


def _series_at_the_end(line: _Line) -> tuple[Series | None, bool]:
    """The line's Taylor series at 0 (``None`` where autograd cannot take it), and whether it
    matches the quadrature at the grid's first q."""
    expansion = series(line.phi)
    q = _GRID[0]
    moment = line.slope_moment(q)
    matched = expansion is not None and agrees(expansion, q, q * moment * line.deficit(q), moment)
    return expansion, matched


def _below_the_grid(name: str, line: _Line, bias_std: float) -> _Point | None:
    r"""(q*, sigma_w^2, M'(q*)) of a point below the grid's first q, from the Taylor series at 0
    (:mod:`initconv._meanfield.line_end`), checked against the quadrature at that first q;
    ``None`` where the series has no root there."""
    expansion, matched = _series_at_the_end(line)
    if expansion is None or not matched:
        why = (
            "cannot be taken"
            if expansion is None
            else "does not match the activation there (a kink or breakpoint near 0)"
        )
        raise _no_point(
            name,
            bias_std,
            "its point lies below q* = 2^-24, where the quadrature cannot resolve the line, and "
            f"its Taylor series at 0 (by autograd) {why}; use a larger bias_std",
        )
    q_star = root(expansion, bias_std, _GRID[0])
    if q_star is None:
        return None
    # M'(q*) - 1 is O(q*) there, below float64's resolution of 1, but its sign is exact.
    excess = expansion.variance_slope_excess(q_star)
    return _Point(q_star, 1.0 / expansion.G(q_star), 1.0 + excess, excess <= 0, excess)


def _line_end(line: _Line, end: float) -> _Point:
    """The line's end, q* -> 0, where E[phi'(sqrt(q) z)^2] tends to ``end``, the mean of the
    squared one-sided slopes at 0 (tanh: sigma_w = 1; selu, with slopes lambda and lambda alpha:
    sigma_w = sqrt(2 / (lambda^2 (1 + alpha^2))) = 0.6905).

    Stable where M'(q) <= 1 as q -> 0 along the line: the sign of the Taylor series' first term
    of M'(q) - 1, exact where the quadrature's M'(q) - 1 at the grid's first q is below any margin
    (silu's is q / 2 there, 3e-8, and 8 silu(x / 8)'s 64 times less: a margin would call one
    unstable and the other stable, though the two have the same line with q scaled by 64). Where
    the series cannot be taken or does not match, the quadrature's slope against the margin."""
    q = _GRID[0]
    slope = line.slope(q)
    expansion, matched = _series_at_the_end(line)
    if expansion is not None and matched:
        first = expansion.slope_excess[0][1] if expansion.slope_excess else 0.0
        return _Point(0.0, 1 / end, slope, first <= 0, expansion.variance_slope_excess(q))
    return _Point(0.0, 1 / end, slope, slope <= 1 + _MARGINAL)


def _no_point(name: str, bias_std: float, why: str) -> ValueError:
    return ValueError(f"activation {name!r} has no critical point at bias_std={bias_std!r}: {why}")


# Solved points: a layer asks on every construction and reset. A built-in activation is keyed by
# its canonical name (with its parameters); any other function by itself, kept as long as it
# lives, with its outputs on the probe, so that a module whose parameter changed is solved again.
_NAMED: dict[tuple[str, float], CriticalPoint] = {}
_CALLABLES: weakref.WeakKeyDictionary[Any, dict[float, tuple[Tensor, CriticalPoint]]] = (
    weakref.WeakKeyDictionary()
)
_SOLVED_LOCK = threading.Lock()


def _critical(name: str, phi: Phi, bias_std: float, scale: float = 1.0) -> CriticalPoint:
    """The point of ``phi``, the activation divided by ``scale`` (a power of 2 that brings it to
    unit size): the caller divides its weight_std by ``scale``, and messages speak of the
    activation itself."""
    if bias_std >= math.sqrt(_GRID[-1]):
        # sigma_b^2 = q* - E[phi^2] / E[phi'^2] <= q*, so a larger bias has no point on the grid.
        raise _no_point(
            name,
            bias_std,
            f"sigma_b^2 = q* - E[phi^2] / E[phi'^2] is at most q*, and q* is sought in "
            f"[2^-24, 2^12], so bias_std must be below {math.sqrt(_GRID[-1]):g}",
        )
    sigma_b2 = bias_std**2
    line = _Line(phi)
    if _is_homogeneous(line):
        sigma_w2 = line.sigma_w2(1.0)
        if bias_std > 0:
            raise _no_point(
                name,
                bias_std,
                "it is positively homogeneous to within 1e-9 (its line's relative deficit at q "
                f"= 2^-8, 1 and 2^8), so chi_1 = 1 needs sigma_w^2 = "
                f"{squared(math.sqrt(sigma_w2) / scale, decimals=None)} "
                "at every q, where the variance map is q + sigma_b^2 and has no fixed point (q "
                "grows by sigma_b^2 every layer); its one critical point is bias_std=0",
            )
        # Every q is a fixed point there: report the unit second moment.
        return CriticalPoint(name, math.sqrt(sigma_w2), 0.0, 1.0, 1.0)
    found = [_on_grid(line, q) for q in _candidates(line, sigma_b2)]
    end = end_slope_moment(phi)
    if line.zero_at_0 and end > 0:
        if bias_std == 0:
            found.append(_line_end(line, end))
        elif line.excess(_GRID[0], sigma_b2) < 0:
            # M(q) < q at the grid's first q, and M(q) > q as q -> 0 (sigma_b^2 / q grows):
            # a point lies below, the nearer to the end the smaller the bias.
            below = _below_the_grid(name, line, bias_std)
            if below is not None:
                found.append(below)
    stable = [point for point in found if point.stable]
    if not stable:
        return _unstable(name, line, bias_std, found)
    best = min(stable, key=lambda point: abs(math.log(point.q)) if point.q else math.inf)
    return CriticalPoint(name, math.sqrt(best.sigma_w2), bias_std, best.q, best.slope)


def _value_at_zero(phi: Phi) -> float:
    with torch.no_grad():
        return float(phi(torch.zeros(1, dtype=torch.float64, device="cpu"))[0])


def _unstable(name: str, line: _Line, bias_std: float, found: list[_Point]) -> CriticalPoint:
    if not found:
        raise _no_point(
            name,
            bias_std,
            "no sigma_w makes chi_1 = 1 at a fixed point of the variance map for q* in "
            "[2^-24, 2^12]",
        )
    points = ", ".join(
        f"q* = {point.q:.4g} with M'(q*) = {point.slope:.6f}"
        + (f" (1 + {point.excess:.3g})" if point.excess is not None and point.excess < 5e-7 else "")
        for point in found
    )
    least = _stable_from(line)
    hint = (
        f"; its critical points are stable from bias_std = {least:.4g} on"
        if least is not None and least > bias_std
        else ""
    )
    raise _no_point(
        name,
        bias_std,
        f"on the line chi_1 = 1 the variance map's fixed point is unstable ({points} > 1), so "
        f"a deep stack is pushed away from it{hint}",
    )


def critical(activation: ActivationSpec, bias_std: float = 0.0) -> CriticalPoint:
    r"""The point of the critical line :math:`\chi_1 = 1` of ``activation`` at bias std
    :math:`\sigma_b`: the gain :math:`\sigma_w` and the fixed point :math:`q^*`.

    On the line (Poole et al. (2016); Schoenholz et al. (2017), "Deep information propagation"),

    .. math::
        \sigma_w^2 = \frac{1}{\mathbb{E}[\phi'(\sqrt{q^*} z)^2]}, \qquad
        q^* = \frac{\mathbb{E}[\phi(\sqrt{q^*} z)^2]}{\mathbb{E}[\phi'(\sqrt{q^*} z)^2]}
        + \sigma_b^2,

    solved for :math:`q^*` by quadrature, in the form :math:`D(q) = \sigma_b^2
    \mathbb{E}[\phi'^2]` with :math:`D = q \mathbb{E}[\phi'^2] - \mathbb{E}[\phi^2]` computed
    without cancellation, and below :math:`q = 2^{-24}` (tiny biases: tanh at
    :math:`\sigma_b = 10^{-150}` has :math:`q^* \approx 10^{-100}`) from the activation's
    one-sided Taylor series at 0, checked against the quadrature. Of several solutions, those
    where the variance map is stable (:math:`M'(q^*) \le 1`, so a deep stack returns to
    :math:`q^*`) count, and the one nearest to :math:`q^* = 1` is returned. At :math:`\sigma_b =
    0` the line ends at :math:`q^* \to 0`, where :math:`\mathbb{E}[\phi'(\sqrt{q} z)^2]` tends
    to the mean of the squared one-sided slopes at 0, :math:`\sigma_w = \sqrt{2 /
    (\phi'(0^-)^2 + \phi'(0^+)^2)}` (tanh: 1, Xiao et al. (2018); selu at its kink: 0.6905).
    So does the line of an activation linear on each side of 0 up to a kink at :math:`x = k`
    (hardtanh: :math:`\sigma_w = 1`; relu6: :math:`\sqrt 2`): its :math:`D(q)` is positive but
    :math:`e^{-k^2/2q}`-small, so every small :math:`q` is a fixed point to float64's rounding
    (a deep stack drifts from it by far less than 1e-16 per layer), yet only :math:`q^* \to 0`
    is one exactly, and that is what is returned. A
    positively homogeneous activation (relu: :math:`\sigma_w^2 = 2`) is critical at every
    :math:`q` there, and nowhere with a bias.

    Results are cached per activation and bias std; a module or function is solved again when
    its outputs change (a parameter set since). Everything runs on the CPU in float64, also
    under ``with torch.device("meta")``.

    Args:
        activation: a name, an ``nn.Module`` class or instance, or an elementwise callable,
            continuous and piecewise differentiable (autograd gives :math:`\phi'`).
        bias_std: :math:`\sigma_b \ge 0`.

    Returns:
        A :class:`CriticalPoint`.

    Raises:
        ValueError: where ``activation`` has no stable critical point at ``bias_std``, saying
            why (gelu and silu need a large bias: their line is unstable at small :math:`q^*`);
            where it has no slope (a step function) or jumps, naming it.

    Examples:
        >>> point = critical("tanh", bias_std=0.05)
        >>> round(point.weight_std, 4), round(point.q_star, 4)
        (1.1225, 0.1537)
        >>> round(critical("relu").weight_std ** 2, 12)
        2.0
        >>> round(critical("selu").weight_std, 4)
        0.6905
    """
    # + 0.0: a bias_std of -0.0 is 0.0.
    return solve(
        resolve_for("critical", activation), check_real("bias_std", bias_std, minimum=0.0) + 0.0
    )


def solve(activation: Resolved, bias_std: float) -> CriticalPoint:
    """:func:`critical`, solved once per (activation, bias_std) while the activation's outputs
    stay the same."""
    name, phi = activation.name, activation.phi
    if activation.builtin:
        with _SOLVED_LOCK:
            point = _NAMED.get((name, bias_std))
        if point is None:
            point = _solve(name, phi, bias_std, builtin=True)
            with _SOLVED_LOCK:
                _NAMED[(name, bias_std)] = point
        return point
    outputs = fingerprint(name, phi)
    with _SOLVED_LOCK:
        try:
            cached = _CALLABLES.get(phi, {}).get(bias_std)
        except TypeError:  # neither hashable nor weak-referenceable: solved every time
            cached = None
    if cached is not None and same(cached[0], outputs):
        return cached[1]
    point = _solve(name, phi, bias_std, builtin=False)
    with _SOLVED_LOCK, contextlib.suppress(TypeError):  # not weak-referenceable: not kept
        _CALLABLES.setdefault(phi, {})[bias_std] = (outputs, point)
    return point


def _solve(name: str, phi: Phi, bias_std: float, builtin: bool) -> CriticalPoint:
    with checked_activation(name, phi, builtin) as (normed, scale):
        point = _critical(name, normed, bias_std, scale)
    # k phi has phi's line with sigma_w / k.
    return dataclasses.replace(point, weight_std=point.weight_std / scale)
