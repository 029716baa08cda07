"""Hypothesis profiles and the suite's false-alarm budget.

Profiles, chosen by ``HYPOTHESIS_PROFILE`` (or pytest's ``--hypothesis-profile``, which wins):

- ``ci``: derandomized, ``CI_EXAMPLES`` examples per test, no database: every CI run draws the same
  examples. The default when ``CI=true``.
- ``dev``: randomized, ``DEV_EXAMPLES`` examples per test: a wider hunt before a release.
- ``local``: randomized, ``CI_EXAMPLES`` examples: the default elsewhere, as cheap as ``ci``.

Every statistical check in the suite runs at ``ALPHA_CHECK`` (from :mod:`initconv.testing`; use it
in new tests). The union bound caps the probability that a run of correct code fails anywhere:

    P(false alarm in a run) <= sum over checks of alpha = checks x ALPHA_CHECK (+ checks at others)

counting each Hypothesis test as 2 x max_examples examples (generation plus replays). Per
run, with S registered schemes, K = 7 layer kinds (an upper bound on those a scheme serves), A
built-in activations and N = max_examples:

    test_properties, theory:    S x 2N x 10 (variance, mean, KS, channels   16 x 200 x 10 = 32,000
                                against the layer's theory; variance, mean
                                against the reference's; a random bias's
                                variance and mean, by the kit and by the
                                reference; structured: fewer)
    test_properties, contract:  S x 2N x 1 (two seeds repeat, <= 2^-32)      16 x 200     =  3,200
    check_scheme, per scheme:   S x K x 7 (4 on each kind's pool + seeds   16 x 7 x 7   =    784
                                + a random bias's pooled variance, mean)
    the new-scheme test's sweep: 2N x 5 (its Hypothesis run of one scheme)   200 x 5      =  1,000
    test_properties, fixed:     the truncated normal to 1% (variance, KS)                    2
    test_propagation:           A x 2(N/4) x 1 (conditional gamma band)     19 x 50      =    950
    test_testing_kit:           every assertion, power meta-test, README run  < 1,000
    test_robustness:            29 x 2(N/4): check_layer's 6 (4 weight, 2   29 x 50      =  1,450
                                bias) in each layer test (2), variance_
                                scaling_'s band (1), convert's 2 layers
                                (12), seed_modules' 1 (4)
    test_mup:                   1 x 2(N/4) (a µP law per kind and role)     1 x 50       =     50
                                + 13 fixed (laws after reset, load, to_empty,
                                bias, depth, Xavier, the power check)                         13
    tests/maths, tests/testing: zero-mean draws' variances and reach, the   < 300
    (beyond the kit file)       truncated normal's cut and redraws, the
                                orthogonality check's draws; the kit's
                                checks of its own laws and messages
                                                                            ---------------------
                                                                            < 4.2 x 10^4 checks
    x ALPHA_CHECK = 1e-9                                                    < 4.2e-5
    checks at their own alpha (test_layers: 2 at 1e-6, test_structured: 1)   3.0e-6
    whole suite, ci or local profile                                        < 4.5e-5  < 1e-4

Exact checks are not in the sum: they fail only on a wrong value, except the test that no two
groups of a structured layer hold the same block, whose chance tie is below 2^-64 per pair
(3 x 2N examples x 6 pairs: < 1e-16).

The default run draws a tenth of N for the two per-scheme property tests (the table counts all
N, so it stays an upper bound); the slow run draws them at full N.

Tests marked slow run apart (``-m slow``): the pooled n >= 1e6 check_scheme per scheme (S x K x 7),
one dev-sized sweep (2 x 1,000 x 11) and the full per-scheme sweeps (S x 2N x 11 = 35,200):
~5.8 x 10^4 checks, < 6e-5 per run.

The ``dev`` profile (N = 1,000) runs ~3.6 x 10^5 checks: < 3.7e-4 per run, by the same arithmetic.
:func:`suite_false_alarm_bound` recomputes the bound from the live registry; test_testing_kit.py
asserts it stays below 1e-4 for ``ci``, so a scheme added later that would overrun the budget
fails loudly instead of quietly making the suite flaky.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

# One intra-op thread, here and in the interpreters the tests start: the suite's tensors are small,
# and on a busy machine torch's idle threads spin, so its CPU time would depend on the load and the
# core count. Tests of thread independence set their own counts and restore this one.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest
import torch
from hypothesis import HealthCheck, settings

import initconv
from initconv import _activations
from initconv._activations import resolve
from initconv._schemes.base import restore_registry
from initconv.testing import ALPHA_CHECK

CI_EXAMPLES = 100
DEV_EXAMPLES = 1_000
SUITE_ALPHA = 1e-4

# Statistical checks per Hypothesis example, and per-run fixed counts, as in the table above.
_THEORY_CHECKS, _CONTRACT_CHECKS, _PROPAGATION_CHECKS = 10, 1, 1
_KINDS, _CHECKS_PER_KIND = 7, 7  # check_scheme: every kind a scheme serves, 7 checks on each
_NEW_SCHEME_SWEEP = 5  # per example of the new-scheme test's own Hypothesis run
# test_hostile_inputs.py, per example of its quarter-sized runs: 6 + 6 (the two layer tests) + 1
# (variance_scaling_) + 12 (convert) + 4 (seed_modules), each only when the hostile value is taken.
_ROBUSTNESS_CHECKS = 29
# tests/model/test_mup.py: one law per example of its quarter-sized run, and 13 fixed checks.
_MUP_CHECKS, _MUP_FIXED = 1, 13
# tests/maths's statistical checks of the draws and tests/testing's beyond test_testing_kit.py
# (an upper bound on their count)
_DRAW_CHECKS = 300
# new-scheme check_scheme, truncated normal, kit, µP's fixed checks, the draws
_FIXED_CHECKS = 2 * _CHECKS_PER_KIND + 2 + 1_000 + _MUP_FIXED + _DRAW_CHECKS
_OTHER_FILES = 3 * 1e-6  # test_layers (2) and test_structured (1) at their own alpha = 1e-6

torch.set_num_threads(1)

# No timing in a test's verdict: no deadline per example, and no health check on how long drawing
# takes (a drawn critical layer solves its critical line; on a loaded machine that tripped it).
_UNTIMED: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile(
    "ci", derandomize=True, max_examples=CI_EXAMPLES, database=None, print_blob=True, **_UNTIMED
)
settings.register_profile("dev", max_examples=DEV_EXAMPLES, **_UNTIMED)
settings.register_profile("local", max_examples=CI_EXAMPLES, **_UNTIMED)
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
        + schemes * _KINDS * _CHECKS_PER_KIND
        + examples * _NEW_SCHEME_SWEEP
        + activations * 2 * max(10, max_examples // 4) * _PROPAGATION_CHECKS
        + 2 * max(10, max_examples // 4) * (_ROBUSTNESS_CHECKS + _MUP_CHECKS)
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


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the activation registry after a test that registers its own activations."""
    saved = dict(_activations._REGISTERED)
    yield
    _activations._REGISTERED.clear()
    _activations._REGISTERED.update(saved)
