"""An activation that is 0 at every probe point but not beyond the probe still gets its gain, at
any size whose square float64 holds.

The promise is ``unit_scale``'s and ``_integrate``'s in initconv/_maths/derived_gain.py: phi is
divided by "the power of 2 at or just below the largest finite |output| (1 if there is none)", an
exact rescaling "so that phi = ... 1e200 x (whose square overflows) has its gain too". Where there
is none (phi is 0 on the whole probe, [-8, 8]) the scale is 1, so the quadrature integrates
phi(z)^2 itself, which is finite wherever |phi| < 2^512.

The theory: phi = c 1{z > 8} is 0 at every probe point (the probe's largest point is 8 itself) and
E[phi(z)^2] = c^2 P(z > 8) = c^2 Phi(-8), so gain = 1 / (c sqrt(Phi(-8))) (mpmath, 30 digits).
With c = 2^511, phi^2 = 2^1022 is an ordinary float64 and so is the gain (6e-147); a scale
below 1 would make the quadrature's integrand (phi / scale)^2 >= 2^1024, infinite.
"""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import torch
from torch import Tensor

import initconv
from initconv._maths.derived_gain import probe_values

_HEIGHT = 2.0**511


def beyond_the_probe(x: Tensor) -> Tensor:
    return _HEIGHT * (x > 8.0).to(x.dtype)


def test_an_activation_zero_on_the_probe_gets_the_gain_of_its_values_beyond_it() -> None:
    with mpmath.workdps(30):
        tail = mpmath.ncdf(-8)
        expected = float(1 / (mpmath.mpf(_HEIGHT) * mpmath.sqrt(tail)))
        # f phi = phi(z)^2 phi(z) jumps at z = 8 by c^2 pdf(8): relative to E[f] = c^2 Phi(-8)
        # that is pdf(8) / Phi(-8) = 8.1.
        jump_share = float(mpmath.npdf(8) / tail)
    # The quadrature is within 1e-12 of E[f] (f = phi^2 >= 0, so E[|f|] = E[f]) plus about
    # 1e-12 times each jump of f phi: a relative 1e-12 (1 + 8.1) in E[phi^2], half that in
    # E[phi^2]^-1/2, the gain. The bound below is twice that half, for the "about" and the
    # rounding of the last few operations (1e-16 each).
    allowed = 1e-12 * (1 + jump_share)
    assert math.isclose(initconv.gain(beyond_the_probe), expected, rel_tol=allowed)


def test_its_outputs_on_the_probe_are_all_zero() -> None:
    # The premise of the test above: the probe's points lie in [-8, 8], and phi^2 is finite.
    assert bool((beyond_the_probe(probe_values()) == 0).all())
    assert float(probe_values().max()) == 8.0
    assert torch.isfinite(beyond_the_probe(torch.tensor([9.0], dtype=torch.float64)) ** 2).all()
