r"""The derived gain of any activation: probe it, then integrate.

:math:`g = 1 / \sqrt{\mathbb{E}[\phi(z)^2]}` means something only for an elementwise, deterministic
:math:`\phi`. Before the quadrature, :func:`probe` evaluates the activation on a fixed probe of
:data:`PROBE_SIZE` values in [-8, 8] and refuses, naming the activation, one that

- is not deterministic: two evaluations of the same input differ (``nn.Dropout()`` in training mode);
- is not elementwise: the same values in another order and shape, or a part of them, do not give the
  same outputs in that order (``nn.Softmax(dim=1)``, a normalisation by the tensor's maximum).

The probe also finds the precision the activation computes in (an output that float32 represents
exactly, as ``F.silu(x.float()).type_as(x)`` gives, is float32 noise below float32's eps), which the
quadrature takes as its noise floor. The gains of arbitrary callables are cached with their outputs
on the probe, so changing a module's attribute (``k`` in ``k * tanh``) derives the gain again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from initconv._maths.quadrature import (
    FLOAT64_PRECISION,
    QuadratureError,
    gaussian_expectation,
    on_cpu,
)

__all__: list[str] = []

PROBE_SIZE = 420
_PROBE_SHAPE = (4, 5, 21)
_SHUFFLED_SHAPE = (20, 21)
# Below this share of distinct values among the probe's outputs, exact representability in a
# narrow dtype says nothing of the precision (the outputs of a step).
_DISTINCT = 1 / 8
# Narrow dtypes an output may be exactly representable in, coarsest first.
_NARROW = (torch.bfloat16, torch.float16, torch.float32)
# Outputs of one elementwise function may differ by a few ulps between a vectorised loop body and
# its scalar tail, so the same value at another position is compared to this many eps.
_POSITION_ULPS = 16.0
# A function rounded to a narrow dtype (computed in float32 and rounded op by op) differs between
# the two by at most an ulp of that dtype at each op's output: 2 eps of the value or the scale
# allows that and no more, where 16 of bfloat16's eps would pass a change of 12% between
# positions as rounding.
_NARROW_ULPS = 2.0
# The second moment's relative tolerance: 1e-12 (the quadrature's default), or 4 eps of a narrow
# dtype phi computes in, whose rounding each of a panel's two estimates carries.
_RTOL = 1e-12
_NOISE_FACTOR = 4.0


@dataclasses.dataclass(frozen=True)
class Probed:
    """An activation's outputs on the probe and the relative precision they are computed to."""

    outputs: Tensor
    precision: float


@functools.cache
def _probe_points() -> tuple[Tensor, Tensor, Tensor]:
    # Fixed, so a cached gain's fingerprint means the same thing in every process.
    generator = torch.Generator(device="cpu").manual_seed(0)
    grid = torch.linspace(-8.0, 8.0, PROBE_SIZE, dtype=torch.float64, device="cpu")
    values = grid[torch.randperm(PROBE_SIZE, generator=generator, device="cpu")]
    shuffle = torch.randperm(PROBE_SIZE, generator=generator, device="cpu")
    # A part without the largest inputs: a normalisation by the whole tensor changes on it.
    part = torch.nonzero(values.abs() < 4.0).flatten()
    return values, shuffle, part


def probe_values() -> Tensor:
    """The probe's points, float64 in [-8, 8], in the fixed shuffled order it evaluates them."""
    return _probe_points()[0]


def probe_evaluations() -> int:
    """How many points :func:`probe` evaluates an activation at."""
    return 3 * PROBE_SIZE + _probe_points()[2].numel()


def evaluate(label: str, phi: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``phi(x)`` as float64, after checking that it is a real tensor shaped like ``x``."""
    if isinstance(phi, nn.Module) and any(
        t.is_meta for t in itertools.chain(phi.parameters(), phi.buffers())
    ):
        raise ValueError(_on_meta(label))
    try:
        with on_cpu():
            out = phi(x.clone())
    except Exception as error:
        raise TypeError(
            f"activation {label} could not be evaluated on a float64 tensor of shape "
            f"{tuple(x.shape)} ({type(error).__name__}: {error}); an elementwise activation "
            "takes any shape: pass gain= explicitly or use register_activation(name, fn, gain=...)"
        ) from error
    if not isinstance(out, Tensor):
        raise TypeError(f"activation {label} must return a Tensor, got {type(out).__name__}")
    if out.is_complex():
        raise TypeError(f"activation {label} must return a real tensor, got {out.dtype}")
    if out.is_meta:
        raise ValueError(_on_meta(label))
    if out.shape != x.shape:
        raise ValueError(
            f"activation {label} must be elementwise, but it changed the input's shape "
            f"{tuple(x.shape)} to {tuple(out.shape)}"
        )
    return out.detach().to(device="cpu", dtype=torch.float64)


def _on_meta(label: str) -> str:
    return (
        f"activation {label} computes on the meta device (its parameters are on meta, as a model "
        "built under `with torch.device('meta')` has them), so its values are unknown and its "
        "gain cannot be derived; pass gain= explicitly, or build the activation on the CPU"
    )


def same(a: Tensor, b: Tensor) -> bool:
    """Equal bit for bit, NaN equal to NaN."""
    return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())


def _close(a: Tensor, b: Tensor, precision: float, scale: float) -> bool:
    narrow = precision > FLOAT64_PRECISION
    rtol = _NARROW_ULPS * precision if narrow else max(1e-9, _POSITION_ULPS * precision)
    near = (a - b).abs() <= rtol * (torch.maximum(a.abs(), b.abs()) + scale)
    near &= torch.isfinite(a) & torch.isfinite(b)
    return bool(((a == b) | (a.isnan() & b.isnan()) | near).all())


def precision_of(outputs: Tensor) -> float:
    finite = outputs[torch.isfinite(outputs)]
    # A few distinct values (a step, a sign) are exactly representable in any dtype without
    # being rounded to it; a function computed in a narrow dtype takes many between its lowest
    # and highest values, where a saturating one (hardtanh) repeats them over most of the probe.
    inside = finite[(finite > finite.min()) & (finite < finite.max())] if finite.numel() else finite
    if not inside.numel() or torch.unique(inside).numel() < _DISTINCT * inside.numel():
        return FLOAT64_PRECISION
    for dtype in _NARROW:
        if torch.equal(finite.to(dtype).to(torch.float64), finite):
            return torch.finfo(dtype).eps
    return FLOAT64_PRECISION


def unit_scale(outputs: Tensor) -> float:
    """The power of 2 at or just below the largest finite ``|output|`` (1 if there is none):
    dividing by it is exact and brings the outputs into [-2, 2), where their squares neither
    overflow nor underflow; as a power at or below, it stays finite up to the largest float."""
    finite = outputs[torch.isfinite(outputs)].abs()
    top = float(finite.max()) if finite.numel() else 0.0
    return math.ldexp(0.5, math.frexp(top)[1]) if top > 0 else 1.0


def probe(label: str, phi: Callable[[Tensor], Tensor]) -> Probed:
    """Evaluate ``phi`` on the probe; refuse it unless deterministic and elementwise."""
    values, shuffle, part = _probe_points()
    x = values.reshape(_PROBE_SHAPE)
    outputs = evaluate(label, phi, x).reshape(-1)
    if not same(evaluate(label, phi, x).reshape(-1), outputs):
        raise ValueError(
            f"activation {label} is not deterministic: two evaluations of the same input gave "
            "different outputs (a random activation, or a module in training mode such as "
            "nn.Dropout), so it has no gain; pass gain= explicitly, or call .eval() on it"
        )
    precision = precision_of(outputs)
    finite = outputs[torch.isfinite(outputs)]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    for inputs, picked, how in (
        (values[shuffle].reshape(_SHUFFLED_SHAPE), shuffle, "in another order and shape"),
        (values[part], part, "a part of them, on their own,"),
    ):
        try:
            got = evaluate(label, phi, inputs).reshape(-1)
        except TypeError as error:
            raise ValueError(f"activation {label} is not elementwise: {error}") from error
        if not _close(got, outputs[picked], precision, scale):
            raise ValueError(
                f"activation {label} is not elementwise: its output for an input depends on the "
                f"other inputs or their layout (the same values {how} {tuple(inputs.shape)} gave "
                "other outputs), as nn.Softmax or a normalisation does, so 1 / sqrt(E[phi(z)^2]) "
                "is not its gain; pass gain= explicitly"
            )
    return Probed(outputs, precision)


def fingerprint(label: str, phi: Callable[[Tensor], Tensor]) -> Tensor:
    """``phi``'s outputs on the probe's values: what a result derived from ``phi`` is cached with,
    so that it is derived again when they change (a module's parameter set since)."""
    with untouched(phi):
        return evaluate(label, phi, _probe_points()[0])


@contextlib.contextmanager
def untouched(phi: object) -> Iterator[None]:
    """Evaluate without autograd, and put back the buffers of a module (batch-norm statistics)."""
    buffers = [(b, b.detach().clone()) for b in phi.buffers()] if isinstance(phi, nn.Module) else []
    try:
        with torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for buffer, value in buffers:
                buffer.copy_(value)


class GainError(ValueError):
    """A callable's gain cannot be derived. ``reason`` says why without the gain (what else that
    derivation was for, such as the mean-field maps, reports it with its own remedy), and the
    message is the gain's reason with ``remedy``; ``zero`` where the callable is 0 almost
    everywhere.

    Built from a message alone too, as ``type(error)(text)`` re-raises and unpickling build an
    exception: ``reason`` is then the message."""

    def __init__(
        self,
        message: str,
        reason: str | None = None,
        remedy: str | None = None,
        *,
        zero: bool = False,
    ) -> None:
        super().__init__(message if remedy is None else f"{message}; {remedy}")
        self.reason = message if reason is None else reason
        self.zero = zero


def _tolerance(precision: float) -> float:
    # Never finer than phi's values hold: a float32 phi is noisier than its own ulp where it
    # cancels (gelu's 1 + erf(x / sqrt 2) below x = -3), an absolute noise that no halving of a
    # panel removes, so only the share of E[phi^2] a panel may miss can cover it.
    return max(_RTOL, _NOISE_FACTOR * precision)


def _integrate(label: str, phi: Callable[[Tensor], Tensor], probed: Probed) -> float:
    # phi / 2^k, with 2^k its size on the probe: an exact rescaling, so that phi = 1e-200 x
    # (whose square underflows) or 1e200 x (whose square overflows) has its gain too.
    scale = unit_scale(probed.outputs)

    def second_moment(z: Tensor) -> Tensor:
        out = evaluate(label, phi, z)
        finite = torch.isfinite(out)
        if not bool(finite.all()):
            bad = float(z[~finite][0])
            raise ValueError(f"activation {label} returned NaN or inf at z = {bad:.6g}")
        return (out / scale) ** 2

    try:
        moment = gaussian_expectation(
            second_moment, rtol=_tolerance(probed.precision), precision=probed.precision
        )
    except QuadratureError as error:
        raise GainError(
            f"activation {label} has no gain: E[phi(z)^2] cannot be computed ({error})",
            f"activation {label}: its Gaussian moments cannot be computed ({error})",
            "pass gain= explicitly",
        ) from None
    if not moment > 0.0:
        raise GainError(
            f"activation {label} is zero for almost every input (E[phi(z)^2] = {moment}), "
            "so no gain can give its output unit variance",
            f"activation {label} is zero for almost every input (E[phi(z)^2] = {moment})",
            "pass gain= explicitly",
            zero=True,
        )
    return 1.0 / (scale * math.sqrt(moment))


def derived_gain(label: str, phi: Callable[[Tensor], Tensor]) -> float:
    """``1 / sqrt(E[phi(z)^2])``, z ~ N(0, 1), for a deterministic elementwise ``phi``.

    ``label`` names ``phi`` in errors. At most ``probe_evaluations() + MAX_EVALUATIONS`` points.
    """
    with untouched(phi):
        probed = probe(label, phi)
        return _integrate(label, phi, probed)


# Derived gains of arbitrary callables, with the probe outputs they were derived for, kept only as
# long as the callable lives.
_CACHE: weakref.WeakKeyDictionary[Any, tuple[Tensor, float]] = weakref.WeakKeyDictionary()


def callable_gain(label: str, fn: Callable[[Tensor], Tensor]) -> float:
    """:func:`derived_gain`, cached for ``fn`` while its outputs on the probe stay the same."""
    with untouched(fn):
        probed = probe(label, fn)
        try:
            outputs, value = _CACHE[fn]
        except (KeyError, TypeError):  # not cached, or not weak-referenceable
            pass
        else:
            if same(outputs, probed.outputs):
                return value
        value = _integrate(label, fn, probed)
    with contextlib.suppress(TypeError):
        _CACHE[fn] = (probed.outputs, value)
    return value
