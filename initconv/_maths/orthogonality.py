"""Whether blocks of a weight are orthogonal up to a gain: the one tolerance, for the structured
schemes' invariants and for :func:`initconv.testing.assert_orthogonal`."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import cast

import torch
from torch import Tensor

__all__: list[str] = []

# Float32 QR leaves errors <= 1.6e-7 in W W^T; 1e-5 g^2 leaves room for every QR kernel.
_QR_ATOL = 1e-5


def blocks(weight: Tensor, groups: int) -> tuple[int, int]:
    """The (rows, cols) of each group's block of ``weight`` flattened after dim 0."""
    return weight.shape[0] // groups, math.prod(weight.shape[1:])


def orthogonality_atol(dtype: torch.dtype, gain: float, length: int = 1) -> float:
    """The tolerance on each entry of ``W W^T - g^2 I`` for a weight stored in ``dtype``."""
    # Cauchy-Schwarz: entry errors d_k on a row of norm g move an entry of W W^T by at most
    # 2 g |d| + |d|^2. Rounding g Q to dtype gives |d| <= g eps / 2 in the normal range (so eps g^2
    # plus a second-order term), and |d| <= sqrt(length) s with s the subnormal spacing below it
    # (which also covers a subnormal gain rounded in float32).
    info = torch.finfo(dtype)
    spacing = math.sqrt(length) * info.smallest_normal * info.eps
    return gain**2 * max(_QR_ATOL, 2 * info.eps) + 2 * gain * spacing + spacing**2


def assert_orthogonal_blocks(blocks: Tensor, gain: float, what: str) -> None:
    """Check that every matrix ``blocks[i]`` is orthogonal up to ``gain``, in float64."""
    rows, cols = blocks.shape[1:]
    w = blocks.detach().to("cpu", torch.float64)
    gram = w @ w.transpose(1, 2) if rows <= cols else w.transpose(1, 2) @ w
    eye = torch.eye(gram.shape[1], dtype=torch.float64)
    errors = (gram - gain**2 * eye).abs().amax(dim=(1, 2))
    atol = orthogonality_atol(blocks.dtype, gain, max(rows, cols))
    bad = (~(errors <= atol)).nonzero().flatten().tolist()
    if bad:
        product = "W W^T" if rows <= cols else "W^T W"
        raise AssertionError(
            f"{what} of group {bad[0]} ({rows} x {cols}) is not orthogonal up to the gain: "
            f"max |{product} - g^2 I| = {float(errors[bad[0]]):.3g} > atol {atol:.3g} "
            f"(g = {gain:.6g}, dtype {blocks.dtype}; {len(bad)} of {len(blocks)} groups fail)"
        )


# --- A Haar orthogonal matrix whose bits do not depend on the thread count ----------------------
#
# LAPACK's QR (MKL's, here) splits its work over the threads it is given and rounds differently
# for 1 and 2 threads, so a seeded orthogonal weight changed in its last bit with
# torch.set_num_threads. Everything below is built so that each value is computed by the same
# sequence of IEEE operations whatever the thread count: elementwise operations (each entry on its
# own), sums over a dimension by a fixed pairwise tree of elementwise additions (column_sums), and
# matrix products whose every partial sum is exact (reproducible_matmul), so that no summation order
# a BLAS picks can change a bit.

# Significand bits of a float64, and of a float32 (what every narrower dtype is rounded from).
FLOAT64_PRECISION = 53
FLOAT32_PRECISION = 24
# Triangular systems up to this size are solved row by row; larger ones split in two.
_SOLVE_BLOCK = 32
# Column blocks of a product with a triangular factor: (1 + ... + b) / b^2 of the full work.
_PRODUCT_BLOCKS = 8
# Products with at most this many multiplications are done without the BLAS.
_SMALL_PRODUCT = 2**15
# Adding and subtracting 1.5 * 2^52 rounds a float64 of magnitude below 2^51 to an integer, half
# to even, exactly: the sum's unit in the last place is 1.
_ROUNDER = 1.5 * 2.0**52


def column_sums(values: Tensor) -> Tensor:
    """The sum over dim 0 by a fixed pairwise tree of elementwise additions.

    Pairwise summation (error O(log n) eps) in an order fixed by the shape alone, unlike
    ``Tensor.sum``, which may split a long reduction between threads.
    """
    while values.shape[0] > 1:
        half = values.shape[0] // 2
        head = values[:half] + values[half : 2 * half]
        values = head if values.shape[0] == 2 * half else torch.cat([head, values[2 * half :]])
    if values.shape[0] == 0:
        return values.new_zeros(values.shape[1:])
    return values[0]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a product over ``inner`` terms is split: ``pieces`` integer pieces of ``bits`` bits.

    The products of pieces of one weight ``2^(-level bits)`` are sums of at most
    ``pieces * inner`` integers of magnitude ``2^(2 bits)`` at most, so ``2 bits +
    ceil(log2(pieces inner)) <= 53`` keeps every partial sum an exact float64 integer;
    ``pieces * bits >= precision + 3`` keeps what is left out below the precision asked for.
    """

    bits: int
    pieces: int

    @classmethod
    def of(cls, inner: int, precision: int) -> _Plan:
        pieces = 2
        while True:
            bits = (FLOAT64_PRECISION - math.ceil(math.log2(pieces * max(inner, 1)))) // 2
            needed = max(2, math.ceil((precision + 3) / bits))
            if needed <= pieces:
                return cls(bits, pieces)
            pieces = needed


@dataclasses.dataclass(frozen=True)
class _Split:
    """A float64 matrix as ``scale * sum_p pieces[p] * 2^(-(p + 1) bits)``: integer-valued pieces
    (stacked along dim 0) with ``|piece| <= 2^bits``, ``scale`` a power of two per row
    (``by_row``) or per column."""

    pieces: Tensor
    scale: Tensor
    plan: _Plan
    by_row: bool

    @classmethod
    def of(cls, x: Tensor, plan: _Plan, *, by_row: bool) -> _Split:
        # frexp gives largest = mantissa 2^e, mantissa in [0.5, 1): largest / mantissa is 2^e
        # exactly, and x divided by it lies in (-1, 1). An all-zero line keeps the scale 1.
        largest = x.abs().amax(dim=1 if by_row else 0, keepdim=True)
        mantissa = torch.frexp(largest).mantissa
        scale = torch.where(largest > 0, largest / torch.where(largest > 0, mantissa, 1.0), 1.0)
        rest = x / scale
        pieces = x.new_empty((plan.pieces, *x.shape))
        # Each step is exact: rounding to an integer, and subtracting a value rounded to a coarser
        # grid than the remainder's own.
        for p in range(plan.pieces):
            piece = (rest * 2.0 ** ((p + 1) * plan.bits) + _ROUNDER) - _ROUNDER
            rest = rest - piece * 2.0 ** (-(p + 1) * plan.bits)
            pieces[p] = piece
        return cls(pieces, scale, plan, by_row)

    def block(self, rows: slice, cols: slice) -> _Split:
        scale = self.scale[rows] if self.by_row else self.scale[:, cols]
        return _Split(self.pieces[:, rows, cols], scale, self.plan, self.by_row)

    def transposed(self) -> _Split:
        return _Split(self.pieces.transpose(1, 2), self.scale.t(), self.plan, not self.by_row)


def _integer_product(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for integer-valued float64 pieces, whose every partial sum is exact: any order
    gives the same bits. Small products are a broadcast and a sum, which stay on this thread; a
    BLAS call would wake its thread pool, and on a busy machine a tiny product then costs
    milliseconds."""
    if a.shape[0] * a.shape[1] * b.shape[1] <= _SMALL_PRODUCT:
        return (a[:, :, None] * b[None, :, :]).sum(dim=1)
    return a @ b


def _split_product(left: _Split, right: _Split) -> Tensor:
    """``left @ right`` from ``left`` split by rows and ``right`` by columns, on one plan whose
    inner size is at least this product's.

    The products of one weight are summed exactly; the weights in a fixed order, smallest first.
    """
    bits, count = left.plan.bits, left.plan.pieces
    total: Tensor | None = None
    for level in range(count + 1, 1, -1):
        first, last = max(1, level - count), min(count, level - 1)
        # Pieces p = first..last on the left meet pieces level - p on the right.
        exact = _integer_product(left.pieces[first - 1], right.pieces[level - first - 1])
        for p in range(first + 1, last + 1):
            exact = exact + _integer_product(left.pieces[p - 1], right.pieces[level - p - 1])
        term = exact * 2.0 ** (-level * bits)
        total = term if total is None else total + term
    return cast(Tensor, total) * left.scale * right.scale


def reproducible_matmul(a: Tensor, b: Tensor, *, precision: int = FLOAT64_PRECISION) -> Tensor:
    r"""``a @ b`` for float64 matrices, to ``precision`` bits, in bits that no BLAS can change.

    The error-free splitting of Ozaki, K., Ogita, T., Oishi, S. & Rump, S. M. (2012), "Error-free
    transformations of matrix multiplication by using fast routines of matrix multiplication and
    its applications": the rows of ``a`` and the columns of ``b`` are cut into :math:`s` integer
    pieces of :math:`\beta` bits on a per-row (per-column) power-of-two scale, with
    :math:`2\beta + \lceil \log_2 (s k) \rceil \le 53` for the inner size :math:`k` and
    :math:`s\beta \ge` ``precision`` + 3. The products of pieces of one weight are then sums of at
    most :math:`s k` integers of magnitude at most :math:`2^{2\beta}`, every partial sum of which is
    an integer of magnitude at most :math:`2^{53}`: exact in float64 in any order, with or without
    FMA, so the BLAS's threads cannot move them. The weights down to :math:`2^{-(s+1)\beta}` are
    added in a fixed order, smallest first; what is left out is below
    :math:`(s + 1) k\, 2^{-s\beta}` times the largest entry of the row of ``a`` times that of the
    column of ``b``.
    """
    k = a.shape[1]
    if k == 0 or a.shape[0] == 0 or b.shape[1] == 0:
        return a.new_zeros((a.shape[0], b.shape[1]))
    plan = _Plan.of(k, precision)
    return _split_product(_Split.of(a, plan, by_row=True), _Split.of(b, plan, by_row=False))


def _above_diagonal(rows: int, cols: int, like: Tensor) -> Tensor:
    """The mask of the entries above the diagonal, from elementwise comparisons (torch.triu
    splits even a tiny matrix over the threads, which a busy machine makes slow)."""
    row = torch.arange(rows, device=like.device)[:, None]
    col = torch.arange(cols, device=like.device)[None, :]
    return col > row


def _gram_upper(by_column: _Split, n: int) -> Tensor:
    """The strict upper triangle of ``v^T v`` for a lower-trapezoidal ``v`` (column ``j`` zero
    above row ``j``), given split by columns: the block of columns ``[lo, mid) x [mid, hi)``
    needs only the rows from ``mid`` on."""
    rows = by_column.transposed()
    out = by_column.scale.new_zeros((n, n))

    def fill(lo: int, hi: int) -> None:
        if hi - lo <= _SOLVE_BLOCK:
            block = _split_product(
                rows.block(slice(lo, hi), slice(lo, None)),
                by_column.block(slice(lo, None), slice(lo, hi)),
            )
            out[lo:hi, lo:hi] = block * _above_diagonal(hi - lo, hi - lo, block)
            return
        mid = (lo + hi) // 2
        out[lo:mid, mid:hi] = _split_product(
            rows.block(slice(lo, mid), slice(mid, None)),
            by_column.block(slice(mid, None), slice(mid, hi)),
        )
        fill(lo, mid)
        fill(mid, hi)

    fill(0, n)
    return out


def _times_upper(by_row: _Split, upper: Tensor) -> Tensor:
    """``a @ upper`` for ``a`` split by rows and an upper-triangular ``upper``: output columns
    ``[lo, hi)`` need only the first ``hi`` rows of ``upper``."""
    n = upper.shape[1]
    right = _Split.of(upper, by_row.plan, by_row=False)
    count = max(1, min(_PRODUCT_BLOCKS, n // _SOLVE_BLOCK))
    edges = [n * i // count for i in range(count + 1)]
    columns = [
        _split_product(
            by_row.block(slice(None), slice(0, hi)), right.block(slice(0, hi), slice(lo, hi))
        )
        for lo, hi in itertools.pairwise(edges)
    ]
    return torch.cat(columns, dim=1)


def _solve_upper(upper: Tensor, rhs: Tensor, precision: int) -> Tensor:
    """``X`` with ``upper @ X = rhs``, ``upper`` upper triangular: blocks of back substitution,
    their coupling by :func:`reproducible_matmul`."""
    n = upper.shape[0]
    if n > _SOLVE_BLOCK:
        half = n // 2
        below = _solve_upper(upper[half:, half:], rhs[half:], precision)
        coupling = reproducible_matmul(upper[:half, half:], below, precision=precision)
        return torch.cat(
            [_solve_upper(upper[:half, :half], rhs[:half] - coupling, precision), below]
        )
    # Column-oriented back substitution: once row i is solved, it leaves every row above it, in a
    # fixed order (elementwise, so each entry rounds the same whatever the threads).
    rest = rhs.clone()
    for i in range(n - 1, -1, -1):
        rest[i] /= upper[i, i]
        if i:
            rest[:i] -= upper[:i, i, None] * rest[i]
    return rest


def haar_orthogonal(
    rows: int,
    cols: int,
    device: torch.device,
    generator: torch.Generator | None,
    *,
    precision: int = FLOAT64_PRECISION,
) -> Tensor:
    r"""A Haar-random ``rows x cols`` float64 matrix with orthonormal rows (``rows <= cols``) or
    columns (otherwise), accurate to ``precision`` bits; the same bits for the same generator at
    any thread count.

    It draws a standard normal ``rows x cols`` matrix and works on its tall orientation
    :math:`A` (:math:`m \times n`, :math:`m \ge n`). Householder QR of a Gaussian matrix meets, at
    step :math:`j`, a column whose entries from row :math:`j` on are again iid standard normal and
    independent of the reflections before it (an orthogonal map of an isotropic Gaussian is one),
    so the reflections can be built from the drawn columns directly (Stewart, G. W. (1980), "The
    efficient generation of random orthogonal matrices with an application to condition
    estimators"): with :math:`x_j = A_{j:, j}` and :math:`s_j = \operatorname{sign}(x_{j,0})`
    (:math:`+1` at 0),

    .. math::
        v_j = x_j + s_j \lVert x_j \rVert e_1, \qquad
        H_j = I - \frac{2 v_j v_j^\top}{v_j^\top v_j}, \qquad
        Q = H_0 H_1 \cdots H_{n-1} I_{m \times n} \operatorname{diag}(-s_j),

    each column signed by its :math:`\operatorname{sign}(R_{jj})`, which makes :math:`Q` Haar
    distributed (Mezzadri, F. (2007), "How to generate random matrices from the classical compact
    groups"). The product is accumulated by the UT transform (Joffrain, T. et al. (2006),
    "Accumulating Householder transformations, revisited"):
    :math:`H_0 \cdots H_{n-1} = I - V U^{-1} V^\top` with
    :math:`U = \operatorname{striu}(V^\top V) + \operatorname{diag}(v_j^\top v_j / 2)`, so that
    :math:`Q = I_{m \times n} - V\, U^{-1} V_{:n}^\top`: two matrix products
    (:func:`reproducible_matmul`) and a triangular solve.

    Args:
        rows: the rows, at least 1.
        cols: the columns, at least 1.
        device: where to draw and compute.
        generator: the generator to draw from; the global one when ``None``.
        precision: the bits the products keep: :data:`FLOAT64_PRECISION` for a float64 weight,
            :data:`FLOAT32_PRECISION` (half the work) for one stored in float32 or narrower.
    """
    drawn = torch.empty((rows, cols), dtype=torch.float64, device=device)
    drawn.normal_(0.0, 1.0, generator=generator)
    a = drawn.t() if rows < cols else drawn
    m, n = a.shape
    v = a * ~_above_diagonal(m, n, a)
    alpha = torch.diagonal(a)
    norm = torch.sqrt(column_sums(v * v))
    sign = torch.where(alpha >= 0, 1.0, -1.0).to(a.dtype)
    torch.diagonal(v).copy_(alpha + sign * norm)
    # v^T v / 2 = ||x||^2 + |x_0| ||x||; a zero column (probability 0) reflects nothing: H_j = I.
    half_norm = norm * (norm + alpha.abs())
    empty = half_norm == 0
    half_norm = torch.where(empty, 1.0, half_norm)
    # Every product below has an inner size of at most m.
    plan = _Plan.of(m, precision)
    upper = _gram_upper(_Split.of(v, plan, by_row=False), n) + torch.diag(half_norm)
    # U^{-1} V_{:n}^T is upper triangular: both factors are.
    coefficients = _solve_upper(upper, v[:n].t(), precision)
    product = _times_upper(_Split.of(v, plan, by_row=True), coefficients)
    q = torch.eye(m, n, dtype=a.dtype, device=device) - product
    q = q * torch.where(empty, 1.0, -sign)
    return q.t() if rows < cols else q
