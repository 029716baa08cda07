"""When its budget runs out, ``gaussian_expectation`` states the tolerance it was held to: the
relative one always, an absolute one only when the caller gave one.

The promise is ``gaussian_expectation``'s docstring (initconv/_maths/quadrature.py): the answer is
"within max(tol, rtol * E[|f(z)|])". An absolute tolerance ``tol = 0`` (the default, and what every
derived gain passes) makes max(0, rtol E|f|) the relative tolerance alone: there is no absolute one,
and a refusal that claimed "or absolute 0" would state a tolerance nobody asked for. A positive
``tol`` is part of the target, and the refusal must show it.

The budget is exhausted at once, whatever f: the first panels take 96 x 16 = 1,536 points (the
smallest budget allowed) and the first halving needs 2 x 96 x 16 more.
"""

from __future__ import annotations

import pytest
from torch import Tensor

from initconv._maths.quadrature import QuadratureError, gaussian_expectation

_FIRST_PANELS = 96 * 16


def _square(z: Tensor) -> Tensor:
    return z * z


def test_without_an_absolute_tolerance_the_refusal_names_only_the_relative_one() -> None:
    with pytest.raises(QuadratureError, match="did not converge to a relative") as caught:
        gaussian_expectation(_square, max_evaluations=_FIRST_PANELS)
    assert "absolute" not in str(caught.value), str(caught.value)


def test_with_an_absolute_tolerance_the_refusal_names_both() -> None:
    with pytest.raises(QuadratureError, match="did not converge to a relative") as caught:
        gaussian_expectation(_square, 0.001, max_evaluations=_FIRST_PANELS)
    assert "or absolute 0.001 within" in str(caught.value), str(caught.value)
