"""An activation that is NaN or infinite at a single quadrature node is refused like any other.

docs/guarantees.md: the derived gain "raises a ValueError naming the activation when phi is NaN or
infinite at a node", and the project's refusals show the offending value. The case with the fewest
such nodes is one: an activation that overflows only at the very top of the quadrature's range.

Where the nodes lie, derived here from the documented rule (adaptive Gauss-Lobatto on [-12, 12],
initconv/_maths/quadrature.py): the first panels split [-12, 12] into 96 of width 0.25, each with
the 16 Lobatto nodes of order 16, the two ends pulled inward by 2^-40 of the half-width. The last
panel [11.75, 12] has its end node at 12 - 0.125 * 2^-40 and its next at 11.875 + 0.125 x, x the
largest zero of P'_15, about 0.9696 (numpy's Legendre class gives it below), so about 11.9962. An
activation finite below 11.999 and infinite above is therefore infinite at exactly one node of the
first panels, which are evaluated before any other; the probe's points lie in [-8, 8] only.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import Tensor

import initconv

_EDGE = 11.999


def overflows_near_twelve(x: Tensor) -> Tensor:
    """tanh, but infinite for inputs above 11.999 (as an exp would overflow there)."""
    return torch.where(x > _EDGE, torch.full_like(x, math.inf), torch.tanh(x))


def test_the_threshold_isolates_the_last_panels_end_node() -> None:
    # The derivation in the docstring, checked independently of initconv's own node code.
    largest_interior = float(np.polynomial.legendre.Legendre.basis(15).deriv().roots().max())
    below = 11.875 + 0.125 * largest_interior
    end = 12.0 - 0.125 * 2.0**-40
    assert below < _EDGE < end


def test_an_activation_infinite_at_one_node_is_refused_with_a_value_error_naming_it() -> None:
    with pytest.raises(
        ValueError, match="activation overflows_near_twelve returned NaN or inf"
    ) as caught:
        initconv.gain(overflows_near_twelve)
    shown = re.search(r"at z = (\S+)", str(caught.value))
    assert shown is not None, str(caught.value)
    # The value shown (6 significant digits) is a z where the activation is infinite.
    z = float(shown.group(1))
    assert z > _EDGE
    assert not bool(torch.isfinite(overflows_near_twelve(torch.tensor([z], dtype=torch.float64))))
