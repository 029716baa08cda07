"""check_scheme's report on a structured scheme names the exact second-moment check it ran.

Promise (check_scheme's docstring): for structured schemes, mean((w - m)^2) "must equal
expected_variance() to float rounding on every layer (check_layer)", and SchemeReport.checks
holds "the names of the checks that ran and passed". check_layer's own name for that check is
"exact second moment" (its docstring example), so the report must carry that name, whether the
layers have a (constant) bias or none. The layers are small and deterministic (identity and
orthogonal schemes check exactly, with no false-alarm rate of their own beyond the bias pool's,
which is constant here).
"""

from __future__ import annotations

import pytest

import initconv
from initconv.testing import check_scheme


@pytest.mark.parametrize("bias", [True, False])
def test_the_report_names_the_exact_second_moment_check(bias: bool) -> None:
    cases = [
        (initconv.IdentityLinear, "linear", {"in_features": 8, "out_features": 8}),
        (
            initconv.OrthogonalConv2d,
            "conv2d",
            {"in_channels": 8, "out_channels": 16, "kernel_size": 3},
        ),
    ]
    for scheme, kind, shape in cases:
        report = check_scheme(scheme, kinds=kind, shapes=[shape], bias=bias)
        assert report.n == 0  # structured: nothing pooled
        assert "exact second moment" in report.checks
        assert ("bias constant" in report.checks) == bias
