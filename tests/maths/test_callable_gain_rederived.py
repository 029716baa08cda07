"""A callable's derived gain follows its parameters: change them and the next gain is derived anew.

Theory: for phi_k(x) = k f(x), E[phi_k(z)^2] = k^2 E[f(z)^2], so gain(phi_k) = gain(f) / |k|;
for phi(x) = f(x / s) the gain is that of f at scale 1/s, computed here by Simpson's rule from the
written-out function (tests/_reference_theory.py), independently of initconv's quadrature and cache.
The parameter is changed on the same object, as an attribute or in place in a Parameter, so a
cache keyed by the object (or by anything but its behaviour) returns the old gain.

Planted defect this catches (checked by hand): the derived-gain cache consulted by the callable's
identity alone in ``initconv/_maths/derived_gain.py``.
"""

from __future__ import annotations

import torch
from _reference_theory import derived_gain
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import initconv


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k = 1.0
        self.s = nn.Parameter(torch.ones(()), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.k * torch.tanh(x / self.s)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.5, 1.0, 2.0, 3.0]), st.sampled_from([0.5, 1.0, 2.0])),
                min_size=2, max_size=3))  # fmt: skip
def test_the_gain_of_a_changed_callable_is_derived_again(
    settings_: list[tuple[float, float]],
) -> None:
    act = Scaled()
    for k, s in settings_:
        act.k = k
        with torch.no_grad():
            act.s.fill_(s)
        expected = derived_gain(lambda x, k=k, s=s: k * torch.tanh(x / s))
        assert abs(initconv.gain(act) - expected) <= 1e-6 * expected
