"""The fixed rules under every Gaussian moment: Gauss-Legendre and Gauss-Lobatto on [-1, 1].

Their defining facts, from the theory and not from the code (Abramowitz and Stegun 25.4.29-32):
the n-point Gauss-Legendre rule integrates every polynomial of degree <= 2n - 1 exactly, its
nodes are the zeros of P_n, and on x^2n it errs by exactly 2^(2n+1) (n!)^4 / ((2n+1) ((2n)!)^2)
(the error term 2^(2n+1) (n!)^4 / ((2n+1) ((2n)!)^3) f^(2n) with f^(2n) = (2n)!). The n-point
Gauss-Lobatto rule holds both ends with weight 2 / (n (n - 1)), is exact to degree 2n - 3, and on
x^(2n-2) errs by exactly -n (n-1)^3 2^(2n-1) ((n-2)!)^4 / ((2n-1) ((2n-2)!)^2). The moments of
x^k on [-1, 1] are 2 / (k + 1) for even k and 0 for odd k. A rule's sum of w x^k is exact to a
few ulps of sum |w x^k| <= 2: the checks allow 64 eps there.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

from initconv._maths import quadrature


def _moment(k: int) -> float:
    return 2.0 / (k + 1) if k % 2 == 0 else 0.0


_EXACT = 64 * 2 * torch.finfo(torch.float64).eps


def _rule_sum(nodes: torch.Tensor, weights: torch.Tensor, k: int) -> float:
    return float((weights * nodes.to(torch.float64) ** k).sum())


# Orders used by the package (8 and 16) and around them; at 20 the error on degree 2n (2.8e-12)
# is still 99 times the allowance.
_ORDERS = [2, 3, 5, 8, 12, 16, 20]


@pytest.mark.parametrize("order", _ORDERS)
def test_gauss_legendre_is_exact_to_degree_2n_minus_1_and_not_beyond(order: int) -> None:
    nodes, weights = quadrature.gauss_legendre(order)
    assert nodes.shape == weights.shape == (order,)
    for k in range(2 * order):
        assert _rule_sum(nodes, weights, k) == pytest.approx(_moment(k), rel=0, abs=_EXACT)
    n = order
    error = 2 ** (2 * n + 1) * math.factorial(n) ** 4 / ((2 * n + 1) * math.factorial(2 * n) ** 2)
    rule = _rule_sum(nodes, weights, 2 * n)
    assert _moment(2 * n) - rule == pytest.approx(error, rel=0, abs=_EXACT)


@pytest.mark.parametrize("order", _ORDERS)
def test_gauss_legendre_nodes_are_the_zeros_of_p_n(order: int) -> None:
    nodes, _ = quadrature.gauss_legendre(order)
    for x in nodes.tolist():
        # Near a zero x0, |P_n(x)| = |P_n'| |x - x0| with |P_n'| <= n^2 on [-1, 1]: a node a few
        # ulps off leaves |P_n| below n^2 times 64 eps; a wrong node leaves ~ 1/n or more.
        assert abs(float(mpmath.legendre(order, x))) < order**2 * _EXACT


@pytest.mark.parametrize("order", [3, 4, 6, 8, 12, 16, 20])
def test_gauss_lobatto_holds_both_ends_and_is_exact_to_degree_2n_minus_3(order: int) -> None:
    nodes, weights = quadrature.gauss_lobatto(order)
    assert nodes.shape == weights.shape == (order,)
    assert nodes[0].item() == -1.0
    assert nodes[-1].item() == 1.0
    # The end weights are 2 / (n (n - 1)) for n points.
    assert weights[0].item() == pytest.approx(2 / (order * (order - 1)), rel=1e-13)
    for k in range(2 * order - 2):
        assert _rule_sum(nodes, weights, k) == pytest.approx(_moment(k), rel=0, abs=_EXACT)
    n, degree = order, 2 * order - 2
    error = -(n * (n - 1) ** 3 * 2 ** (2 * n - 1) * math.factorial(n - 2) ** 4) / (
        (2 * n - 1) * math.factorial(2 * n - 2) ** 2
    )
    assert _moment(degree) - _rule_sum(nodes, weights, degree) == pytest.approx(
        error, rel=0, abs=_EXACT
    )


def test_the_adaptive_panels_end_strictly_inside_and_a_kink_on_an_edge_costs_no_refinement() -> (
    None
):
    # The panel rule's ends are pulled inward so that relu's kink at 0, a panel edge, is seen as
    # the one-sided limits on either side: E[relu'(z)^2] = 1/2 then converges on the first
    # panels, with as few evaluations as a smooth integrand. Sampled at the edge itself
    # (relu'(0) = 0 on the right panel), the halves disagree and the panels there are halved
    # down to 1e-12 wide.
    calls = 0

    def slope_squared(z: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += z.numel()
        return (z > 0).to(z.dtype)

    assert quadrature.gaussian_expectation(slope_squared) == pytest.approx(0.5, rel=1e-12)
    kink_calls = calls
    calls = 0
    assert quadrature.gaussian_expectation(
        lambda z: slope_squared(z) * 0 + torch.exp(-z * z)
    ) == pytest.approx(1 / math.sqrt(3), rel=1e-12)
    assert kink_calls <= calls
