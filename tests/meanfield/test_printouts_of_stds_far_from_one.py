"""The maps' printouts state a standard deviation and its square readably at any size.

``critical(k * tanh)`` is tanh's line with sigma_w / k (the maps scale simply), so at k = 1e-300
sigma_w is 1.19e300 and sigma_w^2 = 1.42e600, beyond float64: the printout once said
``sigma_w^2 = inf`` (and ``0`` at k = 1e300), and correlation_map and variance_map printed the
gain 1.6e300 with four decimals, 300 digits long. The square is checked against exact decimal
arithmetic on the returned weight_std; the printed std is read back.
"""

from __future__ import annotations

import decimal
import re

import pytest
import torch
from torch import Tensor

import initconv
from initconv import diagnostics


@pytest.mark.parametrize("k", [1e-300, 1e300, 1e-30, 1.0])
def test_the_critical_printout_states_sigma_w_squared_at_any_size(k: float) -> None:
    def phi(x: Tensor) -> Tensor:
        return k * torch.tanh(x)

    point = initconv.critical(phi, bias_std=0.1)
    shown = re.search(r"sigma_w\^2 = ([^)]+)\)", str(point))
    assert shown is not None, str(point)
    exact = decimal.Decimal(point.weight_std) ** 2
    # Six significant digits: within half a unit of the sixth.
    assert abs(decimal.Decimal(shown[1]) / exact - 1) <= decimal.Decimal("5e-6"), str(point)


@pytest.mark.parametrize("function", ["correlation_map", "variance_map"])
@pytest.mark.parametrize("k", [1e-300, 1e300])
def test_the_maps_print_a_gain_far_from_one_in_a_few_significant_digits(
    function: str, k: float
) -> None:
    def phi(x: Tensor) -> Tensor:
        return k * torch.tanh(x)

    found = getattr(diagnostics, function)(phi)
    text = str(found)
    shown = re.search(r"at (?:sigma_w|gain) ([^,:]+)[,:]", text)
    assert shown is not None, text
    assert len(shown[1]) <= 12, text
    std = found.weight_std if function == "correlation_map" else found.gain
    assert float(shown[1]) == pytest.approx(std, rel=1e-3)


@pytest.mark.parametrize("k", [1e-200, 1e200])
def test_a_homogeneous_activation_of_any_size_is_refused_with_its_sigma_w_squared(k: float) -> None:
    # k relu is positively homogeneous: chi_1 = 1 at sigma_w^2 = 2 / k^2 at every q, so with a
    # bias there is no critical point, and the refusal states that sigma_w^2 (4e+400 at 1e-200,
    # once a ZeroDivisionError: the scale's square underflowed).
    def phi(x: Tensor) -> Tensor:
        return k * torch.relu(x)

    with pytest.raises(ValueError, match="positively homogeneous") as refused:
        initconv.critical(phi, bias_std=0.05)
    shown = re.search(r"sigma_w\^2 = (\S+) at every q", str(refused.value))
    assert shown is not None, str(refused.value)
    exact = 2 / decimal.Decimal(k) ** 2
    assert abs(decimal.Decimal(shown[1]) / exact - 1) <= decimal.Decimal("5e-6")
