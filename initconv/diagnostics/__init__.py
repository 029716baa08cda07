r"""See what an initialisation does to a model: signal propagation, Jacobian spectrum, mean-field theory.

- :func:`propagation` measures, per layer (convolutions, transposed convolutions and linear
  layers), the second moment of its output in the forward pass and of the gradient at its output
  in the backward pass.
- :func:`jacobian_spectrum` estimates the extreme singular values of the input-output Jacobian
  (dynamical isometry: all of them near 1).
- :func:`variance_map` says, from the activation and gain alone, whether a deep plain stack keeps
  its signal: the fixed point of the forward variance map and its slope there.
- :func:`correlation_map` adds the bias and the correlation map (Schoenholz et al. 2017): the
  fixed point reached, :math:`\chi_1`, the correlation fixed point, the depth scales and the
  phase (ordered, critical, chaotic); :func:`correlation_step` is one layer of the map.
- :func:`coord_check` trains a model at several widths for a few steps and measures every layer's
  activation size: flat across widths under µP (:func:`initconv.mup_`), growing or vanishing
  under the standard parametrization.
"""

from initconv._meanfield.correlation_map import (
    CorrelationMap,
    Phase,
    correlation_map,
    correlation_step,
)
from initconv._meanfield.variance_map import FixedPoint, VarianceMap, variance_map
from initconv.diagnostics._coord_check import CoordCheck, CoordRow, coord_check
from initconv.diagnostics._jacobian import JacobianSpectrum, jacobian_spectrum
from initconv.diagnostics._propagation import PropagationRow, PropagationTable, propagation

__all__ = [
    "CoordCheck",
    "CoordRow",
    "CorrelationMap",
    "FixedPoint",
    "JacobianSpectrum",
    "Phase",
    "PropagationRow",
    "PropagationTable",
    "VarianceMap",
    "coord_check",
    "correlation_map",
    "correlation_step",
    "jacobian_spectrum",
    "propagation",
    "variance_map",
]
