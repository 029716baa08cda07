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

import dataclasses
import functools
import math
import threading

import torch

from initconv._activations import ActivationSpec, Resolved, resolve
from initconv._meanfield.gaussian import (
    Phi,
    derivative,
    log_grid_roots,
    root_log,
    second_moment,
    second_moment_slope,
    slope_moment,
)
from initconv._meanfield.variance_map import FixedPoint
from initconv._validate import check_real

__all__ = ["CriticalPoint", "critical"]

# Where the line is searched: q* in [2^-24, 2^12], every 2 octaves, then refined. Above it the
# slope phi'(sqrt(q) z) of a saturating activation is a spike narrower than the quadrature's
# first panels resolve, and no network of unit-scale inputs lives there.
_GRID = [2.0**k for k in range(-24, 13, 2)]
# A variance-map slope this close to 1 is 1 (the quadrature is good to ~1e-12).
_MARGINAL = 1e-9


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
            f"{self.activation} at bias_std {self.bias_std:.4g}: weight_std {self.weight_std:.6f}"
            f" (sigma_w^2 = {self.weight_std**2:.6f}), q* = {self.q_star:.6g}, "
            f"M'(q*) = {self.variance_slope:.4f}"
        )


def _line(phi: Phi, q: float) -> tuple[float, float]:
    r"""(:math:`\sigma_w^2`, :math:`\sigma_w^2 \mathbb{E}[\phi^2]`) on the line at :math:`q`."""
    slope = slope_moment(phi, q)
    if not slope > 0:
        return math.inf, math.inf
    sigma_w2 = 1.0 / slope
    return sigma_w2, sigma_w2 * second_moment(phi, q)


def _slope(phi: Phi, q: float) -> float:
    return second_moment_slope(phi, q) / slope_moment(phi, q)


def _candidates(phi: Phi, sigma_b2: float) -> list[float]:
    """Every q* > 0 on the grid's range where the line meets the variance map's fixed points."""

    def excess(q: float) -> float:
        moment = _line(phi, q)[1] + sigma_b2
        return math.log(moment / q) if moment > 0 else -math.inf

    return log_grid_roots(excess, _GRID)


def _is_homogeneous(phi: Phi) -> bool:
    """Positively homogeneous (relu, leaky relu, linear): E[phi^2] / E[phi'^2] = q for every q."""
    return all(abs(_line(phi, q)[1] / q - 1) < 1e-9 for q in (2.0**-8, 1.0, 2.0**8))


def _stable_from(phi: Phi) -> float | None:
    """The least sigma_b at which the line's fixed point is stable, where the slope crosses 1
    once going up the line; ``None`` if it never does on the grid."""
    slopes = [_slope(phi, q) - 1 for q in _GRID]
    for i in range(len(_GRID) - 1, 0, -1):
        if slopes[i] <= 0 < slopes[i - 1]:
            q = root_log(lambda q: _slope(phi, q) - 1, _GRID[i - 1], _GRID[i])
            sigma_b2 = q - _line(phi, q)[1]
            return math.sqrt(max(sigma_b2, 0.0))
    return None


def _no_point(name: str, bias_std: float, why: str) -> ValueError:
    return ValueError(f"activation {name!r} has no critical point at bias_std={bias_std!r}: {why}")


# Solved points by (activation, bias_std): a layer asks on every construction and reset. Names and
# modules key by their canonical name; a plain callable keys by itself.
_SOLVED: dict[tuple[object, float], CriticalPoint] = {}
_SOLVED_LOCK = threading.Lock()


def _critical(name: str, phi: Phi, bias_std: float) -> CriticalPoint:
    if bias_std >= math.sqrt(_GRID[-1]):
        # sigma_b^2 = q* - E[phi^2] / E[phi'^2] <= q*, so a larger bias has no point on the grid.
        raise _no_point(
            name,
            bias_std,
            f"sigma_b^2 = q* - E[phi^2] / E[phi'^2] is at most q*, and q* is sought in "
            f"[2^-24, 2^12], so bias_std must be below {math.sqrt(_GRID[-1]):g}",
        )
    sigma_b2 = bias_std**2
    if _is_homogeneous(phi):
        sigma_w2 = _line(phi, 1.0)[0]
        if sigma_b2 > 0:
            raise _no_point(
                name,
                bias_std,
                f"it is positively homogeneous, so chi_1 = 1 needs sigma_w^2 = {sigma_w2:.6g} "
                "at every q, where the variance map is q + sigma_b^2 and has no fixed point (q "
                "grows by sigma_b^2 every layer); its one critical point is bias_std=0",
            )
        # Every q is a fixed point there: report the unit second moment.
        return CriticalPoint(name, math.sqrt(sigma_w2), 0.0, 1.0, 1.0)
    found = [(q, _slope(phi, q)) for q in _candidates(phi, sigma_b2)]
    zero = torch.zeros(1, dtype=torch.float64)
    slope_at_0 = float(derivative(phi, zero)[0])
    if sigma_b2 == 0 and float(phi(zero)[0]) == 0 and slope_at_0 != 0:
        # The line's end: q* -> 0, chi_1 = sigma_w^2 phi'(0)^2 (tanh: sigma_w = 1).
        found.append((0.0, _slope(phi, _GRID[0])))
    stable = [(q, slope) for q, slope in found if slope <= 1 + _MARGINAL]
    if not stable:
        return _unstable(name, phi, bias_std, found)
    q_star, slope = min(stable, key=lambda pair: abs(math.log(pair[0])) if pair[0] else math.inf)
    sigma_w2 = 1 / slope_at_0**2 if q_star == 0 else _line(phi, q_star)[0]
    return CriticalPoint(name, math.sqrt(sigma_w2), bias_std, q_star, slope)


def _unstable(
    name: str, phi: Phi, bias_std: float, found: list[tuple[float, float]]
) -> CriticalPoint:
    if not found:
        raise _no_point(
            name,
            bias_std,
            "no sigma_w makes chi_1 = 1 at a fixed point of the variance map for q* in "
            "[2^-24, 2^12]",
        )
    points = ", ".join(f"q* = {q:.4g} with M'(q*) = {slope:.6f}" for q, slope in found)
    least = _stable_from(phi)
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

    solved for :math:`q^*` by quadrature. Of several solutions, those where the variance map is
    stable (:math:`M'(q^*) \le 1`, so a deep stack returns to :math:`q^*`) count, and the one
    nearest to :math:`q^* = 1` is returned. At :math:`\sigma_b = 0` the line ends at
    :math:`q^* \to 0`, :math:`\sigma_w = 1/|\phi'(0)|` (tanh: 1, Xiao et al. (2018)); a positively
    homogeneous activation (relu: :math:`\sigma_w^2 = 2`) is critical at every :math:`q` there,
    and nowhere with a bias.

    Args:
        activation: a name, an ``nn.Module`` class or instance, or an elementwise callable.
        bias_std: :math:`\sigma_b \ge 0`.

    Returns:
        A :class:`CriticalPoint`.

    Raises:
        ValueError: where ``activation`` has no stable critical point at ``bias_std``, saying
            why (gelu and silu need a large bias: their line is unstable at small :math:`q^*`).

    Examples:
        >>> point = critical("tanh", bias_std=0.05)
        >>> round(point.weight_std, 4), round(point.q_star, 4)
        (1.1536, 0.1685)
        >>> critical("relu").weight_std ** 2
        2.0000000000000004
    """
    return solve(resolve(activation), check_real("bias_std", bias_std, minimum=0.0))


def solve(activation: Resolved, bias_std: float) -> CriticalPoint:
    """:func:`critical`, solved once per (activation, bias_std)."""
    # A built-in's function is a fresh partial each time, named by its canonical name with its
    # parameters; any other callable is its own key.
    phi = activation.phi
    key = (activation.name if isinstance(phi, functools.partial) else phi, bias_std)
    with _SOLVED_LOCK:
        point = _SOLVED.get(key)
    if point is None:
        point = _critical(activation.name, phi, bias_std)
        with _SOLVED_LOCK:
            _SOLVED[key] = point
    return point
