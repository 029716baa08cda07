r"""Without weights the variance map's fixed point is :math:`\sigma_b^2`, also where that lies
exactly on a point of the upward search grid above :math:`2^{12}`.

Theory (Poole et al. 2016, the variance map with a bias): :math:`M(q) = \sigma_w^2
\mathbb{E}[\phi(\sqrt{q} z)^2] + \sigma_b^2`, which at :math:`\sigma_w = 0` is the constant
:math:`\sigma_b^2`: its one fixed point is :math:`q^* = \sigma_b^2` (below it :math:`M(q) > q`,
above it :math:`M(q) < q`), :math:`M'(q^*) = 0` and :math:`\chi_1 = 0` (ordered). correlation_map
promises to refuse only a fixed point above :math:`2^{68}` (a ValueError naming the parameters);
:math:`\sigma_b = 2^8` and :math:`2^{10}` put :math:`q^*` at :math:`2^{16}` and :math:`2^{20}`,
points of the 16-fold grid that extends the search above :math:`2^{12}`, where the excess
:math:`\log(M(q)/q)` is exactly :math:`\log 1 = 0` (powers of 2: every operation is exact), so
the search must stop there with the root, not ask whether a fixed point lies above.
"""

from __future__ import annotations

import pytest

from initconv import diagnostics


@pytest.mark.parametrize("bias_std", [2.0**8, 2.0**10])
def test_a_bias_alone_settles_at_its_square_on_the_upward_grid(bias_std: float) -> None:
    result = diagnostics.correlation_map("relu", 0.0, bias_std)
    # A root exactly on a grid point is that grid point: q* = sigma_b^2 to the bit.
    assert result.q_star == bias_std**2
    assert (result.variance_slope, result.chi_1) == (0.0, 0.0)
    assert result.phase == "ordered"
