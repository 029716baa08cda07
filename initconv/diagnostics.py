"""See what an initialisation does to a model: signal propagation, Jacobian spectrum, mean-field theory.

- :func:`propagation` measures, per convolution, the second moment of its output in the forward
  pass and of the gradient at its output in the backward pass.
- :func:`jacobian_spectrum` estimates the extreme singular values of the input-output Jacobian
  (dynamical isometry: all of them near 1).
- :func:`variance_map` says, from the activation and gain alone, whether a deep plain stack keeps
  its signal: the fixed point of the forward variance map and its slope there.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import io
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from initconv._activations import (
    _ALIASES,
    _FAMILIES,
    _MODULES,
    _REGISTERED,
    ActivationSpec,
    resolve,
)
from initconv._base import InitConv2d
from initconv._fans import _CONVOLUTIONS
from initconv._functional import check_gain
from initconv._quadrature import gaussian_expectation

__all__ = [
    "JacobianSpectrum",
    "PropagationRow",
    "PropagationTable",
    "VarianceMap",
    "jacobian_spectrum",
    "propagation",
    "variance_map",
]

Verdict = Literal["stable", "marginal", "unstable"]

# A slope this close to 1 changes a deviation by less than 1e-3 over 1000 layers; the quadrature
# behind it is exact to ~1e-12, so only a map that is linear in q (relu at sqrt 2) lands here.
_MARGINAL = 1e-6
# Fixed points are searched for on q in [2^-32, 2^32], where float64 quadrature still resolves
# M(q) / q; outside it a signal has under- or overflowed float32 long before.
_LOG2_Q_RANGE = 32
_CONV_TYPES = _CONVOLUTIONS


# Mean-field theory.


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
        return (
            f"{self.activation} at gain {self.gain:.4f}: q* = {self.fixed_point:.4g}, "
            f"M'(q*) = {self.slope:.4f}, {self.verdict}"
        )


def _phi(activation: ActivationSpec) -> Callable[[Tensor], Tensor]:
    """The activation as a float64 elementwise function."""
    if isinstance(activation, str):
        name = _ALIASES.get(activation, activation)
        if name in _FAMILIES:
            family = _FAMILIES[name]
            return functools.partial(family.phi, **dict(family.defaults))
        return _REGISTERED[name][0]
    if isinstance(activation, type):
        return _phi(activation())
    if isinstance(activation, nn.Module) and type(activation) in _MODULES:
        return copy.deepcopy(activation).to(torch.float64)
    return activation


def _relative_expectation(f: Callable[[Tensor], Tensor]) -> float:
    """E[f(z)] to ~1e-12 relative to f's size: the quadrature's tolerance is absolute, and M(q)
    spans many orders of magnitude over the q searched."""
    probe = torch.linspace(-8.0, 8.0, 257, dtype=torch.float64)
    scale = float(f(probe).abs().max())
    if not math.isfinite(scale) or scale == 0.0:
        scale = 1.0
    return scale * gaussian_expectation(lambda z: f(z) / scale, tol=1e-12)


def _second_moment(phi: Callable[[Tensor], Tensor], q: float) -> float:
    root = math.sqrt(q)
    return _relative_expectation(lambda z: phi(root * z).to(torch.float64) ** 2)


def _slope(phi: Callable[[Tensor], Tensor], gain: float, q: float) -> float:
    # d/dq E[phi(sqrt(q) z)^2] = E[phi(sqrt(q) z) phi'(sqrt(q) z) z] / sqrt(q).
    root = math.sqrt(q)

    def integrand(z: Tensor) -> Tensor:
        with torch.enable_grad():
            x = (root * z).requires_grad_(True)
            y = phi(x).to(torch.float64)
            (dy,) = torch.autograd.grad(y.sum(), x)
        return (y * dy * z).detach()

    return gain**2 * _relative_expectation(integrand) / root


def _root_log(excess: Callable[[float], float], lo: float, hi: float) -> float:
    """A root of ``excess`` between ``lo`` and ``hi`` (signs differ), by the Illinois variant of
    regula falsi on log q: superlinear, and never leaves the bracket."""
    a, b = math.log(lo), math.log(hi)
    fa, fb = excess(lo), excess(hi)
    c = b
    for _ in range(100):
        c = b - fb * (b - a) / (fb - fa)
        fc = excess(math.exp(c))
        if fc == 0.0 or abs(b - a) < 1e-13:
            break
        if (fc > 0) != (fb > 0):
            a, fa = b, fb
        else:
            fa /= 2
        b, fb = c, fc
        if abs(fc) < 1e-14:
            break
    return math.exp(c)


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
    name, derived = resolve(activation)
    g = derived if gain is None else check_gain(gain)
    phi = _phi(activation)

    def excess(q: float) -> float:
        # log(M(q) / q): its roots are the fixed points, its sign says which way q moves.
        moment = g * g * _second_moment(phi, q)
        return math.log(moment / q) if moment > 0 else -math.inf

    grid = [2.0**k for k in range(-_LOG2_Q_RANGE, _LOG2_Q_RANGE + 1, 4)]
    values = [excess(q) for q in grid]
    if max(values) - min(values) < _MARGINAL and abs(values[0]) < _MARGINAL:
        # M(q) = q for every q (relu at sqrt 2, linear at 1): every variance is a fixed point.
        return VarianceMap(name, g, 1.0, _slope(phi, g, 1.0), "marginal")
    roots: list[float] = []
    for i in range(len(grid) - 1):
        if values[i] == 0.0:
            roots.append(grid[i])
        elif (values[i] > 0) != (values[i + 1] > 0) and values[i + 1] != 0.0:
            roots.append(_root_log(excess, grid[i], grid[i + 1]))
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


@functools.lru_cache(maxsize=256)
def _verdict_of(activation: str, gain: float) -> str:
    try:
        return variance_map(activation, gain).verdict
    except (ValueError, TypeError, KeyError):
        # A canonical name with parameters (elu(alpha=0.5)) or a callable's label: not a spec.
        return "?"


# Signal propagation.


@dataclasses.dataclass(frozen=True)
class PropagationRow:
    """One convolution of a :func:`propagation` table.

    Attributes:
        name: the module's name in the model.
        scheme: the initconv scheme, or the class name of another convolution.
        activation: the declared activation (``"?"`` for a plain convolution).
        gain: the declared gain (``nan`` for a plain convolution).
        weight_gain: :math:`\\sqrt{\\text{fan\\_in} \\cdot \\mathrm{mean}(W^2)}`, the gain the
            weights actually have (0.577 for ``nn.Conv2d``'s default init).
        forward: the second moment of the layer's output.
        forward_ratio: ``forward`` over the previous row's (over the input's for the first row).
        backward: the second moment of the gradient at the layer's output.
        backward_ratio: ``backward`` over the next row's (the layer before it in the backward pass;
            over the cotangent's for the last row).
        verdict: :func:`variance_map`'s verdict for the activation and gain (``""`` if unknown).
    """

    name: str
    scheme: str
    activation: str
    gain: float
    weight_gain: float
    forward: float
    forward_ratio: float
    backward: float
    backward_ratio: float
    verdict: str


_COLUMNS = (
    "layer",
    "scheme",
    "activation",
    "gain",
    "weight_gain",
    "fwd_q",
    "fwd_ratio",
    "bwd_q",
    "bwd_ratio",
    "verdict",
)


class PropagationTable:
    """The result of :func:`propagation`: one :class:`PropagationRow` per convolution, forward order.

    ``str()`` is an aligned text table; :meth:`to_csv` and :meth:`plot` export it.

    Attributes:
        label: the model's name in plots.
        rows: the rows.
        input_moment: the second moment of the example input.
    """

    def __init__(self, label: str, rows: Sequence[PropagationRow], input_moment: float) -> None:
        self.label = label
        self.rows = tuple(rows)
        self.input_moment = input_moment

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[PropagationRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> PropagationRow:
        return self.rows[index]

    def __repr__(self) -> str:
        return f"PropagationTable(label={self.label!r}, rows={len(self.rows)})"

    def _cells(self) -> list[list[str]]:
        return [
            [
                row.name,
                row.scheme,
                row.activation,
                "-" if math.isnan(row.gain) else f"{row.gain:.4g}",
                f"{row.weight_gain:.4g}",
                f"{row.forward:.4g}",
                f"{row.forward_ratio:.4g}",
                f"{row.backward:.4g}",
                f"{row.backward_ratio:.4g}",
                row.verdict,
            ]
            for row in self.rows
        ]

    def __str__(self) -> str:
        cells = [list(_COLUMNS), *self._cells()]
        widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in cells
        ]
        unstable = sorted({row.activation for row in self.rows if row.verdict == "unstable"})
        title = f"{self.label}: input second moment {self.input_moment:.4g}"
        notes = []
        if unstable:
            notes.append(
                f"unstable variance map for {', '.join(unstable)}: deep plain stacks drift "
                "(see initconv.diagnostics.variance_map; initconv.lsuv_ or normalisation helps)"
            )
        return "\n".join([title, *lines, *notes])

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV text (a header, then one line per row); also written to ``path``."""
        buffer = io.StringIO()
        buffer.write(",".join(_COLUMNS) + "\n")
        for row in self.rows:
            values = [getattr(row, field.name) for field in dataclasses.fields(row)]
            buffer.write(",".join(_csv_cell(value) for value in values) + "\n")
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self, path: str | Path, *others: PropagationTable) -> None:
        """Plot the forward and backward second moments against depth to ``path`` (log scale).

        One line per table: this one and each of ``others``, labelled by :attr:`label`. Needs
        matplotlib (``pip install "initconv[plot]"``).
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError(
                'PropagationTable.plot needs matplotlib: pip install "initconv[plot]"'
            ) from error
        figure, (forward, backward) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        for table in (self, *others):
            depth = range(1, len(table.rows) + 1)
            forward.plot(depth, [row.forward for row in table.rows], label=table.label)
            backward.plot(depth, [row.backward for row in table.rows], label=table.label)
        for axes, title in ((forward, "forward: output"), (backward, "backward: gradient")):
            axes.set_yscale("log")
            axes.set_xlabel("conv layer")
            axes.set_ylabel("second moment")
            axes.set_title(title)
            axes.legend()
        figure.savefig(path, dpi=120)
        plt.close(figure)


def _csv_cell(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "," in text or '"' in text else text


def _describe(module: nn.Module) -> tuple[str, str, float, str]:
    if isinstance(module, InitConv2d):
        verdict = _verdict_of(module.activation, module.gain)
        return module.scheme or type(module).__name__, module.activation, module.gain, verdict
    return type(module).__name__, "?", math.nan, ""


def _weight_gain(module: nn.Module) -> float:
    weight = module.get_parameter("weight").detach()
    fan_in = weight[0].numel()
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        fan_in = weight.shape[0] * math.prod(weight.shape[2:]) // max(module.groups, 1)
    return math.sqrt(fan_in * float(weight.double().pow(2).mean())) if weight.numel() else 0.0


def _moment(tensor: Tensor) -> float:
    return float(tensor.detach().double().pow(2).mean())


def propagation(
    model: nn.Module,
    example_input: Tensor,
    *,
    label: str | None = None,
    seed: int = 0,
) -> PropagationTable:
    r"""Measure the signal's second moment at every convolution of ``model``, forward and backward.

    The forward pass records :math:`q_l = \mathrm{mean}(y_l^2)` for the output :math:`y_l` of each
    convolution, in the order they run. The backward pass starts from a standard normal cotangent
    on the model's output (seeded by ``seed``) and records the second moment of the gradient at each
    convolution's output. In a plain stack whose init preserves the signal, both stay within a small
    factor of 1 at every depth ("Delving deep into rectifiers" - He, K. et al. (2015), eqs. 10 and
    14); a per-layer ratio :math:`q_l / q_{l-1}` far from 1 shows where it vanishes or explodes.

    The model's parameters are not changed; their ``.grad`` are left as they were.

    Args:
        model: any module with convolutions (all of ``nn.Conv1d/2d/3d`` and their transposes).
        example_input: a batch the model accepts.
        label: the model's name in plots; the model's class name when ``None``.
        seed: seeds the backward cotangent.

    Returns:
        A :class:`PropagationTable`.

    Examples:
        >>> model = nn.Sequential(initconv.KaimingNormalConv2d(3, 8, 3, activation="relu"), nn.ReLU())
        >>> table = propagation(model, torch.randn(2, 3, 16, 16))
        >>> len(table), table[0].scheme
        (1, 'kaiming_normal')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, Tensor):
        raise TypeError(f"example_input must be a Tensor, got {type(example_input).__name__}")
    names: dict[nn.Module, str] = {
        module: name for name, module in model.named_modules() if isinstance(module, _CONV_TYPES)
    }
    if not names:
        raise ValueError(f"model has no convolutions to measure ({type(model).__name__})")

    order: list[nn.Module] = []
    forward: dict[nn.Module, float] = {}
    backward: dict[nn.Module, float] = {}

    def record(module: nn.Module, inputs: tuple[object, ...], output: Tensor) -> None:
        if module in forward:
            return
        order.append(module)
        forward[module] = _moment(output)
        if output.requires_grad:
            output.register_hook(lambda grad: backward.__setitem__(module, _moment(grad)))  # type: ignore[no-untyped-call]

    saved_grads = {param: param.grad for param in model.parameters()}
    handles = [module.register_forward_hook(record) for module in names]
    try:
        x = example_input.detach().requires_grad_(example_input.is_floating_point())
        output = model(x)
        if not isinstance(output, Tensor):
            raise TypeError(f"model must return a Tensor, got {type(output).__name__}")
        generator = torch.Generator(device=output.device).manual_seed(seed)
        cotangent = torch.randn(
            output.shape, generator=generator, dtype=output.dtype, device=output.device
        )
        if output.requires_grad:
            output.backward(cotangent)  # type: ignore[no-untyped-call]
    finally:
        for handle in handles:
            handle.remove()
        for param, grad in saved_grads.items():
            param.grad = grad

    input_moment = _moment(example_input)
    rows: list[PropagationRow] = []
    previous = input_moment
    backward_values = [backward.get(module, math.nan) for module in order]
    following = [*backward_values[1:], _moment(cotangent)]
    for module, grad_moment, after in zip(order, backward_values, following, strict=True):
        scheme, activation, gain, verdict = _describe(module)
        rows.append(
            PropagationRow(
                name=names[module],
                scheme=scheme,
                activation=activation,
                gain=gain,
                weight_gain=_weight_gain(module),
                forward=forward[module],
                forward_ratio=forward[module] / previous if previous > 0 else math.inf,
                backward=grad_moment,
                backward_ratio=grad_moment / after if after > 0 else math.inf,
                verdict=verdict,
            )
        )
        previous = forward[module]
    return PropagationTable(label or type(model).__name__, rows, input_moment)


# Dynamical isometry.


@dataclasses.dataclass(frozen=True)
class JacobianSpectrum:
    """Estimates of the extreme singular values of a model's input-output Jacobian.

    Attributes:
        top: the ``k`` largest, descending; Ritz values, so each is at most the true one.
        bottom: the ``k`` smallest, ascending; each is at least the true one.
        iterations: the power iterations run for each end.
    """

    top: tuple[float, ...]
    bottom: tuple[float, ...]
    iterations: int

    @property
    def condition(self) -> float:
        """``top[0] / bottom[0]``: 1 for a perfectly isometric Jacobian."""
        return self.top[0] / self.bottom[0] if self.bottom[0] > 0 else math.inf


def _subspace_iteration(
    operator: Callable[[Tensor], Tensor], start: Tensor, iterations: int
) -> Tensor:
    """Eigenvalues (descending) of a symmetric PSD ``operator`` on the span of ``start``'s columns
    after ``iterations`` rounds of block power iteration with Rayleigh-Ritz."""
    basis, _ = torch.linalg.qr(start)
    for _ in range(iterations):
        basis, _ = torch.linalg.qr(operator(basis))
    projected = basis.T @ operator(basis)
    eigenvalues: Tensor = torch.linalg.eigvalsh((projected + projected.T) / 2)
    return eigenvalues.flip(0)


def jacobian_spectrum(
    model: nn.Module,
    example_input: Tensor,
    k: int = 1,
    *,
    iterations: int = 30,
    seed: int = 0,
) -> JacobianSpectrum:
    r"""Estimate the ``k`` largest and ``k`` smallest singular values of the input-output Jacobian.

    Dynamical isometry ("Resurrecting the sigmoid in deep learning through dynamical isometry" -
    Pennington, J. et al. (2017); for CNNs Xiao, L. et al. (2018)): a deep network trains fast when
    every singular value of :math:`J = \partial f(x) / \partial x` is near 1. Block power iteration
    on :math:`J^\top J`, whose products come from :func:`torch.func.jvp` and :func:`torch.func.vjp`
    without ever forming :math:`J`, gives the top; the same on
    :math:`\sigma_{\max}^2 I - J^\top J` gives the bottom:

    .. math::
        V \leftarrow \operatorname{qr}(J^\top J\, V), \qquad
        \sigma_i^2 \approx \lambda_i(V^\top J^\top J\, V).

    The whole ``example_input`` is one point: for a model that treats samples independently the
    Jacobian is block diagonal, so pass a single sample to study one. The bottom converges slowly
    where the small singular values crowd together; raise ``iterations`` until it stops moving.

    Args:
        model: the model, called as ``model(x)``; it must be differentiable in ``x``.
        example_input: the point at which to take the Jacobian (floating point).
        k: how many singular values to estimate at each end, at least 1.
        iterations: power iterations per end, at least 1.
        seed: seeds the starting vectors.

    Returns:
        A :class:`JacobianSpectrum`.

    Examples:
        >>> conv = initconv.OrthogonalConv2d(4, 4, 1)
        >>> spectrum = jacobian_spectrum(conv, torch.randn(1, 4, 3, 3), k=2)
        >>> [round(s, 4) for s in spectrum.top + spectrum.bottom]
        [1.0, 1.0, 1.0, 1.0]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, Tensor) or not example_input.is_floating_point():
        raise TypeError(f"example_input must be a floating point Tensor, got {example_input!r}")
    for parameter, value in (("k", k), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{parameter} must be an int, got {type(value).__name__} {value!r}")
        if value < 1:
            raise ValueError(f"{parameter} must be at least 1, got {value!r}")
    size = example_input.numel()
    if k > size:
        raise ValueError(f"k must be at most the input's {size} elements, got {k!r}")

    x = example_input.detach()

    def f(inputs: Tensor) -> Tensor:
        output: Tensor = model(inputs)
        return output

    output, pullback, *_ = torch.func.vjp(f, x)
    if 2 * k > output.numel():
        raise ValueError(
            f"k must be at most half the output's {output.numel()} elements, got {k!r}"
        )

    def gram(basis: Tensor) -> Tensor:
        columns = []
        for column in basis.T:
            _, pushed, *_ = torch.func.jvp(f, (x,), (column.reshape(x.shape).to(x.dtype),))
            (pulled,) = pullback(pushed)
            columns.append(pulled.detach().reshape(-1).to(basis.dtype))
        return torch.stack(columns, dim=1)

    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(size, k, generator=generator, dtype=torch.float64).to(x.device)
    top = _subspace_iteration(gram, start, iterations).clamp(min=0)
    shift = float(top[0]) * 1.001 + 1e-12
    start = torch.randn(size, k, generator=generator, dtype=torch.float64).to(x.device)
    shifted = _subspace_iteration(lambda v: shift * v - gram(v), start, iterations)
    bottom = (shift - shifted).clamp(min=0)
    return JacobianSpectrum(
        top=tuple(math.sqrt(float(v)) for v in top),
        bottom=tuple(math.sqrt(float(v)) for v in bottom),
        iterations=iterations,
    )
