"""initconv's own orthogonal factorisation: Haar distributed, orthogonal to the precision asked
for, and the same bits for the same generator at any thread count."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from _support import slow_except
from torch import nn

import initconv
from initconv._maths.orthogonality import (
    FLOAT32_PRECISION,
    FLOAT64_PRECISION,
    column_sums,
    haar_orthogonal,
    reproducible_matmul,
)
from initconv.testing import ALPHA_CHECK

_ROOT = Path(__file__).resolve().parents[2]
_CPU = torch.device("cpu")


def _generator(seed: int) -> torch.Generator:
    return initconv.seeded_generator(seed)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# The orthogonal family, seeded, at shapes where LAPACK's QR splits its work between threads.
_FAMILY: dict[str, Callable[[], nn.Module]] = {
    "orthogonal conv": lambda: initconv.OrthogonalConv2d(64, 64, 3, seed=1),
    "orthogonal conv, float64": lambda: initconv.OrthogonalConv2d(
        16, 32, 3, seed=1, dtype=torch.float64
    ),
    "orthogonal grouped conv": lambda: initconv.OrthogonalConv2d(64, 64, 3, groups=2, seed=5),
    "delta-orthogonal conv": lambda: initconv.DeltaOrthogonalConv2d(64, 128, 3, seed=2),
    "critical conv": lambda: initconv.CriticalConv2d(64, 64, 3, activation="tanh", seed=3),
    "orthogonal linear": lambda: initconv.OrthogonalLinear(256, 96, seed=4),
}


def _weights() -> dict[str, torch.Tensor]:
    return {name: build().weight.detach().clone() for name, build in _FAMILY.items()}


def test_seeded_orthogonal_family_weights_are_bit_identical_for_1_2_and_3_threads(
    restore_threads: None,
) -> None:
    drawn = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        drawn[threads] = _weights()
    for threads in (2, 3):
        for name, weight in drawn[threads].items():
            assert torch.equal(weight, drawn[1][name]), f"{name}: {threads} threads differ from 1"


_SCRIPT = """
import hashlib, os, sys, torch
torch.set_num_threads(int(sys.argv[1]))
sys.path[:0] = [sys.argv[2], os.path.join(sys.argv[2], "tests")]  # the test module and its helpers
from tests.maths.test_orthogonality import _weights
for name, weight in _weights().items():
    print(name, hashlib.sha256(weight.numpy().tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_seeded_orthogonal_family_weights_are_bit_identical_in_fresh_processes() -> None:
    # Each process sets its thread count before any work, as a launcher or a job scheduler would.
    env = {**os.environ, "PYTHONPATH": f"{_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    outputs = {
        threads: subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(threads), str(_ROOT)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=_ROOT,
        ).stdout
        for threads in (1, 2, 3)
    }
    assert len(outputs[1].splitlines()) == len(_FAMILY)
    assert outputs[1] == outputs[2] == outputs[3]


def test_reproducible_matmul_gives_the_same_bits_for_any_thread_count(
    restore_threads: None,
) -> None:
    a = torch.randn(96, 4096, generator=_generator(1), dtype=torch.float64)
    b = torch.randn(4096, 160, generator=_generator(2), dtype=torch.float64)
    products = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        products[threads] = reproducible_matmul(a, b)
    assert torch.equal(products[1], products[2])
    assert torch.equal(products[1], products[3])


def _exact_product(a: torch.Tensor, b: torch.Tensor) -> list[list[Fraction]]:
    rows = [[Fraction(float(x)) for x in row] for row in a.tolist()]
    cols = [[Fraction(float(x)) for x in col] for col in b.t().tolist()]
    return [
        [sum((x * y for x, y in zip(r, c, strict=True)), Fraction(0)) for c in cols] for r in rows
    ]


@pytest.mark.parametrize(
    ("precision", "inner"), [(FLOAT64_PRECISION, 37), (FLOAT32_PRECISION, 300)]
)
def test_reproducible_matmul_is_within_its_stated_error_of_the_exact_product(
    precision: int, inner: int
) -> None:
    # The docstring's bound: what is left out is below (s + 1) k 2^(-s beta) times the largest
    # entries of the row and the column, with s beta >= precision + 3; then a few roundings of the
    # result. So |error| <= k 2^-(precision - 1) A_i B_j is generous and still tight enough to
    # fail for a product that dropped a slice (error ~ 2^-beta) or summed in float32.
    a = torch.randn(4, inner, generator=_generator(3), dtype=torch.float64)
    b = torch.randn(inner, 5, generator=_generator(4), dtype=torch.float64)
    a[0] *= 1e-3  # rows and columns on other scales each keep their own
    b[:, 1] *= 1e5
    got = reproducible_matmul(a, b, precision=precision)
    exact = _exact_product(a, b)
    for i in range(4):
        for j in range(5):
            scale = float(a[i].abs().max()) * float(b[:, j].abs().max())
            bound = inner * 2.0 ** -(precision - 1) * scale + 4 * abs(float(exact[i][j])) * 2.0**-53
            assert abs(float(Fraction(float(got[i, j])) - exact[i][j])) <= bound, (i, j)


def test_reproducible_matmul_of_integers_is_the_exact_integer_product() -> None:
    a = torch.randint(-1000, 1000, (7, 50), generator=_generator(5)).double()
    b = torch.randint(-1000, 1000, (50, 9), generator=_generator(6)).double()
    assert torch.equal(reproducible_matmul(a, b), (a.long() @ b.long()).double())


def test_reproducible_matmul_of_empty_and_zero_matrices() -> None:
    assert reproducible_matmul(torch.ones(3, 0, dtype=torch.float64), torch.ones(0, 2)).shape == (
        3,
        2,
    )
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    assert torch.equal(
        reproducible_matmul(zeros, zeros.t()), torch.zeros(3, 3, dtype=torch.float64)
    )


def test_column_sums_is_a_fixed_pairwise_sum() -> None:
    values = torch.arange(1.0, 12.0, dtype=torch.float64)[:, None] * torch.ones(1, 3)
    assert torch.equal(column_sums(values), torch.full((3,), 66.0, dtype=torch.float64))
    assert column_sums(torch.ones(0, 2)).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("precision", "atol"), [(FLOAT64_PRECISION, 1e-13), (FLOAT32_PRECISION, 1e-8)]
)
@pytest.mark.parametrize(("rows", "cols"), [(64, 576), (300, 40), (33, 33), (1, 9), (9, 1)])
def test_haar_orthogonal_is_orthogonal_to_the_precision_asked_for(
    rows: int, cols: int, precision: int, atol: float
) -> None:
    # Float64 Householder accumulation is good to a small multiple of n eps (2e-16 n); the float32
    # tier drops products below 2^-27 of the largest and stays far inside float32's eps (1.2e-7).
    q = haar_orthogonal(rows, cols, _CPU, _generator(7), precision=precision)
    assert q.shape == (rows, cols)
    assert q.dtype == torch.float64
    gram = q @ q.t() if rows <= cols else q.t() @ q
    error = float((gram - torch.eye(min(rows, cols), dtype=torch.float64)).abs().max())
    assert error <= atol


def _bernstein_bound(count: int, variance: float, reach: float) -> float:
    """t with P(|mean of count iid zero-mean values| > t) <= ALPHA_CHECK, each within +-reach."""
    # Bernstein: P(|mean| >= t) <= 2 exp(-N t^2 / (2 (sigma^2 + reach t / 3))); solve = alpha.
    log_term = 2 * math.log(2 / ALPHA_CHECK)
    b = log_term * reach / 3 / count
    return (b + math.sqrt(b * b + 4 * log_term * variance / count)) / 2


@pytest.mark.parametrize(("rows", "cols"), slow_except([(5, 5), (8, 4), (4, 8)], keep=(5, 5)))
def test_haar_orthogonal_diagonal_has_the_haar_mean_and_second_moment(rows: int, cols: int) -> None:
    # For Haar Q on the Stiefel manifold (m x n orthonormal columns, m >= n), each diagonal entry
    # Q_jj has E Q_jj = 0 (flip the sign of row j) and E Q_jj^2 = 1 / m, with |Q_jj| <= 1 and
    # E Q_jj^4 = 3 / (m (m + 2)). A missing sign correction moves the mean (torch.linalg.qr's Q:
    # about -0.2 per entry here); a reflection built from the wrong entries moves the second
    # moment of the later columns.
    count = 4000
    m = max(rows, cols)
    generator = _generator(11)
    draws = torch.stack([haar_orthogonal(rows, cols, _CPU, generator) for _ in range(count)])
    diagonal = draws.diagonal(dim1=1, dim2=2)
    mean_bound = _bernstein_bound(count, 1 / m, 1.0)
    second = 1 / m
    second_bound = _bernstein_bound(count, 3 / (m * (m + 2)) - second**2, 1.0)
    for j in range(min(rows, cols)):
        assert abs(float(diagonal[:, j].mean())) <= mean_bound, j
        assert abs(float(diagonal[:, j].pow(2).mean()) - second) <= second_bound, j
    # Power: the uncorrected QR of Gaussian draws of the same shape is rejected.
    gaussian = torch.randn(count, m, min(rows, cols), generator=_generator(12), dtype=torch.float64)
    uncorrected = torch.linalg.qr(gaussian).Q.diagonal(dim1=1, dim2=2)
    assert abs(float(uncorrected[:, 0].mean())) > mean_bound


def test_haar_orthogonal_takes_the_generator_and_leaves_the_global_one_alone() -> None:
    state = torch.random.get_rng_state()
    first = haar_orthogonal(12, 20, _CPU, _generator(1))
    again = haar_orthogonal(12, 20, _CPU, _generator(1))
    other = haar_orthogonal(12, 20, _CPU, _generator(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(torch.random.get_rng_state(), state)
