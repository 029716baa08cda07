r"""The critical line near its end, :math:`q^* \to 0`, from the activation's Taylor series at 0.

For a small bias :math:`\sigma_b` an activation with :math:`\phi(0) = 0` has its point on the line
at a tiny :math:`q^*` (tanh: :math:`q^{*3} \approx \frac{3}{4}\sigma_b^2`, so :math:`\sigma_b =
10^{-150}` puts it near :math:`10^{-100}`), far below what a quadrature of :math:`\phi` at
:math:`\sqrt{q} z` resolves: :math:`\phi(u) - \phi'(0) u` is lost to rounding there. What decides
the point is the behaviour of :math:`\phi` at 0, which autograd gives exactly: the one-sided Taylor
coefficients :math:`a^\pm_k = \phi^{(k)}(0^\pm)/k!`. On each half-line the moments of
:math:`u = \sqrt{q} z` are :math:`\mathbb{E}[u^n; \pm u > 0] = (\pm 1)^n q^{n/2} M_n / 2`, with
:math:`M_n = \mathbb{E}|z|^n = 2^{n/2} \Gamma(\frac{n+1}{2}) / \sqrt{\pi}`, so

.. math::
    G(q) = \mathbb{E}[\phi'(u)^2]
      = \frac12 \sum_\pm \sum_{j,k \ge 1} j k\, a_j a_k (\pm 1)^{j+k} M_{j+k-2}\, q^{(j+k-2)/2},
    \qquad
    D(q) = q G(q) - \mathbb{E}[\phi(u)^2]
      = \frac12 \sum_\pm \sum_{j,k \ge 2} (j-1)(k-1)\, a_j a_k (\pm 1)^{j+k} M_{j+k-2}\,
        q^{(j+k)/2}

(the terms with :math:`j = 1` or :math:`k = 1` cancel exactly: :math:`M_{n+1} = n M_{n-1}`), and
the line's fixed point solves :math:`D(q^*) = \sigma_b^2 G(q^*)`, with :math:`\sigma_w^2 =
1/G(q^*)`. With coefficients up to :data:`ORDER`, :math:`G` is complete to
:math:`q^{(\text{ORDER}-1)/2}` and :math:`D` to :math:`q^{(\text{ORDER}+2)/2}`: tanh's
:math:`D = \frac43 q^3 + O(q^4)` is then known to :math:`O(q^2)` relative, a kinked activation's
(selu: :math:`D \propto q^2`) to :math:`O(q^{2.5})`. The series is used only below the quadrature's
range (:math:`q < 2^{-24}`), and only after it agrees with the quadrature there: an activation that
is not its Taylor series near 0 (a breakpoint close to 0) is refused, not solved wrongly.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from initconv._maths.quadrature import on_cpu
from initconv._meanfield.gaussian import illinois
from initconv._meanfield.slopes import Phi

__all__: list[str] = []

ORDER = 6
"""The highest Taylor coefficient taken at each side of 0."""

# Autograd's one-sided derivatives are taken at +-2^-100, as gaussian.one_sided_slopes' are.
_SIDE = 2.0**-100


def _absolute_moment(n: int) -> float:
    """E|z|^n for z ~ N(0, 1)."""
    return math.pow(2.0, n / 2) * math.gamma((n + 1) / 2) / math.sqrt(math.pi)


@dataclasses.dataclass(frozen=True)
class Series:
    r""":math:`G`, :math:`D` and :math:`F' = d\mathbb{E}[\phi^2]/dq` as sums of
    ``coefficient * q**power``, each a tuple of ``(power, coefficient)`` by increasing power."""

    slope_moment: tuple[tuple[float, float], ...]
    deficit: tuple[tuple[float, float], ...]
    moment_slope: tuple[tuple[float, float], ...]
    # F' - G: their constant terms cancel exactly, so its sign is known where M'(q) - 1 is far
    # below float64's resolution of 1.
    slope_excess: tuple[tuple[float, float], ...]

    @staticmethod
    def _value(terms: tuple[tuple[float, float], ...], q: float) -> float:
        return math.fsum(c * float(q**p) for p, c in terms)

    def G(self, q: float) -> float:
        return self._value(self.slope_moment, q)

    def D(self, q: float) -> float:
        return self._value(self.deficit, q)

    def variance_slope(self, q: float) -> float:
        r""":math:`M'(q) = F'(q) / G(q)` on the line, where :math:`\sigma_w^2 = 1/G(q)`."""
        return self._value(self.moment_slope, q) / self.G(q)

    def variance_slope_excess(self, q: float) -> float:
        """:math:`M'(q) - 1 = (F'(q) - G(q)) / G(q)`, to full relative precision."""
        return self._value(self.slope_excess, q) / self.G(q)

    def log_deficit_excess(self, log_q: float, log_bias2: float) -> float:
        r""":math:`\log D(q) - \log(\sigma_b^2 G(q))` at :math:`q = e^{\text{log\_q}}`, with
        :math:`D` factored as :math:`q^{p_0} P(q)` so that nothing underflows; ``-inf`` where
        :math:`D \le 0`."""
        (lead, _), q = self.deficit[0], math.exp(log_q)
        rest = math.fsum(c * float(q ** (p - lead)) for p, c in self.deficit)
        g = self.G(q)
        if not (rest > 0 and g > 0):
            return -math.inf
        return lead * log_q + math.log(rest) - log_bias2 - math.log(g)


def taylor(phi: Phi) -> tuple[list[float], list[float]] | None:
    """The one-sided Taylor coefficients ``a[k] = phi^(k)(0-+) / k!``, ``k = 0..ORDER``, left and
    right, by repeated autograd; ``None`` where autograd cannot take them (an operation without
    higher derivatives)."""
    with on_cpu(), torch.enable_grad():
        x = torch.tensor([-_SIDE, _SIDE], dtype=torch.float64, device="cpu", requires_grad=True)
        try:
            value = phi(x).to(torch.float64)
            columns = [value.detach()]
            for k in range(1, ORDER + 1):
                if not value.requires_grad:
                    columns.append(torch.zeros(2, dtype=torch.float64))
                    continue
                (value,) = torch.autograd.grad(value.sum(), x, create_graph=True)
                columns.append(value.detach() / math.factorial(k))
        except (RuntimeError, ValueError, TypeError):
            return None
    left = [float(c[0]) for c in columns]
    right = [float(c[1]) for c in columns]
    if not all(math.isfinite(a) for a in left + right):
        return None
    return left, right


def series(phi: Phi) -> Series | None:
    """:class:`Series` of ``phi`` at 0 (``phi(0) = 0``), or ``None`` without its Taylor series."""
    coefficients = taylor(phi)
    if coefficients is None:
        return None
    g: dict[float, float] = {}
    d: dict[float, float] = {}
    f: dict[float, float] = {}
    for sign, a in ((-1.0, coefficients[0]), (1.0, coefficients[1])):
        for j in range(1, ORDER + 1):
            for k in range(1, ORDER + 1):
                n, product = j + k, a[j] * a[k] * sign ** (j + k) / 2
                if n <= ORDER + 1:  # complete orders only: (1, ORDER + 1) is not known
                    power = (n - 2) / 2
                    g[power] = g.get(power, 0.0) + j * k * product * _absolute_moment(n - 2)
                    f_power = n / 2
                    f[f_power - 1] = f.get(f_power - 1, 0.0) + f_power * product * _absolute_moment(
                        n
                    )
                if j >= 2 and k >= 2 and n <= ORDER + 2:
                    term = (j - 1) * (k - 1) * product * _absolute_moment(n - 2)
                    d[n / 2] = d.get(n / 2, 0.0) + term

    # A coefficient that is rounding noise of the others is dropped (an odd activation's even
    # terms, computed as a difference of equal one-sided values).
    def kept(terms: dict[float, float]) -> tuple[tuple[float, float], ...]:
        scale = max((abs(c) for c in terms.values()), default=0.0)
        return tuple(sorted((p, c) for p, c in terms.items() if abs(c) > 1e-14 * scale))

    excess = dict(f)
    for power, coefficient in g.items():
        excess[power] = excess.get(power, 0.0) - coefficient
    excess.pop(0.0, None)  # F'(0) = G(0) = (a1-^2 + a1+^2) / 2 exactly
    return Series(kept(g), kept(d), kept(f), kept(excess))


def root(line: Series, bias_std: float, below: float) -> float | None:
    r"""The :math:`q^* < \text{below}` where :math:`D(q) = \sigma_b^2 G(q)` by the series, or
    ``None`` if there is none (:math:`D \le 0` near 0, or no sign change below ``below``)."""
    if not line.deficit or line.deficit[0][1] <= 0:
        return None
    log_bias2 = 2 * math.log(bias_std)
    lead, coefficient = line.deficit[0]
    g0 = line.G(0.0)
    if not g0 > 0:
        return None
    # The leading balance q^lead = sigma_b^2 G(0) / d_lead, then a bracket around it.
    guess = (log_bias2 + math.log(g0) - math.log(coefficient)) / lead
    top = math.log(below)
    a, b = min(guess - 8.0, top - 8.0), min(guess + 8.0, top)
    fa, fb = line.log_deficit_excess(a, log_bias2), line.log_deficit_excess(b, log_bias2)
    if not (fa < 0 < fb):
        return None
    log_q = illinois(
        lambda t: line.log_deficit_excess(t, log_bias2),
        a,
        b,
        fa,
        fb,
        x_tol=1e-15,
        f_tol=1e-15,
        iterations=200,
    )
    return math.exp(log_q)


def agrees(line: Series, q: float, deficit: float, slope_moment: float) -> bool:
    r"""Whether the series is ``phi`` near 0: at ``q`` its :math:`D/(qG)` and :math:`G` match the
    quadrature's (``deficit``, ``slope_moment``) to 1e-7 relative, or :math:`D/(qG)` to the
    quadrature's own precision where it is that small."""
    g = line.G(q)
    if not (g > 0 and abs(g - slope_moment) <= 1e-7 * slope_moment):
        return False
    ours, theirs = line.D(q) / (q * g), deficit / (q * slope_moment)
    return abs(ours - theirs) <= 1e-7 * abs(theirs) + 1e-13
