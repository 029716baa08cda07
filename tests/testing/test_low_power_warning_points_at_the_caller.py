"""check_layer's LowPowerWarning is reported at the line that called check_layer.

Promise: a warning names the user's code that can act on it (Python's ``stacklevel``
convention; check_layer's docstring: the warning says what the sample sees and to pass
``pool=True`` or ``detectable=None``, arguments of that call). A warning attributed to the
kit's own module, or to the caller's caller (here pytest's machinery), points elsewhere.
A 3 -> 32 channel 3x3 convolution's 864 weights see only a ~43% error (check_layer's docstring),
so the default 5% warns; its own checks run at ALPHA_CHECK each (fixed seed).
"""

from __future__ import annotations

import inspect
import warnings

import initconv
from initconv.testing import LowPowerWarning, check_layer


def current_line() -> int:
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


def test_the_warning_is_attributed_to_the_calling_line() -> None:
    layer = initconv.KaimingNormalConv2d(3, 32, 3, seed=0, bias=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = current_line() + 1
        check_layer(layer)
    low = [w for w in caught if issubclass(w.category, LowPowerWarning)]
    assert len(low) == 1
    assert (low[0].filename, low[0].lineno) == (__file__, line)
