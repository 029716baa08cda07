r"""A signal that grows without bound is judged at a second moment it reaches, never below its
start: its phase is that of the maps where the signal is.

CorrelationMap's docstring: where q* is ``inf`` the maps are evaluated at :math:`q = 2^{12}` or
at ``q0``, whichever is larger. Theory, by hand, for :math:`\phi(x) = x|x|` without bias:
:math:`M(q) = 3\sigma_w^2 q^2` (:math:`\mathbb{E} z^4 = 3`), so :math:`q_+ = 1/(3\sigma_w^2)` is
an unstable fixed point and a start above it grows without bound; :math:`\phi'(x) = 2|x|` gives
:math:`\chi_1(q) = 4\sigma_w^2 q`, which grows with q. At :math:`\sigma_w^2 = 1/(3 \cdot 10^4)`,
:math:`q_+ = 10^4 > 2^{12}`: a start at :math:`1.0001 \cdot 10^4` has
:math:`\chi_1 = 1.3335 > 1` there and more beyond, so the phase is chaotic; at :math:`2^{12}`,
a q the signal never visits, :math:`\chi_1 = 0.546` would call it ordered. The one-dimensional
moments are exact to ~1e-12 relative: chi_1 is held to 1e-10.
"""

from __future__ import annotations

import math

import pytest
import torch

from initconv.diagnostics import correlation_map


def signed_square(x: torch.Tensor) -> torch.Tensor:
    return x * x.abs()


def test_a_signal_growing_from_above_the_grid_is_chaotic_where_it_starts() -> None:
    sigma_w2, start = 1 / 3e4, 1.0001e4
    # c* is then sought above 2^12, where the two-dimensional moments are not resolved: NaN.
    with pytest.warns(RuntimeWarning, match=r"above 2\^12"):
        result = correlation_map(signed_square, math.sqrt(sigma_w2), q0=start)
    assert result.q_star == math.inf
    assert result.chi_1 == pytest.approx(4 * sigma_w2 * start, rel=1e-10)
    assert result.phase == "chaotic"
