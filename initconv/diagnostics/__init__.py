"""See what an initialisation does to a model: signal propagation, Jacobian spectrum, mean-field theory.

- :func:`propagation` measures, per layer (convolutions, transposed convolutions and linear
  layers), the second moment of its output in the forward pass and of the gradient at its output
  in the backward pass.
- :func:`jacobian_spectrum` estimates the extreme singular values of the input-output Jacobian
  (dynamical isometry: all of them near 1).
- :func:`variance_map` says, from the activation and gain alone, whether a deep plain stack keeps
  its signal: the fixed point of the forward variance map and its slope there.
"""

from initconv.diagnostics._jacobian import JacobianSpectrum, jacobian_spectrum
from initconv.diagnostics._meanfield import VarianceMap, variance_map
from initconv.diagnostics._propagation import PropagationRow, PropagationTable, propagation

__all__ = [
    "JacobianSpectrum",
    "PropagationRow",
    "PropagationTable",
    "VarianceMap",
    "jacobian_spectrum",
    "propagation",
    "variance_map",
]
