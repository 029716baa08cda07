"""Dynamical isometry: the extreme singular values of a model's input-output Jacobian."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from initconv._validate import check_int, check_torch_seed
from initconv.diagnostics._propagation import check_measurable

__all__ = ["JacobianSpectrum", "jacobian_spectrum"]


@dataclasses.dataclass(frozen=True)
class JacobianSpectrum:
    r"""Estimates of the extreme singular values of a model's input-output Jacobian.

    The singular values are those of :math:`J` as an :math:`m \times n` matrix (:math:`m`
    outputs, :math:`n` inputs): the :math:`\min(m, n)` of its thin SVD. For a map with fewer
    outputs than inputs, the :math:`n - m` directions of its null space are not among them.

    Attributes:
        top: the ``k`` largest, descending; Ritz values, so each is at most the true one.
        bottom: the ``k`` smallest of the :math:`\min(m, n)`, ascending; each is at least the
            true one. A 0 here is a rank deficiency of :math:`J` (a dead unit), not a null space.
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
    on the Gram matrix of :math:`J` on its smaller side, :math:`J^\top J` (:math:`n \times n`) for
    :math:`m \ge n` outputs and :math:`J J^\top` (:math:`m \times m`) for fewer outputs than
    inputs, whose products come from :func:`torch.func.jvp` and :func:`torch.func.vjp` without ever
    forming :math:`J`, gives the top; the same on :math:`\sigma_{\max}^2 I` minus it gives the
    bottom:

    .. math::
        V \leftarrow \operatorname{qr}(J^\top J\, V), \qquad
        \sigma_i^2 \approx \lambda_i(V^\top J^\top J\, V).

    "Smallest" means the smallest of the :math:`\min(m, n)` singular values of :math:`J` (its thin
    SVD): a map to fewer outputs than inputs has :math:`n - m` more zero eigenvalues of
    :math:`J^\top J`, its null space, which a projection has by construction and which say nothing
    about isometry; they are not reported (``OrthogonalLinear(16, 4)`` gives ``bottom`` 1, not 0).

    The whole ``example_input`` is one point: for a model that treats samples independently the
    Jacobian is block diagonal, so pass a single sample to study one. The bottom converges slowly
    where the small singular values crowd together; raise ``iterations`` until it stops moving.

    Args:
        model: the model, called as ``model(x)``; it must be differentiable in ``x`` and return
            one floating point Tensor.
        example_input: the point at which to take the Jacobian (floating point).
        k: how many singular values to estimate at each end, at least 1 and at most
            :math:`\min(m, n)`.
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
        got = (
            f"a Tensor of dtype {example_input.dtype}"
            if isinstance(example_input, Tensor)
            else type(example_input).__name__
        )
        raise TypeError(f"example_input must be a floating point Tensor, got {got}")
    k = check_int("k", k, minimum=1)
    iterations = check_int("iterations", iterations, minimum=1)
    seed = check_torch_seed("seed", seed)
    check_measurable(model, example_input)
    size = example_input.numel()
    if k > size:
        raise ValueError(f"k must be at most the input's {size} elements, got {k!r}")

    x = example_input.detach()
    buffers = dict(model.named_buffers())

    def f(inputs: Tensor) -> Tensor:
        # Each call gets its own copy of the buffers: a module in training mode (batch norm)
        # updates them in place, which torch.func refuses for a tensor from outside, and which
        # would change the model.
        copies = {name: buffer.clone() for name, buffer in buffers.items()}
        output = torch.func.functional_call(model, copies, (inputs,), strict=False)
        # Checked here, inside the transform: torch.func.vjp itself raises a RuntimeError on an
        # integer output (an argmax) before it returns.
        if not isinstance(output, Tensor) or not output.is_floating_point():
            raise TypeError(
                f"model must return a floating point Tensor, got {type(output).__name__}"
                + (f" of dtype {output.dtype}" if isinstance(output, Tensor) else "")
            )
        return output

    output, pullback, *_ = torch.func.vjp(f, x)
    if not bool(torch.isfinite(output).all()):
        raise ValueError(
            "model(example_input) is not finite, so its Jacobian there has no singular values "
            "to estimate"
        )
    with torch.no_grad():
        again = f(x)
    if not torch.allclose(again, output, rtol=1e-4, atol=1e-6 * float(output.detach().abs().max())):
        raise ValueError(
            "model(example_input) gave another output on a second call, so it has no single "
            "Jacobian (dropout in training mode?); call model.eval() first"
        )
    outputs = output.numel()
    if k > outputs:
        raise ValueError(
            f"k must be at most the output's {outputs} elements (J has min({size}, {outputs}) "
            f"= {min(size, outputs)} singular values), got {k!r}"
        )

    def push(vector: Tensor) -> Tensor:
        _, pushed, *_ = torch.func.jvp(f, (x,), (vector.reshape(x.shape).to(x.dtype),))
        return cast(Tensor, pushed)

    def pull(vector: Tensor) -> Tensor:
        (pulled,) = pullback(vector.reshape(output.shape).to(output.dtype))
        return cast(Tensor, pulled)

    # The Gram matrix on the smaller side: its eigenvalues are the squared singular values, and
    # none of them is the other side's null space.
    wide = outputs < size

    def gram(basis: Tensor) -> Tensor:
        columns = []
        for column in basis.T:
            image = pull(push(column)) if not wide else push(pull(column))
            columns.append(image.detach().reshape(-1).to(basis.dtype))
        return torch.stack(columns, dim=1)

    dimension = min(size, outputs)
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(dimension, k, generator=generator, dtype=torch.float64).to(x.device)
    top = _subspace_iteration(gram, start, iterations).clamp(min=0)
    shift = float(top[0]) * 1.001 + 1e-12
    start = torch.randn(dimension, k, generator=generator, dtype=torch.float64).to(x.device)
    shifted = _subspace_iteration(lambda v: shift * v - gram(v), start, iterations)
    bottom = (shift - shifted).clamp(min=0)
    if not (torch.isfinite(top).all() and torch.isfinite(bottom).all()):
        raise ValueError(
            "the Jacobian at example_input is not finite (the model's output or its derivative "
            "overflows there), so it has no singular values to estimate"
        )
    return JacobianSpectrum(
        top=tuple(math.sqrt(float(v)) for v in top),
        bottom=tuple(math.sqrt(float(v)) for v in bottom),
        iterations=iterations,
    )
