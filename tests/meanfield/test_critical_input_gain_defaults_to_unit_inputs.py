r"""Without an argument, ``CriticalPoint.input_gain()`` is the gain for inputs of unit second moment.

The promise (``CriticalPoint.input_gain``): the gain of a first layer whose inputs have second
moment ``input_moment`` so that its pre-activations start at :math:`q^*`; its default is the
standard data normalisation, inputs of second moment 1 (benchmarks/training.py and docs use
``input_gain()`` on normalised inputs).

Theory, derived here: a first layer with :math:`\mathrm{Var}(W) = g^2/\text{fan\_in}`, bias
:math:`\mathcal{N}(0, \sigma_b^2)` and inputs of second moment :math:`m` has pre-activations of
second moment :math:`g^2 m + \sigma_b^2`. At :math:`m = 1` that is :math:`q^*` exactly when
:math:`g^2 = q^* - \sigma_b^2`. The only error is the rounding of a square root and a square:
a few ulps of :math:`q^*`.
"""

from __future__ import annotations

import pytest

import initconv


@pytest.mark.parametrize(("activation", "bias_std"), [("tanh", 0.05), ("tanh", 0.3), ("elu", 0.3)])
def test_the_default_input_gain_brings_unit_inputs_to_q_star(
    activation: str, bias_std: float
) -> None:
    point = initconv.critical(activation, bias_std)
    gain = point.input_gain()
    # g^2 * 1 + sigma_b^2 = q*: a sqrt, two squares and a sum, each rounded once (<= 4 ulps of q*,
    # sigma_b^2 < q*, so 1e-15 relative covers them).
    assert gain**2 * 1.0 + bias_std**2 == pytest.approx(point.q_star, rel=1e-15, abs=0)
