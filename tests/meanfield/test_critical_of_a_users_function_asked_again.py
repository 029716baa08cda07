r"""critical asked again for a user's function gives the same point on the critical line.

The promise (``initconv._meanfield.critical_line.solve``): a point is solved once per (activation,
``bias_std``) while the activation's outputs stay the same, so asking again (as a layer does on
every construction and reset) returns that point: the same answer, still on the critical line.

Theory, derived here (Schoenholz et al. 2017, "Deep information propagation"): at
:math:`(\sigma_w, \sigma_b)` on the critical line, :math:`q^*` is a fixed point of the variance
map, :math:`q^* = \sigma_w^2\, \mathbb{E}[\phi(\sqrt{q^*} z)^2] + \sigma_b^2`, and
:math:`\chi_1 = \sigma_w^2\, \mathbb{E}[\phi'(\sqrt{q^*} z)^2] = 1`. Both expectations are
recomputed here with scipy's adaptive quadrature (tests/_reference_theory.gaussian_mean).
"""

from __future__ import annotations

import math

import pytest
import torch
from _reference_theory import gaussian_mean
from torch import Tensor

import initconv

_BIAS = 0.05


def _user_tanh(x: Tensor) -> Tensor:
    # A user's function (not a built-in name): tanh, written out.
    return torch.tanh(x)


def test_asking_again_for_a_users_function_gives_the_same_critical_point() -> None:
    first = initconv.critical(_user_tanh, _BIAS)
    again = initconv.critical(_user_tanh, _BIAS)
    assert again == first
    sigma_w2, q = again.weight_std**2, again.q_star
    # Each mean is good to ~1e-13 (scipy) and the package's to ~1e-12; the line's root is solved
    # far finer than 1e-9, which leaves room above both.
    chi_1 = sigma_w2 * gaussian_mean(lambda x: (1 - math.tanh(x) ** 2) ** 2, q)
    assert chi_1 == pytest.approx(1.0, abs=1e-9)
    moment = sigma_w2 * gaussian_mean(lambda x: math.tanh(x) ** 2, q) + _BIAS**2
    assert moment == pytest.approx(q, rel=1e-9)
