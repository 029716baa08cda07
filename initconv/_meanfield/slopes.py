r"""An activation's slope as mean-field theory uses it, and whether it can.

:math:`\phi'` comes from autograd (:func:`derivative`), and at a kink at 0 the two one-sided
slopes are taken apart (:func:`one_sided_slopes`). :func:`check_slopes` refuses an activation
whose :math:`\phi'` is not the slope of :math:`\phi`: a step function autograd cannot follow, a
jump (a delta in :math:`\phi'`, so an infinite :math:`\chi_1`), or a backward that is not the
derivative; and it finds the features of :math:`\phi'` too narrow for the moments' quadrature to
see by itself, whose edges the moments then put on the quadrature's panels
(:func:`initconv._meanfield.gaussian.checked_activation`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from initconv._maths.quadrature import gauss_legendre, on_cpu

__all__: list[str] = []

Phi = Callable[[Tensor], Tensor]

# The one-sided slopes at 0 are autograd's slopes at +-2^-100: far enough from 0 to be on one side
# in float32 and bfloat16 too (whose smallest normal is 2^-126), and so close that phi'' moves the
# slope by ~1e-30 relative.
_ONE_SIDED = 2.0**-100
# The probe for jumps: 2^10 intervals on [-8, 8], each integrated by 8 Gauss-Legendre nodes, and
# suspicious ones halved up to 40 times (to 2^-44 wide).
_JUMP_INTERVALS = 1024
_JUMP_HALF_WIDTH = 8.0
_JUMP_ROUNDS = 40
# A jump of at most this share of the activation's range on the probe is not looked for (beside a
# kink, whose allowance it shares, up to a few percent more): it is below what float32
# activations resolve and moves no moment by more than it.
_JUMP_FLOOR = 1e-6
# The scan for features of phi' too narrow for the quadrature's first panels to see (a bump of
# width 1e-3): phi' at 2^16 + 1 points on [-8, 8], 2.4e-4 apart. An interval over which phi'
# changes by more than 64 times its local size per unit of x is part of one; tanh's phi' changes
# by at most 0.77 per unit, gelu's 0.8 of its largest (1.13), and a Gaussian tail exp(-x^2) by
# 2|x| <= 16 times its value, so smooth activations have none. The local size is the largest
# |phi'| within a unit of x (the scan's blocks of 2^12 intervals, with their neighbours), so a
# steep feature elsewhere does not hide a bump; it is at least 1e-3 of the largest |phi'| on the
# scan, which keeps the rounding of a float32 phi' in its tails (whose 1 + erf cancels) below
# the rate. At most 512 are kept, those whose slope changes most.
_SCAN_INTERVALS = 2**16
_SCAN_BLOCK = 2**12
_SCAN_RATE = 64.0
_SCAN_FLOOR = 1e-3
_MOST_FEATURES = 512


class NoSlope(ValueError):
    """The activation's output does not depend on its input through autograd."""


class SlopeError(ValueError):
    """An activation whose slope mean-field theory cannot use: no slope, or a jump."""


def derivative(phi: Phi, x: Tensor) -> Tensor:
    r""":math:`\phi'(x)` elementwise, by autograd (0 where :math:`\phi` is flat).

    Raises :class:`NoSlope` where the output is not connected to the input at all (a step
    function computed by a comparison): autograd then knows no slope, not a zero one.
    """
    with on_cpu(), torch.enable_grad():
        leaf = x.detach().clone().requires_grad_(True)
        try:
            y = phi(leaf)
        except Exception as error:  # any failure: autograd cannot follow it
            raise NoSlope(
                f"it fails on an input that requires grad ({type(error).__name__}: {error}), "
                "so autograd cannot take its slope (a computation through numpy, say)"
            ) from error
        if not (isinstance(y, Tensor) and y.requires_grad):
            raise NoSlope(
                "its output is not connected to its input by autograd (a step function computed "
                "by a comparison, such as (x > 0).double(), or a detached computation), so it "
                "has no slope phi'"
            )
        (slope,) = torch.autograd.grad(y.to(torch.float64).sum(), leaf, allow_unused=True)
    return torch.zeros_like(x) if slope is None else slope.detach()


def one_sided_slopes(phi: Phi) -> tuple[float, float]:
    r"""(:math:`\phi'(0^-)`, :math:`\phi'(0^+)`): the slopes just left and right of 0."""
    x = torch.tensor([-_ONE_SIDED, _ONE_SIDED], dtype=torch.float64, device="cpu")
    left, right = derivative(phi, x).tolist()
    return float(left), float(right)


def check_slopes(label: str, phi: Phi) -> Tensor:
    r"""Refuse, naming the activation, one whose slope the mean-field maps cannot use: one that
    autograd cannot differentiate (a step function), or one that jumps, whose :math:`\phi'`
    has a delta there, so that :math:`\chi_1 = \sigma_w^2 \mathbb{E}[\phi'^2]` is infinite
    (autograd sees only the slope on either side and would give a finite, wrong value).

    The jumps are found by comparing each increment of :math:`\phi` over a fine grid on [-8, 8]
    with the integral of :math:`\phi'` over it, halving the intervals where they disagree: at a
    kink the disagreement shrinks with the width, at a jump it stays the jump. Where they
    disagree on more intervals than the grid began with, :math:`\phi'` is not the slope of
    :math:`\phi` on a whole range (values rounded to a coarse grid, a backward that is not the
    derivative), which is refused too.

    Returns the edges (in x) of the features of :math:`\phi'` narrower than the quadrature's
    panels would see, found by a scan of its slope 2.4e-4 apart on [-8, 8]: a feature narrower
    than that, or beyond, can still be missed.
    """
    why = (
        "critical(), variance_map() and correlation_map() need a continuous, piecewise-"
        "differentiable activation, whose slope phi' gives chi_1 = sigma_w^2 E[phi'(u)^2]"
    )
    with on_cpu(), torch.no_grad():
        edges = _probe(_JUMP_INTERVALS)
        try:
            values = phi(edges.clone()).to(torch.float64)
            lo, hi = edges[:-1], edges[1:]
            _check_increments(phi, lo, hi, values)
            return _features(phi)
        except NoSlope as error:
            raise SlopeError(f"activation {label!r} has no slope: {error}; {why}") from None
        except _Jump as jump:
            raise SlopeError(
                f"activation {label!r} jumps by {jump.size:.6g} near x = {jump.where:.6g} (it "
                f"changes by that much over {jump.width:.3g} there, the finest the probe cuts, "
                f"where its slope phi' integrates to {jump.integral:.3g}: a jump, whose phi' has "
                f"a delta, or a rise steeper than {jump.size / jump.width:.3g}), so chi_1 is "
                f"infinite, or too large for any use; {why}"
            ) from None
        except _Disagrees as off:
            raise SlopeError(
                f"activation {label!r} has a slope that does not integrate to its values: on "
                f"[{off.lo:.6g}, {off.hi:.6g}] it changes by {off.increment:.6g} while autograd's "
                f"phi' integrates to {off.integral:.6g}, and so on over more than "
                f"{_JUMP_INTERVALS} intervals (its values are rounded to a coarse grid, as in a "
                f"narrower dtype, or its backward is not its derivative); {why}"
            ) from None


def _probe(intervals: int) -> Tensor:
    """The edges of ``intervals`` equal intervals on [-8, 8], where phi's slope is checked."""
    return torch.linspace(
        -_JUMP_HALF_WIDTH, _JUMP_HALF_WIDTH, intervals + 1, dtype=torch.float64, device="cpu"
    )


def _features(phi: Phi) -> Tensor:
    """The ends of the runs of scan intervals over which phi' changes faster than a smooth
    activation's: a kink, a bump or ramp of its own. The quadrature sees a kink by itself (the
    slopes differ on its two sides) but not a bump between two of its nodes, which leaves the
    slope the same on both."""
    x = _probe(_SCAN_INTERVALS)
    slopes = derivative(phi, x)
    finite = torch.isfinite(slopes)
    if not bool(finite.any()):
        return x[:0]
    size = slopes.abs().where(finite, 0.0)
    block = torch.maximum(size[:-1], size[1:]).view(-1, _SCAN_BLOCK).amax(dim=1)
    near = block.clone()
    near[1:] = torch.maximum(near[1:], block[:-1])
    near[:-1] = torch.maximum(near[:-1], block[1:])
    local = torch.clamp(near, min=_SCAN_FLOOR * float(block.max())).repeat_interleave(_SCAN_BLOCK)
    step = (slopes[1:] - slopes[:-1]).abs()
    fast = step > _SCAN_RATE * (2 * _JUMP_HALF_WIDTH / _SCAN_INTERVALS) * local
    flags = fast.to(torch.int8)
    edge = torch.diff(flags, prepend=flags.new_zeros(1), append=flags.new_zeros(1))
    starts, ends = (edge == 1).nonzero()[:, 0], (edge == -1).nonzero()[:, 0]
    if starts.numel() > _MOST_FEATURES:
        steepest = torch.stack([step[a:b].max() for a, b in zip(starts, ends, strict=True)])
        kept = steepest.topk(_MOST_FEATURES).indices
        starts, ends = starts[kept], ends[kept]
    edges: Tensor = torch.unique(torch.cat([x[starts], x[ends]]))
    return edges


class _Jump(Exception):
    def __init__(self, where: float, size: float, width: float, integral: float) -> None:
        super().__init__(where, size, width, integral)
        self.where, self.size, self.width, self.integral = where, size, width, integral


class _Disagrees(Exception):
    def __init__(self, lo: float, hi: float, increment: float, integral: float) -> None:
        super().__init__(lo, hi, increment, integral)
        self.lo, self.hi, self.increment, self.integral = lo, hi, increment, integral


def _check_increments(phi: Phi, lo: Tensor, hi: Tensor, values: Tensor) -> None:
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return
    floor = _JUMP_FLOOR * max(float(finite.abs().max()), 1e-300)
    nodes, weights = gauss_legendre(8)
    start, end = values[:-1], values[1:]
    for _ in range(_JUMP_ROUNDS):
        half = (hi - lo) / 2
        x = ((lo + hi) / 2)[:, None] + half[:, None] * nodes
        slopes = derivative(phi, x)
        integral = (slopes * weights).sum(dim=1) * half
        change = (end - start - integral).abs()
        # At a kink inside an interval, Gauss-Legendre misses at most the width times the
        # slope's jump, which the spread of the slopes at the nodes and the ends bounds (the ends
        # see a kink between an end and the nearest node); where phi is smooth the quadrature is
        # exact to rounding. A jump in phi misses its whole size whatever the width.
        seen = torch.cat([slopes, derivative(phi, torch.stack([lo, hi], dim=1))], dim=1)
        spread = seen.amax(dim=1) - seen.amin(dim=1)
        allowed = 2 * half * spread + floor
        # NaN (an activation undefined somewhere) is the quadrature's to report, not a jump.
        suspicious = change > allowed
        # Within the allowance but above the floor: a kink, or a jump beside one whose slopes'
        # spread hides it (3 relu(x - 0.05) + 0.04 (x > 0.055)). So is one within the floor
        # whose allowance exceeds it: there a kink's miss can cancel a jump's at this width.
        # Halving tells them apart (the kink's miss shrinks with the width, the jump's does not).
        # Past as many as the probe began with, the largest allowances are followed: a kink's
        # shrinks as the width, a smooth bend's as its square, so kinks are kept. A rough
        # activation (sin(1e5 x)) is followed until its slopes settle, up to about a second; one
        # rough below float64's resolution (sin(1e12 x) moves by 1e-3 between neighbouring
        # floats at x = 7) is refused as jumping, which at that resolution it does.
        unsettled = ((change > floor) | (allowed > 2 * floor)) & ~suspicious
        if int(unsettled.sum()) > _JUMP_INTERVALS:
            ranked = torch.where(unsettled, allowed, -math.inf)
            unsettled = torch.zeros_like(unsettled)
            unsettled[ranked.topk(_JUMP_INTERVALS).indices] = True
        followed = suspicious | unsettled
        if not bool(followed.any()):
            return
        if int(suspicious.sum()) > _JUMP_INTERVALS:
            # A few jumps and kinks leave a few intervals off at every width; more than the probe
            # began with means phi' is off on a whole range, and halving would only multiply them.
            worst = int(torch.where(suspicious, change, 0.0).argmax())
            raise _Disagrees(
                float(lo[worst]),
                float(hi[worst]),
                float(end[worst] - start[worst]),
                float(integral[worst]),
            )
        lo, hi = lo[followed], hi[followed]
        start, end = start[followed], end[followed]
        mid = (lo + hi) / 2
        middle = phi(mid.clone()).to(torch.float64)
        lo, hi = torch.cat([lo, mid]), torch.cat([mid, hi])
        start, end = torch.cat([start, middle]), torch.cat([middle, end])
    size = (end - start).abs()
    worst = int(size.argmax())
    width = float(hi[worst] - lo[worst])
    slope = derivative(phi, lo[worst] + width * (nodes + 1) / 2)
    slope_integral = float((slope * weights).sum()) * width / 2
    raise _Jump(float(lo[worst]), float(size[worst]), width, slope_integral)
