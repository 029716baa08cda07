"""check_scheme given only shapes its scheme refuses raises the scheme's own error for the first.

Promise (``_served_shapes``: "Build the first one for real: the scheme's own error says what it
needs"): check_scheme builds the given shapes the scheme serves; when it serves none, the
``ValueError`` the user sees is the one the scheme's constructor raises for the first shape given,
so it names what the scheme needs and the first shape's own values, for a single shape as for
several. The identity scheme refuses a strided transposed convolution ("needs stride 1 ...; got
stride=(s, s)"), which makes the shape it speaks of visible in the message.
"""

from __future__ import annotations

import pytest

import initconv
from initconv.testing import check_scheme


def _strided(stride: int) -> dict[str, int]:
    return {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": stride}


def test_a_single_refused_shape_raises_the_schemes_error() -> None:
    with pytest.raises(ValueError, match=r"needs stride 1 .*got stride=\(2, 2\)"):
        check_scheme(initconv.IdentityConvTranspose2d, shapes=[_strided(2)])


def test_several_refused_shapes_raise_the_schemes_error_for_the_first() -> None:
    with pytest.raises(ValueError, match=r"needs stride 1 .*got stride=\(3, 3\)"):
        check_scheme(initconv.IdentityConvTranspose2d, shapes=[_strided(3), _strided(2)])
