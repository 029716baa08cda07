"""The theory of every built-in scheme, recomputed from a layer's constructor arguments alone.

Nothing here calls initconv's own maths (``fans()``, ``centre()``, ``identity_()``,
``orthogonal_()``, a scheme's ``expected_*`` or ``check_invariants()``): fans are counted from
the channels, groups, kernel and stride; the centre tap is ``(k - 1) // 2`` per dimension; Dirac
kernels are written out by a loop; orthogonal blocks are cut in each kind's own weight layout; gains
come from torch's table or a quadrature of the activation. ``test_scheme_properties.py`` holds the layers'
own theory and their weights to this, so a defect that a draw and its theory share still shows.
From initconv it takes only the statistical assertions of the kit, which ``test_testing_kit.py``
checks on their own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath  # type: ignore[import-untyped]
import torch
import torch.nn.functional as F
from scipy import integrate
from torch import Tensor, nn

# --- One reference per layer kind: its weight layout and fans ---------------------------------------


def _per_dim(value: int | tuple[int, ...], d: int) -> tuple[int, ...]:
    return (value,) * d if isinstance(value, int) else tuple(value)


class ConvReference:
    """``nn.Conv1d/2d/3d``: weight ``(out, in / groups, *kernel)``; output ``o`` of group ``g`` is
    row ``g * out / groups + o`` and sees that group's inputs along dim 1."""

    def __init__(self, config: dict[str, Any], d: int) -> None:
        self.inputs, self.outputs = config["in_channels"], config["out_channels"]
        self.groups = config.get("groups", 1)
        self.kernel = _per_dim(config["kernel_size"], d)
        self.stride = _per_dim(config.get("stride", 1), d)
        self.taps = math.prod(self.kernel)
        self.per_in, self.per_out = self.inputs // self.groups, self.outputs // self.groups
        self.weight_shape = (self.outputs, self.per_in, *self.kernel)
        self.fan_in = float(self.per_in * self.taps)
        self.fan_out = float(self.per_out * self.taps)
        # torch's own reset reads its fan_in off the weight's shape: dim 1 times the kernel.
        self.torch_fan_in = float(self.per_in * self.taps)
        # Each group's rows of the weight, flattened: the matrix an orthogonal scheme draws.
        self.block_shape = (self.per_out, self.per_in * self.taps)

    def index(self, g: int, o: int, i: int, tap: tuple[int, ...]) -> tuple[int, ...]:
        """Where the weight joins input ``i`` to output ``o`` of group ``g`` at ``tap``."""
        return (g * self.per_out + o, i, *tap)

    def joins(self, weight: Tensor, g: int) -> Tensor:
        """Group ``g``'s weights as ``(outputs, inputs, taps)``."""
        rows = weight[g * self.per_out : (g + 1) * self.per_out]
        return rows.reshape(self.per_out, self.per_in, self.taps)

    def block(self, weight: Tensor, g: int) -> Tensor:
        return weight[g * self.per_out : (g + 1) * self.per_out].reshape(self.block_shape)


class ConvTransposeReference(ConvReference):
    """``nn.ConvTranspose1d/2d/3d``: weight ``(in, out / groups, *kernel)``; input ``i`` of group
    ``g`` is row ``g * in / groups + i`` and feeds that group's outputs along dim 1. With stride
    ``s`` each output receives ``prod(kernel) / prod(s)`` of each input channel's taps on average."""

    def __init__(self, config: dict[str, Any], d: int) -> None:
        super().__init__(config, d)
        self.weight_shape = (self.inputs, self.per_out, *self.kernel)
        self.fan_in = self.per_in * self.taps / math.prod(self.stride)
        self.fan_out = float(self.per_out * self.taps)
        self.torch_fan_in = float(self.per_out * self.taps)  # dim 1 is the outputs here
        self.block_shape = (self.per_in, self.per_out * self.taps)

    def index(self, g: int, o: int, i: int, tap: tuple[int, ...]) -> tuple[int, ...]:
        return (g * self.per_in + i, o, *tap)

    def joins(self, weight: Tensor, g: int) -> Tensor:
        rows = weight[g * self.per_in : (g + 1) * self.per_in]
        return rows.reshape(self.per_in, self.per_out, self.taps).transpose(0, 1)

    def block(self, weight: Tensor, g: int) -> Tensor:
        return weight[g * self.per_in : (g + 1) * self.per_in].reshape(self.block_shape)


class LinearReference(ConvReference):
    """``nn.Linear``: weight ``(out, in)``, one group, no kernel."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.inputs, self.outputs = config["in_features"], config["out_features"]
        self.groups, self.kernel, self.stride, self.taps = 1, (), (), 1
        self.per_in, self.per_out = self.inputs, self.outputs
        self.weight_shape = (self.outputs, self.inputs)
        self.fan_in, self.fan_out = float(self.inputs), float(self.outputs)
        self.torch_fan_in = float(self.inputs)
        self.block_shape = (self.outputs, self.inputs)


def reference(kind: type[nn.Module], config: dict[str, Any]) -> ConvReference:
    """The reference of a layer of ``kind`` built with ``config``."""
    table = {
        nn.Conv1d: lambda: ConvReference(config, 1),
        nn.Conv2d: lambda: ConvReference(config, 2),
        nn.Conv3d: lambda: ConvReference(config, 3),
        nn.ConvTranspose1d: lambda: ConvTransposeReference(config, 1),
        nn.ConvTranspose2d: lambda: ConvTransposeReference(config, 2),
        nn.ConvTranspose3d: lambda: ConvTransposeReference(config, 3),
        nn.Linear: lambda: LinearReference(config),
    }
    return table[kind]()


def centre(ref: ConvReference) -> tuple[int, ...]:
    """The centre tap: ``(k - 1) // 2`` per dimension, the tap ``padding="same"`` aligns with the
    output pixel (JAX's and TF's delta-orthogonal centre)."""
    return tuple((k - 1) // 2 for k in ref.kernel)


def centre_position(ref: ConvReference) -> int:
    """The centre tap's position among the taps flattened in row-major order."""
    position = 0
    for c, k in zip(centre(ref), ref.kernel, strict=True):
        position = position * k + c
    return position


# --- Gains: torch's table, leaky_relu's formula, or 1 / sqrt(E[phi(z)^2]) by quadrature --------------


def _leaky(slope: float) -> float:
    return math.sqrt(2.0 / (1 + slope**2))  # He et al. (2015), eq. 15


_TABLE = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0), "selu": 1.0}
_TABLE |= {"leaky_relu": _leaky(0.01), "prelu": _leaky(0.25)}
_ALIASES = {"identity": "linear", "swish": "silu"}
_ALIASES |= {f"conv{d}d": "linear" for d in (1, 2, 3)}
_ALIASES |= {f"conv_transpose{d}d": "linear" for d in (1, 2, 3)}
_DERIVED = {
    "gelu": F.gelu,
    "gelu_tanh": functools.partial(F.gelu, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "elu": F.elu,
    "celu": F.celu,
    "softplus": F.softplus,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "relu6": F.relu6,
    "hardtanh": F.hardtanh,
    "softsign": F.softsign,
    "logsigmoid": F.logsigmoid,
}
_TABLE_MODULES = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SELU: "selu"}
_TABLE_MODULES |= {nn.Identity: "linear"}
_TABLE_FUNCTIONS = {torch.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid", F.relu: "relu"}
_TABLE_FUNCTIONS |= {torch.relu: "relu", F.leaky_relu: "leaky_relu", F.selu: "selu"}


def _simpson_grid(half_width: float, points: int) -> tuple[Tensor, Tensor]:
    """Nodes on [-w, w] and Simpson's weights times the standard normal density at each."""
    z = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    weights = torch.full((points,), 2.0, dtype=torch.float64)
    weights[1:-1:2], weights[0], weights[-1] = 4.0, 1.0, 1.0
    h = 2 * half_width / (points - 1)
    return z, weights * h / 3 * torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)


# h = 1e-4: the kinks of relu6, hardtanh and the like cost O(h^2) there, about 1e-8 of the gain;
# beyond |z| = 12 the density is below 1e-31.
_NODES, _WEIGHTS = _simpson_grid(12.0, 240_001)


def derived_gain(phi: Any) -> float:
    """``1 / sqrt(E[phi(z)^2])``, z ~ N(0, 1), by Simpson's rule."""
    # On one thread this takes about a millisecond; split over threads that a busy machine is
    # running elsewhere, it waits tens of milliseconds for them. The thread count is put back.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return 1 / math.sqrt(float((phi(_NODES).to(torch.float64) ** 2 * _WEIGHTS).sum()))
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _named_gain(name: str) -> float:
    name = _ALIASES.get(name, name)
    return _TABLE[name] if name in _TABLE else derived_gain(_DERIVED[name])


def activation_gain(spec: Any) -> float:
    """The gain of an activation spec, as the README states it: torch's table where torch has the
    name, leaky_relu's formula for a slope, else derived from the function."""
    if isinstance(spec, str):
        return _named_gain(spec)
    if isinstance(spec, type):
        spec = spec()
    if isinstance(spec, nn.LeakyReLU):
        return _leaky(spec.negative_slope)
    if isinstance(spec, nn.PReLU):
        return _leaky(float(spec.weight.detach().flatten()[0]))  # one slope: a gain is defined
    if type(spec) in _TABLE_MODULES:
        return _TABLE[_TABLE_MODULES[type(spec)]]
    if spec in _TABLE_FUNCTIONS:
        return _TABLE[_TABLE_FUNCTIONS[spec]]
    return derived_gain(spec)


# --- What a scheme draws --------------------------------------------------------------------------

# name -> (mode, distribution) of the variance-scaling family: Var = scale g^2 / fan.
VARIANCE_SCALING = {
    "kaiming_normal": ("fan_in", "normal"),
    "kaiming_uniform": ("fan_in", "uniform"),
    "xavier_normal": ("fan_avg", "normal"),
    "xavier_uniform": ("fan_avg", "uniform"),
    "lecun_normal": ("fan_in", "normal"),
    "lecun_uniform": ("fan_in", "uniform"),
    "variance_scaling": ("fan_in", "truncated_normal"),
}
DEFAULT_ACTIVATION = {"kaiming_normal": "relu", "kaiming_uniform": "relu", "critical": "tanh"}


def base_name(options: dict[str, Any]) -> str:
    """ICNR's base scheme by name (it may be given as a class)."""
    base = options.get("base", "kaiming_normal")
    return base if isinstance(base, str) else str(base.scheme)


def expected_gain(scheme: str, options: dict[str, Any]) -> float:
    """The gain a layer of ``scheme`` built with ``options`` uses."""
    for key in ("gain", "identity_gain"):
        if options.get(key) is not None:
            return float(options[key])
    if "activation" in options:
        return activation_gain(options["activation"])
    if scheme == "icnr":
        return expected_gain(base_name(options), {})
    return activation_gain(DEFAULT_ACTIVATION.get(scheme, "linear"))


@dataclass(frozen=True)
class Theory:
    """Var(W), E[W] and the family of what a scheme draws (``None``: structured)."""

    variance: float
    mean: float
    distribution: str | None


def theory(scheme: str, ref: ConvReference, options: dict[str, Any], gain: float) -> Theory:
    """The moments a scheme's weights have for a layer of ``ref``'s shape: exact for a structured
    scheme's mean square about its mean, in expectation for an iid one."""
    if scheme in VARIANCE_SCALING:
        mode, distribution = VARIANCE_SCALING[scheme]
        mode, distribution = options.get("mode", mode), options.get("distribution", distribution)
        fan = {"fan_in": ref.fan_in, "fan_out": ref.fan_out}.get(
            mode, (ref.fan_in + ref.fan_out) / 2
        )
        return Theory(options.get("scale", 1.0) * gain**2 / fan, 0.0, distribution)
    if scheme == "uniform":
        low, high = options.get("low", 0.0), options.get("high", 1.0)
        return Theory((high - low) ** 2 / 12, (low + high) / 2, "uniform")
    if scheme == "normal":
        return Theory(options.get("std", 1.0) ** 2, options.get("mean", 0.0), "normal")
    if scheme == "torch_default":  # U(-1/sqrt(n), 1/sqrt(n)) with torch's n
        return Theory(1 / (3 * ref.torch_fan_in), 0.0, "uniform")
    if scheme == "orthogonal":
        rows, cols = ref.block_shape
        return Theory(gain**2 * min(rows, cols) / (rows * cols), 0.0, None)
    if (
        scheme == "delta_orthogonal"
    ):  # per group: per_in columns of norm g in per_out x per_in x taps
        return Theory(gain**2 / (ref.per_out * ref.taps), 0.0, None)
    if scheme == "identity":
        share = ref.groups * min(ref.per_in, ref.per_out) / math.prod(ref.weight_shape)
        return Theory(gain**2 * share * (1 - share), gain * share, None)
    if scheme == "zero":
        return Theory(0.0, 0.0, None)
    if scheme == "icnr":
        sub, base_options = icnr_sub_kernel(ref, options)
        return theory(base_name(options), sub, base_options, gain)
    if scheme == "critical":  # every base at the mean square sigma_w^2 / fan_in
        family = "normal" if options.get("base") == "normal" else None
        return Theory(gain**2 / ref.fan_in, 0.0, family)
    raise KeyError(f"no reference theory for the scheme {scheme!r}; write one here")


# Schemes whose gain is not a function of the activation alone, and is checked against an
# independent computation elsewhere: the critical scheme's sigma_w solves the mean-field fixed
# point for (activation, bias_std) (tests/meanfield/test_critical_line.py, by scipy for named activations).
GAIN_CHECKED_ELSEWHERE = frozenset({"critical"})


def critical_structure(ref: ConvReference, options: dict[str, Any]) -> str:
    """The construction the critical scheme uses: its base, but orthogonal for a layer without a
    kernel (a linear layer has no centre tap)."""
    base = str(options.get("base", "delta_orthogonal"))
    return "orthogonal" if base == "delta_orthogonal" and not ref.kernel else base


def critical_block_gain(ref: ConvReference, options: dict[str, Any], gain: float) -> float:
    """The gain of the critical scheme's structured base that gives the mean square
    sigma_w^2 / fan_in: the base's own mean square at gain 1 is min(r, c) / (r c) for orthogonal
    blocks and 1 / (per_out taps) for a delta-orthogonal kernel."""
    target = gain**2 / ref.fan_in
    if critical_structure(ref, options) == "orthogonal":
        rows, cols = ref.block_shape
        return math.sqrt(target * rows * cols / min(rows, cols))
    return math.sqrt(target * ref.per_out * ref.taps)


def icnr_repeats(ref: ConvReference, options: dict[str, Any]) -> int:
    """How many output channels each ICNR filter fills: ``upscale_factor ** d``."""
    return int(options.get("upscale_factor", 2)) ** len(ref.kernel)


def icnr_sub_kernel(ref: ConvReference, options: dict[str, Any]) -> tuple[ConvReference, Any]:
    """The reference of ICNR's sub-kernel (``out / r^d`` outputs, all else the layer's) and the
    base's options."""
    config = {
        "in_channels": ref.inputs,
        "out_channels": ref.outputs // icnr_repeats(ref, options),
        "kernel_size": ref.kernel,
        "stride": ref.stride,
        "groups": ref.groups,
    }
    return ConvReference(config, len(ref.kernel)), dict(options.get("base_options") or {})


def mp_sigmoid(z: Any) -> Any:
    """The logistic sigmoid of an mpmath number."""
    return 1 / (1 + mpmath.exp(-z))


def mpmath_gain(phi: Any) -> float:
    """1 / sqrt(E[phi(z)^2]), z ~ N(0, 1), for ``phi`` of mpmath numbers, by mpmath at 30 digits."""
    with mpmath.workdps(30):
        moment = mpmath.quad(lambda z: phi(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        return float(1 / mpmath.sqrt(moment))


def gaussian_mean(f: Callable[[float], float], q: float) -> float:
    """E[f(sqrt(q) z)] for z ~ N(0, 1), by scipy's adaptive quadrature to 1e-13 relative: a
    reference independent of the package's own quadrature."""
    root = math.sqrt(q)

    def integrand(z: float) -> float:
        return f(root * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    value, _ = integrate.quad(integrand, -math.inf, math.inf, epsabs=0.0, epsrel=1e-13, limit=200)
    return float(value)


def leaky_dead_zone_moments(
    q: mpmath.mpf, threshold: float, saturation: float, leak: float
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(E[phi^2], E[phi'^2]) at second moment q, in closed form, for the leaky saturating dead zone
    phi(x) = leak x + sign(x) min(max(|x| - threshold, 0), saturation) (derived in
    tests/meanfield/test_critical_point_past_a_wide_leaky_dead_zone.py)."""
    lam, c, eps = mpmath.mpf(threshold), mpmath.mpf(saturation), mpmath.mpf(leak)
    root = mpmath.sqrt(q)
    top = lam + c

    def density(x: mpmath.mpf) -> mpmath.mpf:
        return mpmath.npdf(x, 0, root)

    i0 = mpmath.ncdf(top / root) - mpmath.ncdf(lam / root)
    i1 = q * (density(lam) - density(top))
    i2 = q * (lam * density(lam) - top * density(top)) + q * i0
    slope_moment = eps**2 + (1 + 2 * eps) * 2 * i0
    cross = 2 * (i2 - lam * i1 + c * q * density(top))
    outer = 2 * (i2 - 2 * lam * i1 + lam**2 * i0 + c**2 * mpmath.ncdf(-top / root))
    return eps**2 * q + 2 * eps * cross + outer, slope_moment
