"""Dynamical isometry: the extreme singular values of a model's input-output Jacobian."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from initconv._validate import check_int, check_torch_seed

__all__ = ["JacobianSpectrum", "jacobian_spectrum"]


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
    k = check_int("k", k, minimum=1)
    iterations = check_int("iterations", iterations, minimum=1)
    seed = check_torch_seed("seed", seed)
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
