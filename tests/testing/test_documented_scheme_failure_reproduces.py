"""``check_scheme``'s default run is reproducible: docs/extending.md's quoted failure is what it
prints, in this process as in a fresh one.

``check_scheme`` has a default ``seed``: "the root of every layer's seed", so that a scheme's test
gives the same verdict, with the same numbers, every time it runs. docs/extending.md relies on it:
it breaks its own example scheme by 5% of variance and quotes, to the digit, the line
``check_scheme(DepthScaled, depth=4, activation="gelu")`` then fails with (the observed ratio, the
band and the pooled n). tests/testing/test_testing_kit.py checks that quote in a fresh
interpreter, as a slow test; this one runs the same documented call in-process, fast, so a default
that moved (another seed root, other default shapes for the first kind checked, another pooling)
cannot leave the page quoting a run nobody can reproduce.

The quote is read from the page and the scheme is the page's own code with the page's own edit,
so the test holds whatever the documentation says, not a copy of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _markdown import example

from initconv.testing import check_scheme

EXTENDING = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def test_the_documented_five_percent_failure_is_the_line_the_default_run_prints(
    clean_schemes: None,
) -> None:
    code = example(EXTENDING, "my scheme")
    broken = code.replace(
        "math.sqrt(self.depth * self.fan_in)", "math.sqrt(self.depth * self.fan_in * 0.95)"
    )
    assert broken != code
    quoted = re.search(r"`(variance does not match: .*?)`", EXTENDING.read_text(encoding="utf-8"))
    assert quoted is not None
    namespace: dict[str, Any] = {"__name__": "my_schemes"}
    exec(compile(broken, "my_schemes.py", "exec"), namespace)
    with pytest.raises(AssertionError) as caught:
        check_scheme(namespace["DepthScaled"], depth=4, activation="gelu")
    assert quoted.group(1) in str(caught.value), str(caught.value)
