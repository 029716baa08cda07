"""Mean-field theory of deep networks: the forward variance map of an activation at a gain."""

from __future__ import annotations

import dataclasses
import decimal
import functools
import math
from collections.abc import Callable
from typing import Literal

from initconv._activations import ActivationSpec, registered_function
from initconv._meanfield.gaussian import (
    Q_TOP,
    checked_activation,
    log_grid_roots,
    resolve_for,
    second_moment,
    second_moment_slope,
)
from initconv._meanfield.slopes import Phi
from initconv._validate import check_nonnegative, check_squarable

__all__ = ["FixedPoint", "VarianceMap", "Verdict", "extend_up", "variance_map", "verdict_of"]

Verdict = Literal["stable", "marginal", "unstable"]

# A slope this close to 1 changes a deviation by less than 1e-3 over 1000 layers; the quadrature
# behind it is exact to ~1e-12, so only a map that is linear in q (relu at sqrt 2) lands here.
_MARGINAL = 1e-6
# Fixed points are searched for on q in [2^-32, 2^32], and above it up to Q_TOP while M(q) > q
# there (extend_up); below it a signal has underflowed float32 long before.
_LOG2_Q_RANGE = 32


@dataclasses.dataclass(frozen=True)
class FixedPoint:
    r"""Where the variance map :math:`M(q) = \sigma_w^2 \mathbb{E}[\phi(\sqrt{q} z)^2] + \sigma_b^2`
    of an activation settles: the fields every mean-field answer shares.

    Attributes:
        activation: the activation's canonical name.
        weight_std: :math:`\sigma_w`, the gain: :math:`\mathrm{Var}(W) = \sigma_w^2/\text{fan\_in}`.
        bias_std: :math:`\sigma_b`.
        q_star: :math:`q^*`, the fixed point: the pre-activations' second moment there.
        variance_slope: :math:`M'(q^*)`, the slope of the variance map there: below 1 a deep stack
            returns to :math:`q^*`, every :math:`1/|\ln M'(q^*)|` layers by a factor e.
    """

    activation: str
    weight_std: float
    bias_std: float
    q_star: float
    variance_slope: float


@dataclasses.dataclass(frozen=True)
class VarianceMap:
    r"""The forward variance map of an activation at a gain, at its fixed point.

    Attributes:
        activation: the activation's canonical name.
        gain: the gain :math:`g`.
        fixed_point: :math:`q^*`, the positive fixed point of :math:`M` nearest to 1 (0 or ``inf``
            when there is none and the signal vanishes or explodes).
        slope: :math:`M'(q^*)`; without a positive fixed point, the per-layer factor :math:`M(q)/q`
            that the signal's second moment is multiplied by on its way to 0 or ``inf``.
        verdict: ``"stable"`` (:math:`M'(q^*) < 1`: deviations shrink with depth), ``"marginal"``
            (:math:`M'(q^*) = 1`: they random-walk, so finite width drifts), ``"unstable"``
            (:math:`M'(q^*) > 1`, or no positive fixed point: the signal vanishes or explodes
            geometrically; ``"marginal"`` again where it does so only polynomially, as tanh at
            gain 1).
    """

    activation: str
    gain: float
    fixed_point: float
    slope: float
    verdict: Verdict

    def __str__(self) -> str:
        head = f"{self.activation} at gain {fixed(self.gain, 4)}: "
        if self.fixed_point in (0.0, math.inf):
            # No positive fixed point: the slope is the factor per layer, not an M'(q*).
            where = "vanishes" if self.fixed_point == 0.0 else "explodes"
            how = (
                "only polynomially (a factor 1 per layer)"
                if self.verdict == "marginal"
                else f"by a factor {self.slope:.4g} per layer"
            )
            return (
                f"{head}no fixed point, the signal {where} (q* = {self.fixed_point:g}) {how}, "
                f"{self.verdict}"
            )
        return f"{head}q* = {self.fixed_point:.4g}, M'(q*) = {self.slope:.4f}, {self.verdict}"


def fixed(value: float, decimals: int) -> str:
    """``decimals`` decimals in the usual range, as many significant digits outside it (1e-200,
    1e300, inf), where fixed decimals would print a single 0 or hundreds of digits."""
    return f"{value:.{decimals}f}" if 1e-3 <= abs(value) < 1e6 else f"{value:.{decimals}g}"


def squared(value: float, decimals: int | None = 6) -> str:
    """``value ** 2`` with ``decimals`` decimals in the usual range (else six significant
    digits), also where it is beyond float64 (1e300 squared): a printout states the square of a
    standard deviation the user can set."""
    square = value * value
    if value != 0.0 and math.isfinite(value) and (square == 0.0 or math.isinf(square)):
        return f"{decimal.Decimal(value) ** 2:.6g}"
    return f"{square:.6g}" if decimals is None else fixed(square, decimals)


def extend_up(
    excess: Callable[[float], float],
    grid: list[float],
    values: list[float],
    ratio: Callable[[float], float],
    parameters: str,
) -> None:
    r"""Extend ``grid`` (and ``excess`` on it, ``values``) upward, 16-fold a step up to
    :data:`Q_TOP`, while the excess :math:`\log(M(q)/q)` at its top is positive: the signal still
    grows there, so a fixed point may lie above.

    Where one can lie: :math:`q^* = M(q^*) = \sigma_w^2 \mathbb{E}[\phi(\sqrt{q^*} z)^2] +
    \sigma_b^2`, so for a bounded activation, :math:`|\phi| \le B`, every fixed point is at most
    :math:`\sigma_w^2 B^2 + \sigma_b^2`, and above that :math:`M(q) \le \sigma_w^2 B^2 +
    \sigma_b^2 < q`: the excess is negative, and the extension stops within a step of the bound
    (tanh at :math:`\sigma_w = 1, \sigma_b = 100`: :math:`q^* \le 10001`, above the fixed grid's
    :math:`2^{12}`). An activation growing like :math:`|x|` (relu, gelu, softplus) has
    :math:`r(q) = \sigma_w^2 \mathbb{E}[\phi^2]/q`, ``ratio``, tending to a constant: where it
    stays at least 1, :math:`M(q)/q = r(q) + \sigma_b^2/q > 1` at every larger :math:`q` and the
    signal grows without a fixed point. Still positive at :data:`Q_TOP` (:math:`2^{68}`)
    otherwise (:math:`r` below 1, or falling so fast that it may reach 1 before
    :math:`2^{4000}`), the fixed point may lie beyond what is computed: a ValueError naming
    ``parameters``.
    """
    while values[-1] > 0 and grid[-1] < Q_TOP:
        q = min(grid[-1] * 16, Q_TOP)
        grid.append(q)
        values.append(excess(q))
    if values[-1] > 0:
        now, before = ratio(grid[-1]), ratio(grid[-2])
        # Falling by before - now per 16-fold step, r stays above 1 for 1000 more steps at least.
        if not (now >= 1 - 1e-9 and now - 1 + 1e-9 >= 1e3 * (before - now)):
            raise ValueError(
                f"{parameters}: the variance map M(q) stays above q up to q = 2^68, and M(q) / q "
                f"without the bias is not settled at 1 or above there ({before:.6g} at 2^64, "
                f"{now:.6g} at 2^68), so its fixed point lies above q = 2^68, where the Gaussian "
                "moments are not computed (a bounded activation's q* is at most sigma_w^2 "
                "sup phi^2 + sigma_b^2): use a smaller one"
            )


def _slope(phi: Phi, gain: float, q: float) -> float:
    return gain**2 * second_moment_slope(phi, q)


def variance_map(activation: ActivationSpec, gain: float | None = None) -> VarianceMap:
    r"""The fixed point of the forward variance map of ``activation`` at ``gain``, and its slope.

    Mean-field theory of deep networks ("Exponential expressivity in deep neural networks through
    transient chaos" - Poole, B. et al. (2016); "Deep information propagation" - Schoenholz, S. et
    al. (2017)): with :math:`\mathrm{Var}(W) = g^2 / \text{fan\_in}` and no bias, a pre-activation of
    second moment :math:`q` gives the next one the second moment

    .. math::
        M(q) = g^2\, \mathbb{E}_{z \sim \mathcal{N}(0, 1)}\big[\phi(\sqrt{q}\, z)^2\big], \qquad
        M'(q) = \frac{g^2}{\sqrt{q}}\, \mathbb{E}\big[\phi(\sqrt{q}\, z)\, \phi'(\sqrt{q}\, z)\, z\big].

    A deep plain stack settles at a fixed point :math:`q^* = M(q^*)` when :math:`M'(q^*) < 1`;
    at :math:`M'(q^*) > 1` every deviation from it grows by that factor per layer. The gain initconv
    derives for an activation makes :math:`q^* = 1`, but only the slope decides whether it holds:
    stable for tanh, elu, selu, softplus and sigmoid, marginal for relu, unstable for gelu, silu,
    mish and hardswish, where no gain helps and data calibration (:func:`initconv.lsuv_`) or
    normalisation does.

    Args:
        activation: a name, an ``nn.Module`` class or instance, or an elementwise callable.
        gain: the gain; :func:`initconv.gain` of the activation when ``None``.

    Returns:
        A :class:`VarianceMap` with ``fixed_point``, ``slope`` and ``verdict``.

    Examples:
        >>> result = variance_map("gelu")
        >>> round(result.fixed_point, 6), round(result.slope, 3), result.verdict
        (1.0, 1.144, 'unstable')
        >>> variance_map("tanh").verdict
        'stable'
    """
    resolved = resolve_for("variance_map", activation)
    g = resolved.gain if gain is None else check_squarable("gain", check_nonnegative("gain", gain))
    with checked_activation(resolved.name, resolved.phi, resolved.builtin) as (phi, scale):
        # k phi at gain g is phi at gain k g.
        return dataclasses.replace(_variance_map(resolved.name, phi, g * scale), gain=g)


def _variance_map(name: str, phi: Phi, g: float) -> VarianceMap:

    def excess(q: float) -> float:
        # log(M(q) / q): its roots are the fixed points, its sign says which way q moves.
        moment = g * g * second_moment(phi, q)
        return math.log(moment / q) if moment > 0 else -math.inf

    grid = [2.0**k for k in range(-_LOG2_Q_RANGE, _LOG2_Q_RANGE + 1, 4)]
    values = [excess(q) for q in grid]
    extend_up(excess, grid, values, lambda q: g * g * second_moment(phi, q) / q, f"gain={g!r}")
    if max(values) - min(values) < _MARGINAL and abs(values[0]) < _MARGINAL:
        # M(q) = q for every q (relu at sqrt 2, linear at 1): every variance is a fixed point.
        return VarianceMap(name, g, 1.0, _slope(phi, g, 1.0), "marginal")
    roots = log_grid_roots(excess, grid, values)
    if not roots:
        end = grid[0] if values[0] < 0 else grid[-1]
        factor = math.exp(excess(end))
        # tanh at gain 1 (Xiao et al. 2018's critical point without bias): q -> 0 only like 1/depth.
        drift: Verdict = "marginal" if abs(factor - 1) <= _MARGINAL else "unstable"
        return VarianceMap(name, g, 0.0 if values[0] < 0 else math.inf, factor, drift)
    q_star = min(roots, key=lambda q: abs(math.log(q)))
    slope = _slope(phi, g, q_star)
    if abs(slope - 1) <= _MARGINAL:
        verdict: Verdict = "marginal"
    else:
        verdict = "stable" if slope < 1 else "unstable"
    return VarianceMap(name, g, q_star, slope, verdict)


def verdict_of(activation: str, gain: float) -> str:
    """``variance_map(activation, gain).verdict``, or "?" where there is none; cached per name,
    gain and the function registered under the name, so that a name registered again (with
    ``overwrite=True``) is judged again."""
    return _verdict(activation, gain, registered_function(activation))


@functools.lru_cache(maxsize=256)
def _verdict(activation: str, gain: float, registered: object) -> str:
    try:
        return variance_map(activation, gain).verdict
    except (ValueError, TypeError, KeyError):
        # A canonical name with parameters (elu(alpha=0.5)) or a callable's label: not a spec.
        return "?"
