"""A scaling of a layer's output is linear arithmetic, however torch spells it, including its
deprecated ``alpha`` overloads ``torch.add(input, alpha, other)`` and ``torch.sub(input, alpha,
other)``.

docs/convert.md, "An activation is what it does": "A region of scalings and shifts alone is linear
arithmetic, skipped", as a residual add is; the layer's activation is then what follows, here the
next weight layer: ``linear``, gain 1.

torch still accepts (with a deprecation warning) the old argument order in which the scalar
multiplier comes second: ``torch.add(h, 2, h)`` is input + alpha * other = h + 2 h = 3 h, and
``torch.sub(h, 2, h)`` is h - 2 h = -h (checked below on numbers, so the test does not rest on
the reading). Both are a scaling of h alone: the layer is linear. Read as anything else (the
shift h + 2, say), the layer would get that function's derived gain, 1 / sqrt(E[(z + 2)^2]) =
1 / sqrt(5), silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
from _support import Between, convert_warned
from torch import Tensor

_DEPRECATED = "This overload of"  # torch's own warning for the alpha-second spellings


def _add_alpha_second(h: Tensor) -> Tensor:
    return torch.add(h, 2, h)


def _sub_alpha_second(h: Tensor) -> Tensor:
    return torch.sub(h, 2, h)


# Each spelling and the multiple of h it computes.
SCALINGS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "3 * h": (lambda h: 3 * h, 3.0),
    "torch.add(h, 2, h)": (_add_alpha_second, 3.0),
    "torch.sub(h, 2, h)": (_sub_alpha_second, -1.0),
}


@pytest.mark.parametrize("spelling", list(SCALINGS))
def test_each_spelling_computes_the_multiple_it_is_named_for(spelling: str) -> None:
    phi, multiple = SCALINGS[spelling]
    h = torch.tensor([1.0, -2.0, 0.5])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATED)
        assert torch.equal(phi(h), multiple * h)


@pytest.mark.parametrize("mode", ["traced", "run"])
@pytest.mark.parametrize("spelling", list(SCALINGS))
def test_a_layer_followed_by_a_scaling_in_any_spelling_is_linear(spelling: str, mode: str) -> None:
    report, warned = convert_warned(Between(SCALINGS[spelling][0]), mode)
    row = report["fc"]
    assert row not in report.fallbacks, row.detail
    assert [message for message in warned if _DEPRECATED not in message] == []
    assert (row.activation, row.source) == ("linear", mode), row.detail
    assert row.gain == 1.0
