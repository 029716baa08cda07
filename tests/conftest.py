"""Hypothesis profiles and the suite's false-alarm budget (issue 3, shared/STATS.md).

Profiles, chosen by ``HYPOTHESIS_PROFILE`` (or pytest's ``--hypothesis-profile``, which wins):

- ``ci``: derandomized, ``CI_EXAMPLES`` examples per test, no database: every CI run draws the same
  examples. The default when ``CI=true``.
- ``dev``: randomized, ``DEV_EXAMPLES`` examples per test: a wider hunt before a release.
- ``local``: randomized, ``CI_EXAMPLES`` examples: the default elsewhere, as cheap as ``ci``.

Every statistical check in the suite runs at ``ALPHA_CHECK`` (from :mod:`initconv.testing`; use it
in new tests). The union bound caps the probability that a run of correct code fails anywhere:

    P(false alarm in a run) <= sum over checks of alpha = checks x ALPHA_CHECK (+ checks at others)

counting each Hypothesis test as 2 x max_examples examples (generation plus replays, STATS.md). Per
run, with S registered schemes, A built-in activations and N = max_examples:

    test_properties, theory:    S x 2N x 4 (variance, mean, KS, channels)   15 x 200 x 4 = 12,000
                                (structured: 1, the seed-dependence probe)
    test_properties, contract:  S x 2N x 1 (two seeds repeat, <= 2^-32)      15 x 200     =  3,000
    check_scheme, per scheme:   S x 6 (incl. the new-scheme tests)          17 x 6       =    102
    test_propagation:           A x 2(N/4) x 1 (conditional gamma band)     19 x 50      =    950
    test_testing_kit:           every assertion, power meta-test, README run  < 1,000
    test_robustness:            21 x 2(N/4): check_layer's 4 in each layer   21 x 50      =  1,050
                                test (2), variance_scaling_'s band (1),
                                convert's 2 layers (8), seed_modules' 1 (4)
                                                                            ---------------------
                                                                            < 1.9 x 10^4 checks
    x ALPHA_CHECK = 1e-9                                                    < 1.9e-5
    checks at their own alpha (test_layers: 2 at 1e-6, test_structured: 1)   3.0e-6
    whole suite, ci or local profile                                        < 2.2e-5  < 1e-4

Tests marked slow run apart (``-m slow``): the pooled n >= 1e6 check_scheme per scheme (S x 5) and
one dev-sized sweep (2 x 1,000 x 5): ~10^4 checks, < 1e-5 per run.

The ``dev`` profile (N = 1,000) runs ~1.7 x 10^5 checks: < 1.8e-4 per run, by the same arithmetic.
:func:`suite_false_alarm_bound` recomputes the bound from the live registry; test_testing_kit.py
asserts it stays below 1e-4 for ``ci``, so a scheme added later that would overrun the budget
fails loudly instead of quietly making the suite flaky.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

import initconv
from initconv._activations import resolve
from initconv._scheme import restore_registry
from initconv.testing import ALPHA_CHECK

CI_EXAMPLES = 100
DEV_EXAMPLES = 1_000
SUITE_ALPHA = 1e-4

# Statistical checks per Hypothesis example, and per-run fixed counts, as in the table above.
_THEORY_CHECKS, _CONTRACT_CHECKS, _PROPAGATION_CHECKS = 4, 1, 1
# test_robustness.py, per example of its quarter-sized runs: 4 + 4 (the two layer tests) + 1
# (variance_scaling_) + 8 (convert) + 4 (seed_modules), each only when the hostile value is taken.
_ROBUSTNESS_CHECKS = 21
_FIXED_CHECKS = 6 * 2 + 1_000  # the two new-scheme tests' check_scheme calls; test_testing_kit
_OTHER_FILES = 3 * 1e-6  # test_layers (2) and test_structured (1) at their own alpha = 1e-6

settings.register_profile(
    "ci", derandomize=True, max_examples=CI_EXAMPLES, deadline=None, database=None, print_blob=True
)
settings.register_profile("dev", max_examples=DEV_EXAMPLES, deadline=None)
settings.register_profile("local", max_examples=CI_EXAMPLES, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() == "true" else "local")
)


def suite_false_alarm_bound(max_examples: int) -> float:
    """The union bound above: the suite's false-alarm probability per run at ``max_examples``."""
    schemes = len(initconv.schemes())
    activations = len(BUILTIN_ACTIVATIONS)
    examples = 2 * max_examples
    checks = (
        schemes * examples * (_THEORY_CHECKS + _CONTRACT_CHECKS)
        + schemes * 6
        + activations * 2 * max(10, max_examples // 4) * _PROPAGATION_CHECKS
        + 2 * max(10, max_examples // 4) * _ROBUSTNESS_CHECKS
        + _FIXED_CHECKS
    )
    return checks * ALPHA_CHECK + _OTHER_FILES


# The canonical built-in activations: every name activations() lists, aliases and registrations
# by other tests aside (resolved once, here, before any test registers one).
BUILTIN_ACTIVATIONS: tuple[str, ...] = tuple(
    sorted({resolve(name).name for name in initconv.activations()})
)


@pytest.fixture
def clean_schemes() -> Iterator[None]:
    """Restore the scheme registry after a test that registers its own schemes."""
    saved = initconv.schemes()
    yield
    restore_registry(saved)
