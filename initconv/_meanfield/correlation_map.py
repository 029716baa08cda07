r"""Mean-field theory with a bias: the variance map's fixed point and the correlation map there.

Poole, B. et al. (2016), "Exponential expressivity in deep neural networks through transient
chaos"; Schoenholz, S. et al. (2017), "Deep information propagation". With
:math:`\mathrm{Var}(W) = \sigma_w^2/\text{fan\_in}` and biases :math:`\mathcal{N}(0, \sigma_b^2)`,
two inputs whose pre-activations have second moment :math:`q^*` and correlation :math:`c` map to

.. math::
    C(c) = \frac{\sigma_w^2\, \mathbb{E}[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^*}, \qquad
    u_1 = \sqrt{q^*} z_1, \quad u_2 = \sqrt{q^*}\big(c z_1 + \sqrt{1 - c^2} z_2\big).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Literal

import torch

from initconv._activations import ActivationSpec
from initconv._meanfield.gaussian import (
    Q_TOP,
    activation_context,
    checked_activation,
    cross_moment,
    cross_slope_moment,
    grid_moments,
    illinois,
    log_grid_roots,
    mean,
    resolve_for,
    second_moment,
    second_moment_slope,
    slope_mean,
    slope_moment,
)
from initconv._meanfield.slopes import Phi
from initconv._meanfield.variance_map import FixedPoint, extend_up, fixed
from initconv._validate import check_nonnegative, check_real, check_squarable

__all__ = ["CorrelationMap", "Phase", "correlation_map", "correlation_step"]

Phase = Literal["ordered", "critical", "chaotic"]

# chi_1 this close to 1 is the critical line: the 1-d quadrature behind it is exact to ~1e-12.
_CRITICAL = 1e-9
# Fixed points are searched for on q in [2^-24, 2^12] (see initconv.critical).
_GRID = [2.0**k for k in range(-24, 13, 2)]
# The lowest q a fixed point without bias is sought at (see _settled).
_Q_BOTTOM = 2.0**-40
# The least start of a signal (q0) the map is followed from.
_Q0_LEAST = 2.0**-68


# Above this q the two-dimensional moments (C(c), c*, chi_c) are not resolved: the fixed grid of
# gaussian.cross_moment steps over features of width 1 / sqrt(q). Against erf's arcsine kernel
# (Williams, 1997) at c = 0.5 and 0.99 its error is 3e-10 at q = 2^12, 4e-8 at 2^14, 1e-5 at 2^16
# and 2e-4 from 2^20 on; chi_c, an integral of two slope spikes, is off by 1% at 2^16 (tanh).
_PAIRS_RESOLVED = 2.0**12
# The two-dimensional moments are trusted where, at c = 1 (u1 = u2), their slope moment agrees
# with the one-dimensional chi_1 to 1%: kinks away from 0 leave them 1e-3 off at q ~ 1 (hardtanh,
# relu6, hardswish), more as q grows (hardtanh: 7% at q = 100), and a bump of phi narrower than
# their nodes is missed whole.
_PAIRS_AGREE = 1e-2
# c* nearer 1 than this is not told from 1 where the two-dimensional moments carry a kink's error
# (1e-3, the accuracy stated for activations with a kink away from 0).
_C_STAR_RESOLVED = 1e-3
# C(0) at most this is c* = 0: the one-dimensional mean behind it is exact to ~1e-12 of phi's
# size, so an odd activation's C(0) is ~1e-24, not 0.
_C_STAR_ZERO = 1e-20


def _warn_unresolved(what: str, q: float, consequence: str, level: int) -> None:
    warnings.warn(
        f"{what}: q = {q:.6g} is above 2^12, where the two-dimensional Gaussian moments of the "
        f"correlation map are not resolved (errors of 1e-5 to 1e-2 and more), so {consequence}",
        RuntimeWarning,
        stacklevel=level,
    )


@dataclasses.dataclass(frozen=True)
class CorrelationMap(FixedPoint):
    r"""Where an activation at :math:`(\sigma_w, \sigma_b)` puts a deep plain network.

    A :class:`FixedPoint` (``activation``, ``weight_std``, ``bias_std``, ``q_star``,
    ``variance_slope``) whose ``q_star`` is the fixed point that a signal of second moment ``q0``
    settles at (0 or ``inf`` where it vanishes or grows without one, sought down to
    :math:`2^{-40}` without a bias, the maps then evaluated at :math:`q = 2^{-24}` for a signal
    that vanishes, and for one that grows at :math:`2^{12}` or ``q0``, whichever is larger;
    every :math:`q` is a fixed point of relu at :math:`\sigma_w^2 = 2` without bias, and ``q0``
    is reported wherever :math:`M(q)/q` is within the critical band's :math:`10^{-9}` of 1 on the
    whole grid), and:

    Attributes:
        chi_1: :math:`\sigma_w^2\, \mathbb{E}[\phi'(\sqrt{q^*} z)^2]`, the slope of the correlation
            map at :math:`c = 1`: nearby inputs separate by this factor per layer.
        c_star: the stable fixed point of the correlation map: 1 in the ordered phase and on the
            critical line, below 1 in the chaotic one; NaN, with a warning, where the
            two-dimensional moments do not resolve it (above :math:`q = 2^{12}`, where they
            miss chi_1 at c = 1 by more than 1%, or, beside a kink away from 0, where it lies
            nearer 1 than their miss at c = 1 lets them tell: 16 times that miss over
            :math:`\chi_1 - 1`, which the warning states, wherever that is more than 1e-3, so
            further from 1 near the critical line, e.g. 0.0124 for hardtanh at 1.003 times its
            critical sigma_w with sigma_b = 0.1), and then so are ``chi_c`` and ``depth_c``.
        chi_c: :math:`\sigma_w^2\, \mathbb{E}[\phi'(u_1)\phi'(u_2)]` at :math:`c^*`, the
            correlation map's slope there (:math:`\chi_1` where :math:`c^* = 1`).
        depth_q: :math:`\xi_q = -1/\ln |M'(q^*)|`, the layers over which a deviation of the
            second moment from :math:`q^*` shrinks by e (``inf`` where it does not shrink, 0 where
            :math:`M'(q^*) = 0`, as at :math:`\sigma_w = 0`: it is forgotten in one layer).
        depth_c: :math:`\xi_c = -1/\ln |\chi_c|`, the same for the correlation (``inf`` on the
            critical line: correlations travel arbitrarily deep; 0 where :math:`\chi_c = 0`).
        phase: ``"ordered"`` (:math:`\chi_1 < 1`: all inputs converge to one), ``"chaotic"``
            (:math:`\chi_1 > 1`: nearby inputs decorrelate) or ``"critical"`` (:math:`\chi_1 = 1`).
    """

    chi_1: float
    c_star: float
    chi_c: float
    depth_q: float
    depth_c: float
    phase: Phase

    def __str__(self) -> str:
        return (
            f"{self.activation} at sigma_w {fixed(self.weight_std, 4)}, sigma_b {self.bias_std:.4g}: "
            f"q* = {self.q_star:.4g}, chi_1 = {self.chi_1:.4f}, c* = {self.c_star:.4f}, "
            f"xi_q = {self.depth_q:.4g}, xi_c = {self.depth_c:.4g}, {self.phase}"
        )


def _depth(slope: float) -> float:
    # A deviation is multiplied by the slope s every layer, so after l layers it is |s|^l times
    # itself, e^(-l / xi) with xi = -1 / ln|s| (a negative s alternates its sign on the way).
    # |s| within rounding of 1 (relu at sqrt 2) keeps deviations: the scale is infinite. s = 0
    # (sigma_w = 0) forgets them in one layer: the limit of -1 / ln|s| as s -> 0 is 0.
    size = abs(slope)
    if size == 0.0:
        return 0.0
    return math.inf if size >= 1 - _CRITICAL else -1.0 / math.log(size)


def _settled(phi: Phi, sigma_w2: float, sigma_b2: float, q0: float, parameters: str) -> float:
    """The fixed point that the variance map carries ``q0`` to: the next root in the direction
    it moves (0 or inf where there is none)."""

    def excess(q: float) -> float:
        moment = sigma_w2 * second_moment(phi, q) + sigma_b2
        return math.log(moment / q) if moment > 0 else -math.inf

    grid = list(_GRID)
    values = [excess(q) for q in grid]
    if max(abs(value) for value in values) < _CRITICAL:
        # M(q) = q everywhere (relu at sigma_w^2 = 2, linear at 1), to the band that calls such a
        # chi_1 critical: a map just outside it has its fixed point (a tiny bias, felt only at
        # the grid's bottom, must not bring it inside).
        return q0
    if not _Q0_LEAST <= q0 <= Q_TOP:
        # Below 2^-68 the moments of an activation that is x^2 or steeper near 0 underflow.
        raise ValueError(
            f"q0 must be at most 2^68 = {Q_TOP:.6g} and at least 2^-68 = {_Q0_LEAST:.6g}, where the "
            f"variance map's Gaussian moments are computed, got {q0!r}"
        )
    # A root within rounding of q0 is q0's own fixed point, whichever way the rounding points.
    near = 1e-9 * q0
    # Down to q0 at least: a signal starting below the grid settles at a root near it (tanh
    # just above sigma_w = 1 without bias, at q* ~ 1e-8), which the grid must bracket, and that
    # root may lie within rounding below q0.
    while grid[0] > q0 - near:
        grid.insert(0, max(grid[0] / 2.0**16, q0 - near))
        values.insert(0, excess(grid[0]))
    # Down to sigma_b^2: M(q) >= sigma_b^2, so every fixed point is at least sigma_b^2, and at
    # sigma_b^2 the excess is >= 0 (a signal fading below 2^-24 with a bias settles, not at 0).
    # At most 2^16-fold steps: near 0 phi is its tangent line, so M is linear there, one root.
    while values[0] < 0 and grid[0] > sigma_b2 > 0:
        grid.insert(0, max(grid[0] / 2.0**16, sigma_b2))
        values.insert(0, excess(grid[0]))
    # Without a bias, down to 2^-40: tanh just past sigma_w = 1 settles at q* ~ sigma_w - 1 (1e-9
    # at 1 + 1e-9), which q = 0, the unstable fixed point there, must not stand in for. Below
    # 2^-40 the moments' 1e-12 no longer tell M(q) / q from 1, and such a sigma_w is critical.
    while values[0] < 0 and sigma_b2 == 0 and grid[0] > _Q_BOTTOM:
        grid.insert(0, max(grid[0] / 2.0**16, _Q_BOTTOM))
        values.insert(0, excess(grid[0]))
    # Up to q0 at least, then on while the signal still grows (extend_up: where the fixed point
    # of a bounded activation can lie).
    while grid[-1] < q0:
        grid.append(min(grid[-1] * 16, Q_TOP))
        values.append(excess(grid[-1]))
    extend_up(excess, grid, values, lambda q: sigma_w2 * second_moment(phi, q) / q, parameters)
    roots = log_grid_roots(excess, grid, values)
    start = excess(q0)
    if abs(start) < 1e-12:
        return q0
    if start > 0:
        above = [q for q in roots if q > q0 - near]
        return min(above) if above else math.inf
    below = [q for q in roots if q < q0 + near]
    return max(below) if below else 0.0


def _limit(q: float) -> float:
    """Where the maps are evaluated for a signal that vanishes or grows: the grid's end."""
    return _GRID[0] if q == 0.0 else _GRID[-1] if math.isinf(q) else q


def _c_star(
    phi: Phi,
    sigma_w2: float,
    sigma_b2: float,
    q: float,
    chi_1: float,
    on_grid: tuple[float, float, float],
    parameters: str,
) -> float:
    """The stable fixed point of the correlation map in the chaotic phase: the root of
    C(c) = c below 1, by Illinois on [0, 1) (C(0) >= 0 and C(c) < c just below 1); NaN, with a
    warning, where the two-dimensional moments do not resolve the activation (their chi_1 at
    c = 1 is off the one-dimensional one) or cannot tell c* from 1.

    C is convex in c with C(1) = 1 and C'(1) = chi_1, so just below 1 its gap to c is about
    -(chi_1 - 1)(1 - c), which the grid's own error can swamp: a kink away from 0 (tanh(x) +
    0.1 |x - 0.3|) puts C(1) 1e-6 off, ten times that gap at 1 - 1e-6, and the gap's sign there
    would say c* is 1. The grid's misses at c = 1, where u1 = u2 and the cross moment is the
    one-dimensional E[phi(u)^2], and at c = 0, where it is E[phi(u)]^2, are measured and taken off
    (linearly in between: exact at both ends), and the bracket's top is put where the linear gap
    is 16 times the miss at 1: near 1 the miss changes little with c. A c* above a top
    farther than 1e-3 from 1 (the accuracy stated for such activations) is not resolved.
    ``on_grid`` is :func:`grid_moments` at ``q``.
    """
    # At c = 0 the cross moment is E[phi(u)]^2, one-dimensional: an odd activation without bias
    # has c* = 0 exactly, whatever the grid resolves (to the mean's 1e-12 of phi's size).
    average = mean(phi, q)
    fa = (sigma_w2 * average * average + sigma_b2) / q
    if fa <= _C_STAR_ZERO:
        return 0.0
    mean_on_grid, square_on_grid, slope_on_grid = on_grid
    off = sigma_w2 * slope_on_grid / chi_1 - 1
    if not abs(off) <= _PAIRS_AGREE:
        warnings.warn(
            f"the chaotic phase of {parameters}: the two-dimensional moments give chi_1 "
            f"{100 * off:+.3g}% off the one-dimensional {chi_1:.6g} at c = 1, where they must "
            f"agree: this activation has a kink or a narrow feature their grid does not resolve "
            f"at q = {q:.6g}, so c*, chi_c and depth_c are NaN",
            RuntimeWarning,
            stacklevel=4,
        )
        return math.nan
    miss = sigma_w2 * (square_on_grid - second_moment(phi, q)) / q
    miss_at_zero = sigma_w2 * (mean_on_grid**2 - average**2) / q

    def gap(c: float) -> float:
        grid = (sigma_w2 * cross_moment(phi, q, c) + sigma_b2) / q
        return grid - c - (miss_at_zero * (1 - c) + miss * c)

    depth = max(1e-6, 16 * abs(miss) / (chi_1 - 1))
    a, b = 0.0, 1.0 - depth
    fb = gap(b)
    if fb >= 0:  # c* is within depth of 1: resolved where depth is
        if depth <= _C_STAR_RESOLVED:
            return b
        warnings.warn(
            f"the chaotic phase of {parameters}: the two-dimensional moments miss C(1) = 1 by "
            f"{miss:.3g} for this activation (a kink or a narrow feature away from 0), and at "
            f"chi_1 = {chi_1:.6g} that leaves c* within about {depth:.3g} of 1, too near to "
            "resolve, so c*, chi_c and depth_c are NaN",
            RuntimeWarning,
            stacklevel=4,
        )
        return math.nan
    return illinois(gap, a, b, fa, fb, x_tol=1e-12, f_tol=1e-13, iterations=60)


def _stds(gain: float, weight_std: float | None, bias_std: float) -> tuple[float, float]:
    """``(sigma_w, sigma_b)`` checked: ``sigma_w`` the activation's gain when ``None``, and each
    a std whose square is a float64."""
    sigma_w = (
        gain
        if weight_std is None
        else check_squarable("weight_std", check_nonnegative("weight_std", weight_std))
    )
    return sigma_w, check_squarable("bias_std", check_real("bias_std", bias_std, minimum=0.0))


def correlation_map(
    activation: ActivationSpec,
    weight_std: float | None = None,
    bias_std: float = 0.0,
    *,
    q0: float = 1.0,
) -> CorrelationMap:
    r"""The phase of a deep plain network of ``activation`` at :math:`(\sigma_w, \sigma_b)`: its
    variance fixed point, :math:`\chi_1`, the correlation fixed point and the depth scales.

    Schoenholz, S. et al. (2017), "Deep information propagation": the variance map
    :math:`M(q) = \sigma_w^2 \mathbb{E}[\phi(\sqrt{q} z)^2] + \sigma_b^2` carries a signal of
    second moment ``q0`` to a fixed point :math:`q^*`; there

    .. math::
        \chi_1 = \sigma_w^2\, \mathbb{E}[\phi'(\sqrt{q^*} z)^2], \qquad
        \xi_q^{-1} = -\ln |M'(q^*)|, \qquad \xi_c^{-1} = -\ln |\chi_c|,

    with :math:`\chi_c = \sigma_w^2 \mathbb{E}[\phi'(u_1)\phi'(u_2)]` at the correlation map's
    stable fixed point :math:`c^*` (1 when :math:`\chi_1 \le 1`). :math:`\chi_1 < 1` is the ordered
    phase, :math:`\chi_1 > 1` the chaotic one, :math:`\chi_1 = 1` the critical line
    (:func:`initconv.critical` finds it). One-dimensional expectations are exact to ~1e-12; the
    correlation map's two-dimensional ones to ~1e-14 for smooth activations, ~3e-8 at a kink at 0,
    and only ~1e-3 where a kink lies away from 0 (hardtanh, relu6, hardswish: their chaotic
    phase's c* and chi_c carry that error, chi_c once the grid's miss of chi_1 at c = 1 is
    divided out; depth_c = -1/ln chi_c carries it over |ln chi_c|, 7% at chi_c = 0.986). Where
    their chi_1 at c = 1 is more than 1% off the one-dimensional one (a kink at large q, a feature
    of phi narrower than their nodes), c*, chi_c and depth_c are NaN with a warning; where c* = 0
    (an odd activation without bias) they come from one-dimensional moments.

    Args:
        activation: a name, an ``nn.Module`` class or instance, or an elementwise callable.
        weight_std: :math:`\sigma_w`; :func:`initconv.gain` of the activation when ``None``.
        bias_std: :math:`\sigma_b \ge 0`.
        q0: the second moment the signal starts at (the first layer's pre-activations), in
            :math:`[2^{-68}, 2^{68}]`.

    Returns:
        A :class:`CorrelationMap`.

    Examples:
        >>> from initconv import critical
        >>> point = critical("tanh", bias_std=0.0316)  # sigma_w = 1.090457: 1.0905 is chaotic
        >>> result = correlation_map("tanh", point.weight_std, 0.0316)
        >>> result.phase, round(result.chi_1, 3)
        ('critical', 1.0)
        >>> correlation_map("relu", 2**0.5).phase
        'critical'
    """
    resolved = resolve_for("correlation_map", activation)
    sigma_w, sigma_b = _stds(resolved.gain, weight_std, bias_std)
    start = check_real("q0", q0, positive=True)
    with checked_activation(resolved.name, resolved.phi, resolved.builtin) as (phi, scale):
        # k phi at sigma_w is phi at k sigma_w: every answer but sigma_w itself is the same.
        parameters = f"weight_std={sigma_w!r}, bias_std={sigma_b!r}"
        found = _correlation_map(resolved.name, phi, sigma_w * scale, sigma_b, start, parameters)
    return dataclasses.replace(found, weight_std=sigma_w)


def _correlation_map(
    name: str, phi: Phi, sigma_w: float, sigma_b: float, start: float, parameters: str
) -> CorrelationMap:
    sigma_w2, sigma_b2 = sigma_w**2, sigma_b**2
    q_star = _settled(phi, sigma_w2, sigma_b2, start, parameters)
    # A growing signal is evaluated at the grid's top or, where it starts above that, at its
    # start: never at a q it has already left (x|x| grown from 1e4 is chaotic, not ordered as at
    # 2^12).
    q = max(_limit(q_star), start) if math.isinf(q_star) else _limit(q_star)
    with torch.no_grad():
        at_zero = float(phi(torch.zeros(1, dtype=torch.float64, device="cpu"))[0])
    if q_star == 0.0 and at_zero == 0.0:
        # A signal fading to 0 (tanh at sigma_w <= 1 without bias): the maps' limits at q = 0,
        # where M'(0) = chi_1 = sigma_w^2 (phi'(0-)^2 + phi'(0+)^2) / 2, the mean of the
        # one-sided slopes squared (autograd's slope at a kink is only one of them).
        chi_1 = slope = sigma_w2 * slope_moment(phi, 0.0)
    else:
        chi_1 = sigma_w2 * slope_moment(phi, q)
        slope = sigma_w2 * second_moment_slope(phi, q)
    if chi_1 > 1 + _CRITICAL and q > _PAIRS_RESOLVED:
        # Chaotic at a q* the two-dimensional moments behind c* and chi_c do not resolve.
        _warn_unresolved(
            f"the chaotic phase of {parameters}", q, "c*, chi_c and depth_c are NaN", level=4
        )
        c_star = chi_c = math.nan
    elif chi_1 - 1 <= _CRITICAL:
        c_star, chi_c = 1.0, chi_1
    else:
        on_grid = grid_moments(phi, q)
        c_star = _c_star(phi, sigma_w2, sigma_b2, q, chi_1, on_grid, parameters)
        if math.isnan(c_star):
            chi_c = math.nan
        elif c_star == 0.0:
            chi_c = sigma_w2 * slope_mean(phi, q) ** 2
        else:
            # The grid misses chi_c by about the share it misses chi_1 by at c = 1, where the
            # one-dimensional quadrature knows it (a kink away from 0: hardtanh and relu6 at
            # 3e-3 to 8e-3 off the bivariate normal's exact value, within 7e-4 once divided out).
            chi_c = chi_1 * cross_slope_moment(phi, q, c_star) / on_grid[2]
    if abs(chi_1 - 1) <= _CRITICAL:
        phase: Phase = "critical"
    else:
        phase = "ordered" if chi_1 < 1 else "chaotic"
    depth_c = math.inf if phase == "critical" else _depth(chi_c) if chi_c == chi_c else math.nan
    return CorrelationMap(
        name,
        sigma_w,
        sigma_b,
        q_star,
        slope,
        chi_1,
        c_star,
        chi_c,
        _depth(slope),
        depth_c,
        phase,
    )


def correlation_step(
    activation: ActivationSpec,
    c: float,
    weight_std: float | None = None,
    bias_std: float = 0.0,
    *,
    q: float | None = None,
) -> float:
    r"""One layer of the correlation map: :math:`C(c)` at second moment ``q`` (the fixed point
    :math:`q^*` of :func:`correlation_map` when ``None``).

    .. math::
        C(c) = \frac{\sigma_w^2\, \mathbb{E}[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q}.

    Examples:
        >>> round(correlation_step("relu", 0.0, 2**0.5), 6)  # 1 / pi, the arc-cosine kernel
        0.31831
    """
    resolved = resolve_for("correlation_step", activation)
    sigma_w, sigma_b = _stds(resolved.gain, weight_std, bias_std)
    value = check_real("c", c)
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"c must be a correlation in [-1, 1], got {c!r}")
    with activation_context(resolved.name, resolved.phi, resolved.builtin) as (phi, scale):
        w2 = (sigma_w * scale) ** 2
        if q is None:
            parameters = f"weight_std={sigma_w!r}, bias_std={sigma_b!r}"
            q = _limit(_settled(phi, w2, sigma_b**2, 1.0, parameters))
            what = f"C(c) at the fixed point of {parameters}"
        else:
            what = f"C(c) at q={q!r}"
        moment = check_real("q", q, positive=True)
        if moment > _PAIRS_RESOLVED:
            _warn_unresolved(what, moment, "the value returned may be off by as much", level=3)
        return (w2 * cross_moment(phi, moment, value) + sigma_b**2) / moment
