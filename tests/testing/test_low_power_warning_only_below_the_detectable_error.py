"""check_layer warns of low power only where its sample cannot see ``detectable``.

Promise (check_layer's docstring): "Where the weights cannot see a ``detectable`` error ... with
probability ``power``, a LowPowerWarning states what they do see". detectable_error is defined
as "the smallest relative variance error that the variance check on n weights sees with
probability at least power": so at ``detectable = detectable_error(n, ...)`` exactly, the weights
do see it and no warning is due; at the next float below it they do not, and one is.
The weights here (uniform, n = 64 x 16 x 3 x 3 = 9,216) see about 7%; the layer has no bias, so
the bias adds no warning of its own. The layer's own checks run at ALPHA_CHECK each (fixed seed).
"""

from __future__ import annotations

import math
import warnings

import pytest

import initconv
from initconv.testing import ALPHA_CHECK, POWER, LowPowerWarning, check_layer, detectable_error


def test_no_warning_where_detectable_is_exactly_what_the_sample_sees() -> None:
    layer = initconv.XavierUniformConv2d(16, 64, 3, seed=0, bias=False)
    seen = detectable_error(layer.weight.numel(), "uniform", ALPHA_CHECK, POWER)
    assert 0 < seen < 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowPowerWarning)
        check_layer(layer, detectable=seen)
    with pytest.warns(LowPowerWarning, match="one layer is too small a sample"):
        check_layer(layer, detectable=math.nextafter(seen, 0.0))
