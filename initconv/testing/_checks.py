r"""Whole layers and schemes held to their theory: :func:`check_layer` and :func:`check_scheme`."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from initconv._layers.base import InitLayer
from initconv._layers.pairing import bound_kind, layer_class, resolve_kind, served_kinds
from initconv._maths.sampling import Distribution
from initconv._model.seeding import module_seed
from initconv._schemes.base import Scheme
from initconv._validate import check_bool, check_probability, check_seed
from initconv.testing._assertions import (
    Array,
    assert_channel_law,
    assert_channels_uncorrelated,
    assert_constant,
    assert_distribution,
    assert_mean_zero,
    assert_variance_matches,
    channel_sum_cumulants,
    channel_sums,
    values,
)
from initconv.testing._bias import BIAS_DETECTABLE, bias_view, check_bias, check_bias_pool
from initconv.testing._laws import (
    ALPHA_CHECK,
    DETECTABLE,
    POWER,
    detectable_error,
    min_sample_size,
    standard_moments,
    variance_power,
)

__all__ = [
    "DEFAULT_SHAPES",
    "LowPowerWarning",
    "SchemeReport",
    "check_layer",
    "check_scheme",
    "iid_view",
]


_Shapes = tuple[Mapping[str, Any], ...]


def _convolutions(d: int, transposed: bool) -> _Shapes:
    """Plain, wide, narrow, strided, rectangular and even kernels, grouped and depthwise."""
    small = 3 if d < 3 else 2

    def kernel(*sides: int) -> tuple[int, ...]:
        return tuple(sides[:d]) if d > 1 else sides[:1]

    shapes: list[dict[str, Any]] = [
        {"in_channels": 16, "out_channels": 32, "kernel_size": small},
        {"in_channels": 32, "out_channels": 16, "kernel_size": kernel(1, 5, 3), "stride": 2},
        {"in_channels": 24, "out_channels": 48, "kernel_size": 2, "groups": 3},
        {"in_channels": 32, "out_channels": 32, "kernel_size": small, "groups": 32},
        {"in_channels": 8, "out_channels": 64, "kernel_size": kernel(3, 2, 1), "groups": 2},
        {"in_channels": 12, "out_channels": 36, "kernel_size": 1},
    ]
    if transposed:
        # Strided transposed layers are where torch's fans go wrong: check them more.
        shapes[2]["stride"] = 2
        shapes[4]["stride"] = kernel(3, 2, 1)
    return tuple(shapes)


#: The layers :func:`check_scheme` builds per kind, as constructor keywords. A scheme is checked
#: on those it serves.
DEFAULT_SHAPES: Mapping[type[nn.Module], _Shapes] = {
    nn.Conv1d: _convolutions(1, False),
    nn.Conv2d: _convolutions(2, False),
    nn.Conv3d: _convolutions(3, False),
    nn.ConvTranspose1d: _convolutions(1, True),
    nn.ConvTranspose2d: _convolutions(2, True),
    nn.ConvTranspose3d: _convolutions(3, True),
    nn.Linear: (
        {"in_features": 64, "out_features": 32},
        {"in_features": 32, "out_features": 96},
        {"in_features": 300, "out_features": 7},
        {"in_features": 5, "out_features": 200},
    ),
}


@dataclass(frozen=True)
class SchemeReport:
    """What :func:`check_scheme` checked.

    Attributes:
        scheme: the class checked.
        kinds: the layer kinds it was built as (torch classes).
        layers: how many layers were built and checked.
        n: weights pooled for the statistical checks of each kind, the least over the kinds (0
            for a structured scheme).
        checks: the names of the checks that ran and passed.
    """

    scheme: type[Scheme]
    kinds: tuple[type[nn.Module], ...]
    layers: int
    n: int
    checks: tuple[str, ...]


def iid_view(layer: Scheme) -> tuple[Tensor, Distribution] | None:
    """The layer's independent weights and their family, or ``None`` for a structured scheme.

    :meth:`~initconv.Scheme.independent_weights` with
    :meth:`~initconv.Scheme.expected_distribution`: the whole weight for an iid scheme, the
    sub-kernel for ICNR over an iid base.
    """
    distribution = layer.expected_distribution()
    if distribution is None:
        return None
    return layer.independent_weights(), distribution


def second_moment_atol(dtype: torch.dtype, second_moment: float) -> float:
    r"""Float tolerance on the exact :math:`\overline{(w - m)^2}` of a structured scheme."""
    # Each entry is the exact value rounded to dtype (relative eps / 2, so eps on its square) after a
    # float32/float64 computation good to the 1e-5 allowed for QR; below the normal range an entry
    # is off by up to the subnormal spacing s, moving the mean square by 2 sqrt(.) s + s^2.
    info = torch.finfo(dtype)
    spacing = info.smallest_normal * info.eps
    return (
        max(1e-5, 2 * info.eps) * second_moment
        + 2 * math.sqrt(second_moment) * spacing
        + spacing**2
    )


def _second_moment(layer: Scheme) -> float:
    return float(np.mean((values(layer.independent_weights()) - layer.expected_mean()) ** 2))


class LowPowerWarning(UserWarning):
    """A statistical check that cannot see the error it is used for at the ``n`` it was given:
    the message states the smallest relative error it sees at the power asked for."""


def _checkable(layer: object) -> InitLayer:
    """``layer``, if it is a built initconv layer with weights that follow its scheme."""
    if isinstance(layer, type):
        raise TypeError(
            f"check_layer needs a built initconv layer, got the class {layer.__name__}; build "
            "one, or check the class with check_scheme"
        )
    if not isinstance(layer, InitLayer):
        raise TypeError(
            "check_layer needs an initconv layer (a scheme's layer, initconv.KaimingNormalConv2d"
            "(...) say, or one that initconv.convert made): its scheme states the theory to "
            f"check; got {type(layer).__name__}, which has none"
        )
    weight = layer.weight
    if weight.is_meta:
        raise ValueError(
            f"{type(layer).__name__}'s weight is on the meta device and holds no values to check; "
            "materialise it first (to_empty(device=...) and reset_parameters())"
        )
    if weight.numel() == 0:
        raise ValueError(
            f"{type(layer).__name__} has no weights to check: its weight has shape "
            f"{tuple(weight.shape)}"
        )
    calibration = layer.calibration
    if calibration is not None:
        raise ValueError(
            f"{type(layer).__name__} replays an LSUV calibration (calibrated_scale="
            f"{calibration.scale:.6g}, calibrated_base={calibration.base!r}): its weights are "
            "that draw rescaled on data, not its scheme's theory; clear it "
            "(layer.calibrated_scale = None; layer.reset_parameters()) to check the scheme"
        )
    return layer


def _copier(layer: InitLayer, seed: int) -> Callable[[Mapping[str, Any]], InitLayer]:
    """Fresh draws of ``layer``'s scheme and configuration: copies with their own seeds (from
    ``seed`` and a counter, never the layer's), drawn again; the layer itself is not touched."""
    seeds = (
        drawn
        for drawn in (module_seed(seed, f"check_layer.pool.{i}") for i in itertools.count())
        if drawn != layer.seed
    )

    def fresh(_: Mapping[str, Any]) -> InitLayer:
        try:
            copy = deepcopy(layer)
        except RuntimeError as error:  # a parametrized module refuses to be copied
            raise TypeError(
                f"pool=True draws copies of {type(layer).__name__}, which cannot be copied: {error}"
            ) from error
        copy.seed = next(seeds)
        copy.reset_parameters()
        return copy

    return fresh


def _resolution(
    n: int, distribution: Distribution, wanted: float, alpha: float, power: float, what: str
) -> str | None:
    """What a check on ``n`` values cannot see, or ``None`` where it sees ``wanted``."""
    seen = detectable_error(n, distribution, alpha, power)
    if seen <= wanted:
        return None
    against = min(
        variance_power(n, 1 + wanted, distribution, alpha),
        variance_power(n, 1 - wanted, distribution, alpha),
    )
    shown = "no error of any size" if math.isinf(seen) else f"a variance off by {seen:.1%}"
    return (
        f"its {n} {what} see {shown} with {power:.0%} power at alpha = {alpha:.3g}, not the "
        f"{wanted:.0%} it is for (its power against {wanted:.0%}: {against:.2g}; n = "
        f"{min_sample_size(distribution, wanted, alpha, power)} would see it)"
    )


def check_layer(
    layer: Scheme,
    *,
    alpha: float = ALPHA_CHECK,
    detectable: float | None = DETECTABLE,
    power: float = POWER,
    pool: bool = False,
    seed: int = 0,
) -> tuple[str, ...]:
    r"""Check one built layer against its scheme's theory; raise ``AssertionError`` if it fails.

    Runs :meth:`~initconv.Scheme.check_invariants`, then, on the :func:`iid_view` when there is
    one, :func:`assert_variance_matches`, :func:`assert_mean_zero`, :func:`assert_distribution` and
    :func:`assert_channels_uncorrelated` about :meth:`~initconv.Scheme.expected_mean`, each at
    ``alpha``. A structured scheme's :math:`\overline{(w - m)^2}` over its
    :meth:`~initconv.Scheme.independent_weights` must equal
    :meth:`~initconv.Scheme.expected_variance` to :func:`second_moment_atol`. The bias
    (:func:`~initconv.testing.bias_view`) must have
    :meth:`~initconv.Scheme.expected_bias_variance` and mean zero about
    :meth:`~initconv.Scheme.expected_bias_mean`, at ``alpha``, or equal that mean exactly where
    it is constant.

    One layer is a small sample: a 3 -> 32 channel 3x3 convolution's 864 weights see a variance
    off by 43% with 95% power at the default ``alpha`` (:func:`detectable_error`), and a 5% error
    with probability 1.4e-7 (a variance 5% too small; 2.8e-7 for one 5% too large). Where the
    weights cannot see a ``detectable`` error (or the biases a
    :data:`~initconv.testing.BIAS_DETECTABLE` one) with probability ``power``, a
    :class:`LowPowerWarning` states what they do see and the sample size that would; with
    ``pool=True`` the check pools instead the standardised values of fresh draws of the same
    scheme and configuration (copies of the layer with their own seeds; the layer is not
    touched) until that size, and checks the pool too. ``detectable=None`` claims no power: the
    bands at this ``n`` only, without a warning (a Hypothesis test's per-example check of
    whatever shape was drawn, which catches fan, group and kernel errors; :func:`check_scheme`
    then resolves small errors).

    Args:
        layer: an initconv layer, built and not LSUV-calibrated.
        alpha: the false-alarm rate of each check.
        detectable: the relative variance error the check is for, or ``None``.
        power: the probability of seeing it that the warning and the pool are held to.
        pool: pool fresh draws until ``detectable`` is seen with ``power``; a ``detectable``
            that needs more than 2^24 pooled weights is a ``ValueError``.
        seed: the root of the fresh draws' seeds.

    Returns:
        The names of the checks that ran.

    Raises:
        AssertionError: the layer (or the pool) does not follow its scheme's theory.
        TypeError: ``layer`` is not an initconv layer.
        ValueError: a bad option, a layer on the meta device or one that replays an LSUV
            calibration.

    Examples:
        >>> import initconv
        >>> check_layer(initconv.OrthogonalConv2d(16, 32, 3, seed=0))
        ('invariants', 'exact second moment', 'bias constant')
    """
    alpha = check_probability("alpha", alpha)
    if detectable is not None:
        detectable = check_probability("detectable", detectable)
    power = check_probability("power", power)
    pool = check_bool("pool", pool)
    seed = check_seed("seed", seed)
    built = _checkable(layer)
    for name, tensor in (("weight", built.weight), ("bias", built.bias)):
        if isinstance(tensor, Tensor) and tensor.numel() and not bool(tensor.isfinite().all()):
            bad = int((~tensor.detach().isfinite()).sum())
            raise AssertionError(
                f"{type(built).__name__}: {bad} of the {name}'s {tensor.numel()} values are not "
                "finite"
            )
    built.check_invariants()
    mean, variance = built.expected_mean(), built.expected_variance()
    view = iid_view(built)
    if view is None:
        measured = _second_moment(built)
        atol = second_moment_atol(built.weight.dtype, variance + mean**2)
        if not abs(measured - variance) <= atol:
            raise AssertionError(
                f"{type(built).__name__}: mean((w - expected_mean)^2) = {measured:.8g}, "
                f"expected_variance() = {variance:.8g}; they must agree to {atol:.3g} "
                "(float rounding)"
            )
        checks: tuple[str, ...] = ("invariants", "exact second moment")
    else:
        weight, distribution = view
        centred = weight.detach().to(torch.float64) - mean
        assert_variance_matches(centred, variance, distribution, alpha=alpha)
        assert_mean_zero(centred, variance, distribution, alpha=alpha)
        assert_distribution(centred, distribution, variance, alpha=alpha)
        assert_channels_uncorrelated(centred, variance, distribution, alpha=alpha)
        checks = (
            "invariants",
            "variance",
            "mean",
            "distribution (KS)",
            "uncorrelated output channels",
        )
    checks = (*checks, *check_bias(built, alpha))
    if detectable is None:
        return checks
    return (*checks, *_power(built, view, alpha, detectable, power, pool, seed))


def _power(
    layer: InitLayer,
    view: tuple[Tensor, Distribution] | None,
    alpha: float,
    detectable: float,
    power: float,
    pool: bool,
    seed: int,
) -> tuple[str, ...]:
    """Say what the layer's own sample cannot see, or pool fresh draws until it can."""
    short: list[str] = []
    weights = None
    if view is not None and layer.expected_variance() > 0:
        weights = _resolution(
            view[0].numel(), view[1], detectable, alpha, power, "independent weights"
        )
    bias = bias_view(layer)
    biases = None
    if bias is not None and bias[3] is not None and bias[2] > 0:
        biases = _resolution(bias[0].numel(), bias[3], BIAS_DETECTABLE, alpha, power, "biases")
    if weights is None and biases is None:
        return ()
    if not pool:
        for what, said in (("weights", weights), ("biases", biases)):
            if said is not None:
                short.append(f"{what}: {said}")
        warnings.warn(
            f"check_layer({type(layer).__name__}): one layer is too small a sample. "
            + "; ".join(short)
            + ". Pass pool=True to pool fresh draws of the same scheme until it is, or "
            "detectable=None to check only what this n sees",
            LowPowerWarning,
            stacklevel=3,
        )
        return ()
    fresh = _copier(layer, seed)
    pooled: list[str] = []
    try:
        if weights is not None and view is not None:
            report = _check_iid([layer], fresh, [{}], view[1], alpha, detectable, [], power)
            pooled += [f"pooled {check}" for check in report.checks]
            pooled[0] += f" (n = {report.n})"
        if biases is not None:
            pooled += [
                f"pooled {check}" for check in check_bias_pool([layer], fresh, [{}], alpha, power)
            ]
    except AssertionError as error:
        raise AssertionError(
            f"check_layer({type(layer).__name__}), fresh draws of its scheme pooled: {error}"
        ) from None
    return tuple(pooled)


def _check_reset_keeps_the_parameter(layer: Scheme) -> None:
    weight = layer.weight
    before = (weight.dtype, weight.device, weight.shape, weight.requires_grad, weight.data_ptr())
    drawn = weight.detach().clone()
    cast_layer: Any = layer
    cast_layer.reset_parameters()
    after = (weight.dtype, weight.device, weight.shape, weight.requires_grad, weight.data_ptr())
    if layer.weight is not weight or after != before:
        raise AssertionError(
            f"reset_parameters() changed the weight's (dtype, device, shape, requires_grad, "
            f"storage) from {before[:4]} to {after[:4]}"
        )
    if layer.seed is not None and not torch.equal(weight.detach(), drawn):
        raise AssertionError(
            f"reset_parameters() with seed={layer.seed} did not reproduce the same weights"
        )


def _served_shapes(
    layer_cls: type[InitLayer], shapes: Sequence[Mapping[str, Any]], options: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    served = [shape for shape in shapes if layer_cls.serves(**shape, **options)]
    if not served:
        # Build the first one for real: the scheme's own error says what it needs.
        layer_cls(**shapes[0], **options)
        raise ValueError(f"{layer_cls.__name__} serves none of the shapes {list(shapes)!r}")
    return served


def _layer_classes(
    scheme: type[Scheme], kinds: Iterable[type[nn.Module] | str] | None
) -> list[type[InitLayer]]:
    if not (isinstance(scheme, type) and issubclass(scheme, Scheme)):
        raise TypeError(f"scheme must be a Scheme or layer class, got {scheme!r}")
    if isinstance(kinds, (str, type)):
        kinds = (kinds,)  # one kind, by name or class
    chosen = served_kinds(scheme) if kinds is None else tuple(resolve_kind(k) for k in kinds)
    if not chosen:
        raise ValueError(f"kinds must name at least one layer kind, got {kinds!r}")
    if bound_kind(scheme) is not None and kinds is None:
        return [scheme]  # type: ignore[list-item]
    return [layer_class(scheme, kind) for kind in chosen]


# check_scheme's layers take seeds seed << 24, seed << 24 + 1, ...: below 2**64 for these roots.
_SEED_ROOTS = 2**40


def _check_shapes(shapes: object) -> tuple[Mapping[str, Any], ...]:
    if isinstance(shapes, (str, Mapping)) or not isinstance(shapes, Iterable):
        raise TypeError(
            f"shapes must be a sequence of constructor keyword mappings, got {type(shapes).__name__}"
        )
    checked = tuple(shapes)
    if not checked or not all(isinstance(shape, Mapping) for shape in checked):
        raise ValueError(
            "shapes must be a non-empty sequence of constructor keyword mappings "
            f"({{'in_channels': 16, 'out_channels': 32, 'kernel_size': 3}}, ...), got {shapes!r}"
        )
    return checked


def check_scheme(
    scheme: type[Scheme],
    *,
    kinds: Iterable[type[nn.Module] | str] | None = None,
    alpha: float = ALPHA_CHECK,
    detectable: float = DETECTABLE,
    seed: int = 0,
    shapes: Sequence[Mapping[str, Any]] | None = None,
    dtype: torch.dtype = torch.float32,
    **options: Any,
) -> SchemeReport:
    r"""Hold ``scheme`` to its own theory over many shapes of every layer kind it serves; raise
    ``AssertionError`` if it fails.

    For each kind (every one ``scheme`` serves, or ``kinds``; a layer class is its own kind), it
    builds the kind's :data:`DEFAULT_SHAPES` (or ``shapes``) that the scheme serves
    (:meth:`~initconv.InitLayer.serves`), ``cls(**shape, seed=..., dtype=dtype, **options)``, round
    after round with fresh seeds derived from ``seed``. Every layer must keep its exact invariants
    (:meth:`~initconv.Scheme.check_invariants`), and ``reset_parameters()`` must keep the
    parameter (dtype, device, shape, ``requires_grad``) and, seeded, its values. Then, per kind:

    - **iid weights** (:func:`iid_view`): standardised by each layer's
      :meth:`~initconv.Scheme.expected_mean` and :meth:`~initconv.Scheme.expected_variance`,
      they are pooled until there are :func:`min_sample_size` of them: enough to reject a variance
      off by a factor :math:`1 \pm` ``detectable`` with probability at least ``1 - alpha``, in that
      kind alone. On the pool: :func:`assert_variance_matches`, :func:`assert_mean_zero`,
      :func:`assert_distribution` and :func:`assert_channels_uncorrelated`; and two seeds must give
      different weights.
    - **structured schemes**: :math:`\overline{(w - m)^2}` must equal ``expected_variance()`` to
      float rounding on every layer (:func:`check_layer`).

    Every check runs at false-alarm rate ``alpha``.

    Args:
        scheme: a :class:`~initconv.Scheme` (its kinds are all checked) or a layer class; it
            need not be registered.
        kinds: the kinds to check, as torch classes or names (``"conv_transpose2d"``).
        alpha: the false-alarm rate of each check.
        detectable: the relative variance error each kind's pooled sample must be able to see;
            one that needs more than 2^24 pooled weights is a ``ValueError``.
        seed: the root of every layer's seed.
        shapes: constructor keywords of the layers to build, for a single kind.
        dtype: the layers' dtype.
        **options: the scheme's keyword options (``activation``, ``mode``, ...).

    Returns:
        A :class:`SchemeReport` of what was checked.

    Examples:
        >>> import initconv
        >>> report = check_scheme(initconv.KaimingNormalConv2d, activation="gelu", mode="fan_out")
        >>> report.n >= min_sample_size("normal")
        True
    """
    alpha = check_probability("alpha", alpha)
    detectable = check_probability("detectable", detectable)
    seed = check_seed("seed", seed)
    if seed >= _SEED_ROOTS:
        raise ValueError(
            f"seed must be below 2**40 (each layer's seed is seed << 24 + i), got {seed!r}"
        )
    if "device" in options and torch.device(options["device"]).type == "meta":
        raise ValueError("check_scheme draws real weights to check: device='meta' holds none")
    classes = _layer_classes(scheme, kinds)
    if shapes is not None:
        shapes = _check_shapes(shapes)
    if shapes is not None and len(classes) != 1:
        raise ValueError(f"shapes are for one layer kind; pass kinds=, got {len(classes)} kinds")
    # Disjoint seed streams for different roots; every layer gets its own seed.
    seeds = itertools.count(seed << 24)
    reports = []
    for cls in classes:
        kind_shapes = DEFAULT_SHAPES[cls.torch_kind] if shapes is None else tuple(shapes)
        reports.append(_check_kind(cls, kind_shapes, seeds, alpha, detectable, dtype, options))
    checks = dict.fromkeys(check for report in reports for check in report.checks)
    return SchemeReport(
        scheme,
        tuple(cls.torch_kind for cls in classes),
        sum(report.layers for report in reports),
        min(report.n for report in reports),
        tuple(checks),
    )


def _check_kind(
    cls: type[InitLayer],
    shapes: Sequence[Mapping[str, Any]],
    seeds: Iterable[int],
    alpha: float,
    detectable: float,
    dtype: torch.dtype,
    options: Mapping[str, Any],
) -> SchemeReport:
    served = _served_shapes(cls, shapes, {"dtype": dtype, **options})
    next_seed = iter(seeds).__next__

    def build(shape: Mapping[str, Any]) -> InitLayer:
        layer = cls(**shape, dtype=dtype, seed=next_seed(), **options)
        layer.check_invariants()
        return layer

    first = [build(shape) for shape in served]
    for layer in first:
        _check_reset_keeps_the_parameter(layer)
    checks = ["invariants", "reset keeps dtype, device, shape, requires_grad and seeded values"]
    checks += check_bias_pool(first, build, served, alpha)
    views = [iid_view(layer) for layer in first]
    kind = (cls.torch_kind,)
    if all(view is None for view in views):
        # The exact checks; the biases are pooled above, so no power is claimed per layer.
        ran = {check_layer(layer, alpha=alpha, detectable=None)[1] for layer in first}
        return SchemeReport(cls, kind, len(first), 0, (*checks, *sorted(ran)))
    families = {None if view is None else view[1] for view in views}
    if len(families) > 1 or None in families:
        raise AssertionError(
            f"{cls.__name__}: the weights' family changes with the shape: {families!r}"
        )
    distribution = cast(Distribution, next(iter(families)))
    return _check_iid(first, build, served, distribution, alpha, detectable, checks)


# The most weights a pool draws: 2^24 float64 values are 128 MiB, and the checks' copies of the
# pool (the concatenation, the sorted sample of the KS test) keep the peak under about 0.5 GiB.
# detectable=0.005 (normal, the default alpha) needs 11.8 million; a far smaller error would
# need petabytes, and drawing towards it would exhaust the machine's memory.
MAX_POOL = 2**24


def _check_iid(
    first: list[InitLayer],
    build: Callable[[Mapping[str, Any]], InitLayer],
    shapes: Sequence[Mapping[str, Any]],
    distribution: Distribution,
    alpha: float,
    detectable: float,
    checks: list[str],
    power: float | None = None,
) -> SchemeReport:
    needed = min_sample_size(distribution, detectable, alpha, power)
    if needed > MAX_POOL:
        target = 1 - alpha if power is None else power
        smallest = detectable_error(MAX_POOL, distribution, alpha, target)
        raise ValueError(
            f"detectable={detectable!r} needs {needed:,} pooled {distribution} weights at "
            f"alpha={alpha!r} and power={target!r} ({needed * 8 / 2**30:.3g} GiB as float64), "
            f"more than the {MAX_POOL:,} a pool holds; the smallest detectable it can check is "
            f"{smallest:.3g}"
        )
    mu4, mu6 = standard_moments(distribution)
    pooled: list[Array] = []
    channel_sum, channel_k = 0.0, np.zeros(3)
    channel_count, n, layers, built = 0, 0, list(first), len(first)
    while True:
        for layer in layers:
            view = iid_view(layer)
            if view is None or view[1] != distribution:
                raise AssertionError(
                    f"{type(layer).__name__}: the weights' family changed with the shape, from "
                    f"{distribution!r} to {None if view is None else view[1]!r}"
                )
            mean, variance = layer.expected_mean(), layer.expected_variance()
            if variance == 0:
                assert_constant(values(view[0]), mean, type(layer).__name__)
                continue
            pooled.append((values(view[0]) - mean) / math.sqrt(variance))
            y = channel_sums(view[0], mean, variance)
            channel_sum += float(np.sum(y**2))
            channel_k += np.array(channel_sum_cumulants(view[0].shape[0], mu4, mu6)) * y.size
            channel_count += y.size
            n += pooled[-1].size
        if n >= needed or not pooled:
            break
        layers = [build(shape) for shape in shapes]
        built += len(layers)
    kind = (type(first[0]).torch_kind,)
    if not pooled:
        return SchemeReport(type(first[0]), kind, built, 0, (*checks, "zero variance: constant"))
    x = np.concatenate(pooled)
    assert_variance_matches(x, 1.0, distribution, alpha=alpha)
    assert_mean_zero(x, 1.0, distribution, alpha=alpha)
    assert_distribution(x, distribution, 1.0, alpha=alpha)
    k1, k2, k3 = (float(k) for k in channel_k)
    assert_channel_law(channel_sum, k1, k2, k3, channel_count, alpha)
    _check_seeds_differ(first[0], build, shapes[0])
    checks += ["variance", "mean", "distribution (KS)", "uncorrelated output channels", "seeds"]
    return SchemeReport(type(first[0]), kind, built, x.size, tuple(checks))


def _check_seeds_differ(
    layer: InitLayer,
    build: Callable[[Mapping[str, Any]], InitLayer],
    shape: Mapping[str, Any],
) -> None:
    other = build(shape)
    if layer.expected_variance() > 0 and torch.equal(layer.weight, other.weight):
        raise AssertionError(
            f"{type(layer).__name__}: seeds {layer.seed} and {other.seed} gave the same weights"
        )
