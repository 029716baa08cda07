r"""µP: initial variances and learning rates that carry across width and depth.

Under the standard parametrization (every scheme's default), the best learning rate moves with a
network's width. µP (Yang, G. et al. (2022), "Tensor Programs V: Tuning large neural networks via
zero-shot hyperparameter transfer", Table 3) scales each layer's init and learning rate by how its
dimensions grow relative to a base model, so that a rate tuned on a narrow proxy transfers.
:func:`mup_` reads the growth off the layers' fans against ``base`` and keeps it as each module's
record (:class:`~initconv._layers.calibration.MuP`), which every reset replays and a checkpoint
carries; :func:`initconv.param_groups` (``param_groups.py``) turns the records into an optimizer's
parameter groups. With :math:`m_\text{in}`, :math:`m_\text{out}` the fans over the base's:

========================  ======================  ========================  ==========================
                          input weights, biases,  hidden weights            output weights (readout)
                          vectors
========================  ======================  ========================  ==========================
init variance             base's                  base's / m_in             base's / m_in^2
SGD learning rate         eta * m_out             eta                       eta / m_in
Adam learning rate        eta                     eta / m_in                eta / m_in
========================  ======================  ========================  ==========================

Depth (Yang, G. et al. (2023), "Tensor Programs VI: Feature learning in infinite-depth neural
networks"; Bordelon, B. et al. (2023), "Depthwise hyperparameter transfer in residual networks"):
with :math:`L` residual branches against the base's :math:`L_b`, each branch's output is scaled by
:math:`(L_b / L)^{1/2}`, carried by the init of the module that ends it, and the learning rates
of the branch's parameters by the rules :func:`initconv.param_groups` derives.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from initconv._inference.branches import Branch, find_branches
from initconv._layers.base import InitLayer
from initconv._layers.calibration import MuP, Role
from initconv._maths.fans import fans
from initconv._model.convert import check_model, convert_layers
from initconv._model.mup_record import record_of, set_record
from initconv._model.param_groups import lr_scale
from initconv._model.report import Report, format_table
from initconv._model.surgery import Undo, base_class, torch_kind
from initconv._schemes.base import Scheme, resolve_scheme
from initconv._validate import describe

__all__ = ["MuPReport", "MuPRow", "mup_"]

# The hyperparameters of a layer that no width changes; a difference in one is a different
# architecture (a kernel that grew would grow the fans in a way no width explains).
_FIXED = (
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "output_padding",
    "padding_mode",
    "transposed",
)


# --- The report ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MuPRow:
    """What :func:`mup_` recorded for one module with parameters.

    ``weight_scale`` multiplies the module's own weight draw (``1.0`` for a module that is not
    re-initialised); ``adam`` and ``sgd`` are the factors :func:`initconv.param_groups` gives the
    weight's (or, for a module that is not a layer, its parameters') learning rate; ``replayed``
    says whether the module's ``reset_parameters()`` draws it so again.
    """

    name: str
    kind: str
    role: str
    fan_in: float
    fan_out: float
    width: float
    depth: float
    branch_end: bool
    weight_scale: float
    adam: float
    sgd: float
    replayed: bool
    detail: str


class MuPReport(Report[MuPRow]):
    """What :func:`mup_` did, one :class:`MuPRow` per module with parameters; ``str()`` is a table.

    Attributes:
        branches: the model's residual branches.
        base_branches: the base's.
        changed: whether the call set records (``False`` when every record was already there).
    """

    def __init__(
        self, rows: Iterable[MuPRow], branches: int, base_branches: int, changed: bool
    ) -> None:
        super().__init__(tuple(rows))
        self.branches = branches
        self.base_branches = base_branches
        self.changed = changed

    def roles(self) -> dict[str, str]:
        """Module name to role."""
        return {row.name: row.role for row in self.rows}

    def __repr__(self) -> str:
        return (
            f"MuPReport({len(self.rows)} modules, {self.branches} residual branches against "
            f"the base's {self.base_branches}, changed={self.changed})"
        )

    def __str__(self) -> str:
        header = (
            "module",
            "kind",
            "role",
            "m_in",
            "m_out",
            "m_width",
            "m_depth",
            "init x",
            "Adam lr x",
            "SGD lr x",
            "note",
        )
        cells = [
            (
                row.name,
                row.kind,
                row.role + (", branch end" if row.branch_end else ""),
                f"{row.fan_in:.4g}",
                f"{row.fan_out:.4g}",
                f"{row.width:.4g}",
                f"{row.depth:.4g}",
                f"{row.weight_scale:.4g}",
                f"{row.adam:.4g}",
                f"{row.sgd:.4g}",
                row.detail,
            )
            for row in self.rows
        ]
        lines = format_table(header, cells, free_last=True)
        depth = (
            f"{self.branches} residual branches against the base's {self.base_branches}"
            if self.branches or self.base_branches
            else "no residual branches"
        )
        state = "recorded" if self.changed else "already recorded; nothing changed"
        lines.append(f"µP for {len(self.rows)} modules, {depth}: {state}.")
        return "\n".join(lines)


# --- Matching the model to its base ------------------------------------------------------------


def _owners(model: nn.Module) -> dict[str, nn.Module]:
    """The modules that own parameters (and every conv and linear layer), by name, in order."""
    found: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if "parametrizations" in name.split("."):
            continue  # a parametrization's originals belong to the layer it parametrizes
        own = [p for p in module.parameters(recurse=False) if p is not None]
        if torch_kind(module) is not None or own:
            found[name] = module
    return found


def _shown(name: str) -> str:
    return repr(name) if name else "'' (the model itself)"


def _fixed_of(layer: nn.Module) -> dict[str, object]:
    values: dict[str, object] = {"bias": getattr(layer, "bias", None) is not None}
    for key in _FIXED:
        if hasattr(layer, key):
            values[key] = getattr(layer, key)
    return values


def _widths(layer: nn.Module) -> dict[str, int]:
    if isinstance(layer, nn.Linear):
        return {"in_features": layer.in_features, "out_features": layer.out_features}
    conv = cast(Any, layer)
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "groups": conv.groups,
    }


def _same_kind(module: nn.Module, other: nn.Module) -> bool:
    kind = torch_kind(module)
    if kind is not None:
        return kind is torch_kind(other)
    return base_class(module) is base_class(other)


def _kind_name(module: nn.Module) -> str:
    kind = torch_kind(module)
    return (kind or base_class(module)).__name__


def _index_position(first: str, second: str) -> int | None:
    """The one dotted component in which two names differ, both numbers (the block index of two
    blocks of one stack: ``layer1.3.conv1`` and ``layer1.1.conv1``), or ``None``."""
    a, b = first.split("."), second.split(".")
    if len(a) != len(b):
        return None
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differ) != 1 or not (a[differ[0]].isdigit() and b[differ[0]].isdigit()):
        return None
    return differ[0]


def _same_block(
    ours: Branch, theirs: Branch, model: dict[str, nn.Module], base: dict[str, nn.Module]
) -> bool:
    """Whether base's branch ``theirs`` is a block of the same stack as the model's ``ours``: the
    same modules in the same order under another block index, of the same kinds and fixed
    hyperparameters."""
    if len(ours.modules) != len(theirs.modules) or not ours.modules:
        return False
    positions = {_index_position(a, b) for a, b in zip(ours.modules, theirs.modules, strict=True)}
    if len(positions) != 1 or None in positions:
        return False
    for a, b in zip(ours.modules, theirs.modules, strict=True):
        mine, other = model.get(a), base.get(b)
        if (mine is None) != (other is None):
            return False
        if mine is not None and other is not None:
            if not _same_kind(mine, other):
                return False
            if torch_kind(mine) is not None and _fixed_of(mine) != _fixed_of(other):
                return False
    return True


def _counterparts(
    model: nn.Module,
    base: nn.Module,
    owners: dict[str, nn.Module],
    base_owners: dict[str, nn.Module],
    branches: list[Branch],
    base_branches: list[Branch],
) -> dict[str, str]:
    """Each module of the model with parameters, to its counterpart in base: the module of the
    same name, or, for a residual block that base has fewer of, the same module of the last block
    of the same stack in base."""
    found: dict[str, str] = {}
    deeper = len(branches) > len(base_branches)
    modules, base_modules = dict(model.named_modules()), dict(base.named_modules())
    for name, module in owners.items():
        if name in base_owners:
            found[name] = name
            continue
        if deeper:
            branch = next((b for b in branches if name in b.modules), None)
            if branch is not None:
                candidates = [
                    b for b in base_branches if _same_block(branch, b, modules, base_modules)
                ]
                if candidates:
                    theirs = candidates[-1]
                    found[name] = theirs.modules[branch.modules.index(name)]
                    continue
        raise ValueError(
            f"base has no counterpart of the model's {_kind_name(module)} {_shown(name)}: no "
            "module of that name"
            + (
                ", and no residual block of base has the same modules under another index"
                if deeper
                else ""
            )
            + "; base must be the same architecture at the base width (and depth)"
        )
    missing = [name for name in base_owners if name not in set(found.values())]
    if missing:
        raise ValueError(
            f"the model has no counterpart of base's {_kind_name(base_owners[missing[0]])} "
            f"{_shown(missing[0])}; base must be the same architecture at the base width, with "
            "at most as many residual blocks"
        )
    return found


def _ratio(name: str, what: str, ours: float, theirs: float) -> float:
    if theirs <= 0 or ours < theirs:
        raise ValueError(
            f"layer {_shown(name)}: its {what} {ours:g} is smaller than base's {theirs:g}; base "
            "must be the narrower model (every width at most the model's)"
        )
    return ours / theirs


def _layer_multipliers(
    name: str, layer: nn.Module, twin: nn.Module
) -> tuple[Role, float, float, float]:
    """The role and the fan and width multipliers of a conv or linear layer against ``twin``."""
    mine, theirs = _fixed_of(layer), _fixed_of(twin)
    for key, value in mine.items():
        if theirs.get(key) != value:
            raise ValueError(
                f"layer {_shown(name)}: {key} is {value!r} in the model but {theirs.get(key)!r} "
                "in base; only widths may differ (a fan that grows in a way no width explains)"
            )
    widths, base_widths = _widths(layer), _widths(twin)
    for key, value in widths.items():
        _ratio(name, key, value, base_widths[key])
    fan_in, fan_out = fans(layer)
    base_in, base_out = fans(twin)
    m_in = _ratio(name, "fan_in", fan_in, base_in)
    m_out = _ratio(name, "fan_out", fan_out, base_out)
    out_key = "out_features" if isinstance(layer, nn.Linear) else "out_channels"
    width = widths[out_key] / base_widths[out_key]
    role: Role
    if m_in > 1 and m_out > 1:
        role = "hidden"
    elif m_out > 1:
        role = "input"
    elif m_in > 1:
        role = "output"
    else:
        role = "vector" if width > 1 else "fixed"
    return role, m_in, m_out, width


def _vector_multiplier(name: str, module: nn.Module, twin: nn.Module) -> float:
    """The width multiplier of a module that is not a layer: every parameter grows in at most one
    dimension, all by the same factor."""
    theirs = dict(twin.named_parameters(recurse=False))
    factors: set[float] = set()
    for key, parameter in module.named_parameters(recurse=False):
        other = theirs.get(key)
        where = f"{name}.{key}" if name else key
        if other is None or other.dim() != parameter.dim():
            raise ValueError(
                f"parameter {where!r} has no counterpart of the same rank in base; base must be "
                "the same architecture at the base width"
            )
        growing = []
        for size, base_size in zip(parameter.shape, other.shape, strict=True):
            ratio = _ratio(where, "size", size, base_size)
            if ratio > 1:
                growing.append(ratio)
        if len(growing) > 1:
            raise ValueError(
                f"parameter {where!r} of a {type(module).__name__} grows in {len(growing)} "
                f"dimensions ({tuple(other.shape)} in base, {tuple(parameter.shape)} here); mup_ "
                "knows the fans of convolutions and linear layers only"
            )
        factors.add(growing[0] if growing else 1.0)
    if len(factors) > 1:
        raise ValueError(
            f"the parameters of {_shown(name)} ({type(module).__name__}) grow by different "
            f"factors {tuple(sorted(factors))}; mup_ gives a module one width multiplier"
        )
    return factors.pop() if factors else 1.0


def _check_depth(total: int, base_total: int) -> None:
    if total != base_total and (base_total == 0 or total < base_total):
        raise ValueError(
            f"the model has {total} residual branches and base {base_total}; base must have "
            "at least one and at most as many as the model"
        )


def _depth_records(
    branches: list[Branch], base_branches: list[Branch], owners: Mapping[str, nn.Module]
) -> tuple[float, dict[str, bool]]:
    """The depth multiplier and, for each module with parameters inside a residual branch,
    whether it ends the branch."""
    total, base_total = len(branches), len(base_branches)
    if total == base_total:
        return 1.0, {}
    inside: dict[str, bool] = {}
    for branch in branches:
        end = branch.norm or branch.layers[-1]
        for name in branch.modules:
            if name not in owners:
                continue
            if name in inside:
                raise ValueError(
                    f"module {_shown(name)} is in two residual branches (nested residual "
                    f"adds, the second {branch.name!r}); depth-µP scales branches that do not "
                    "nest"
                )
            inside[name] = name == end
    return total / base_total, inside


# --- The law of each layer's draw --------------------------------------------------------------


def _draw_twin(layer: InitLayer, shape: Mapping[str, Any]) -> Scheme:
    """A weightless copy of the layer's draw (its scheme, or its calibration's base) at ``shape``."""
    calibration = layer.calibration
    drawn = None if calibration is None else calibration.base
    if drawn is not None and drawn != layer.scheme:
        return layer.template(drawn, **shape)
    cls = type(layer)
    options = {key: getattr(layer, key, default) for key, default in cls.options().items()}
    bias: dict[str, Any] = {"bias_init": layer.bias_init}
    if layer.bias_std is not None:
        bias["bias_std"] = layer.bias_std
    twin: Scheme = cls(
        **{**layer.torch_arguments(), **shape},
        device="meta",
        dtype=layer.weight.dtype,
        activation=layer.activation,
        gain=layer.gain,
        **bias,
        **options,
    )
    return twin


def _laws(
    name: str, layer: InitLayer, base_shape: Mapping[str, Any], m_in: float
) -> tuple[float, float]:
    """The factors that put the layer's weight draw on the base's fan-in law (variance the
    base's over :math:`m_\\text{in}`) and keep its bias's variance at the base's."""
    try:
        drawn = None if layer.calibration is None else layer.calibration.base
        here: Scheme = layer if drawn is None or drawn == layer.scheme else _draw_twin(layer, {})
        there = _draw_twin(layer, base_shape)
        variance, base_variance = here.expected_variance(), there.expected_variance()
        bias, base_bias = here.expected_bias_variance(), there.expected_bias_variance()
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"layer {_shown(name)}: its scheme cannot state its variance at base's shape: {error}"
        ) from error
    weight_law = 1.0
    if variance > 0 and base_variance > 0:
        weight_law = math.sqrt(base_variance / m_in / variance)
    bias_law = math.sqrt(base_bias / bias) if bias > 0 and base_bias > 0 else 1.0
    # Ratios of the same formula at two shapes: exact up to rounding, which a reset should not
    # multiply in (a factor of 1 - 1e-16 would change every draw's last bit).
    return _snap(weight_law), _snap(bias_law)


def _snap(factor: float) -> float:
    return 1.0 if abs(factor - 1.0) < 1e-12 else factor


def _base_shape(twin: nn.Module) -> dict[str, Any]:
    return {**_widths(twin), "bias": getattr(twin, "bias", None) is not None}


# --- mup_ --------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Plan:
    name: str
    module: nn.Module
    twin: nn.Module
    role: Role
    fan_in: float = 1.0
    fan_out: float = 1.0
    width: float = 1.0


def _plans(
    owners: dict[str, nn.Module], base_owners: dict[str, nn.Module], pairs: dict[str, str]
) -> list[_Plan]:
    plans = []
    for name, module in owners.items():
        twin = base_owners[pairs[name]]
        if not _same_kind(module, twin):
            raise ValueError(
                f"module {_shown(name)} is a {_kind_name(module)} in the model but a "
                f"{_kind_name(twin)} in base ({pairs[name]!r}); base must be the same "
                "architecture at the base width"
            )
        if torch_kind(module) is not None:
            role, m_in, m_out, width = _layer_multipliers(name, module, twin)
            plans.append(_Plan(name, module, twin, role, m_in, m_out, width))
        else:
            width = _vector_multiplier(name, module, twin)
            plans.append(_Plan(name, module, twin, "vector" if width > 1 else "fixed", width=width))
    return plans


def _refuse_other_layers(owners: dict[str, nn.Module]) -> None:
    for name, module in owners.items():
        if torch_kind(module) is not None and not isinstance(module, InitLayer):
            cls = base_class(module).__name__
            raise ValueError(
                f"layer {_shown(name)} is a {cls}, a subclass of nn.{_kind_name(module)} with a "
                "forward of its own that convert() leaves alone, so its resets cannot replay µP; "
                "replace it, or build the model from initconv layers"
            )


def _snapshot(modules: Iterable[nn.Module]) -> list[tuple[Tensor, Tensor]]:
    saved: list[tuple[Tensor, Tensor]] = []
    for module in modules:
        for tensor in module.parameters():
            saved.append((tensor, tensor.detach().clone()))
    return saved


def _restore(saved: list[tuple[Tensor, Tensor]]) -> None:
    with torch.no_grad():
        for tensor, value in saved:
            tensor.copy_(value)


def mup_(
    model: nn.Module, base: nn.Module, *, scheme: str | type[Scheme] = "kaiming_normal"
) -> MuPReport:
    r"""Parametrize ``model`` in µP relative to ``base``, in place, and re-initialise it so.

    ``base`` is the same architecture at a base width (and, for residual networks, depth), built
    normally or on the meta device; it is read, never changed. Each module with parameters is
    matched to its counterpart in ``base`` by name (a residual block that base has fewer of, to
    the last block of the same stack in base), and the fans of each convolution and linear layer
    (:func:`initconv.fans`: grouped, depthwise and transposed convolutions included) are compared
    with its counterpart's. Their ratios :math:`m_\text{in}, m_\text{out} \ge 1` give the layer's
    role: input (:math:`m_\text{in} = 1`), hidden (both grow), output (:math:`m_\text{out} = 1`),
    vector (neither fan grows but the channels do: a depthwise convolution; every norm and bias)
    or fixed (nothing grows). Each layer is then re-initialised by its own scheme with its
    variance put on the base's fan-in law (Yang, G. et al. (2022), "Tensor Programs V", Table 3):

    .. math::
        \operatorname{Var}(W) = \frac{\sigma_b^2}{m_\text{in}}\ \text{(input, hidden, vector)},
        \qquad \operatorname{Var}(W) = \frac{\sigma_b^2}{m_\text{in}^2}\ \text{(output)},

    with :math:`\sigma_b^2` the variance the layer's scheme draws at base's shape (He, LeCun and
    torch's default already follow the law; Xavier and fan_out modes are rescaled onto it). Of
    Table 3's equivalent forms of the readout rule, the :math:`1/\text{fan\_in}^2` init is the
    one that changes no layer's forward, so the ``state_dict`` and the model stay torch's. Biases
    keep the base's variance. Depth (Yang, G. et al. (2023), "Tensor Programs VI"; Bordelon, B.
    et al. (2023)): with :math:`L` residual branches against base's :math:`L_b`
    (:func:`initconv.residual_init_` finds them), the module that ends each branch (its last
    weight layer, or the affine norm after it) draws times :math:`(L_b/L)^{1/2}`.

    Every module's multipliers and role are kept as its record, which every later
    ``reset_parameters()`` (and so ``to_empty()`` and FSDP's materialisation) replays and the
    ``state_dict``'s metadata carries, and which :func:`initconv.param_groups` reads for the
    learning rates. Plain torch layers are converted first, as :func:`initconv.convert` does
    (``scheme``, activations inferred). A norm is not re-initialised (its scale is 1 at every
    width); one that ends a branch is scaled once, which its own reset does not replay.

    A second call with the same base changes nothing; one whose records would differ is refused
    by name. Call it once, right after building the model (before loading a checkpoint).

    Args:
        model: the model, changed in place.
        base: the same architecture at the base width (and depth).
        scheme: the scheme for plain torch layers (see :func:`initconv.convert`).

    Returns:
        A :class:`MuPReport`, printed as a table.

    Raises:
        ValueError: ``base`` is not the same architecture at a smaller width: a module missing on
            either side, a shape that shrinks, a kernel or stride that differs, a parameter that
            grows in two dimensions; or a record differs from one already set. The error names
            the module, and the model is left as it was.

    Examples:
        >>> make = lambda w: nn.Sequential(nn.Linear(8, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
        ...                                nn.Linear(w, 10))
        >>> model = make(256)
        >>> report = initconv.mup_(model, make(64))
        >>> [row.role for row in report]
        ['input', 'hidden', 'output']
        >>> optimizer = torch.optim.AdamW(initconv.param_groups(model, lr=3e-3))
    """
    model = check_model(model, "mup_")
    resolve_scheme(scheme)
    if not isinstance(base, nn.Module):
        raise TypeError(f"base must be an nn.Module, got {describe(base)}")
    if base is model:
        raise ValueError(
            "base must be a separate model at the base width, got the model itself; build one, "
            "e.g. on the meta device"
        )
    owners, base_owners = _owners(model), _owners(base)
    if not owners:
        raise ValueError(f"model has no parameters to parametrize ({type(model).__name__})")
    branches, _, _ = find_branches(model)
    base_branches, _, _ = find_branches(base)
    _check_depth(len(branches), len(base_branches))
    pairs = _counterparts(model, base, owners, base_owners, branches, base_branches)
    plans = _plans(owners, base_owners, pairs)
    depth, inside = _depth_records(branches, base_branches, owners)

    # Conversion last among the checks: it is the first change, and undone on any later error.
    undo: Undo | None = None
    if any(torch_kind(m) is not None and not isinstance(m, InitLayer) for m in owners.values()):
        report, undo = convert_layers(model, scheme, "infer", False, None, None, False, {})
        if report.fallbacks:
            warnings.warn(
                f"mup_: the activation of {len(report.fallbacks)} layer(s) could not be inferred "
                f"({', '.join(row.name for row in report.fallbacks)}); they use "
                f"{report.fallbacks[0].activation!r}. Convert the model with initconv.convert "
                "first to set them",
                UserWarning,
                stacklevel=2,
            )
    try:
        return _apply(model, plans, depth, inside, undo, len(branches), len(base_branches))
    except BaseException:
        if undo is not None:
            undo()
        raise


def _apply(
    model: nn.Module,
    plans: list[_Plan],
    depth: float,
    inside: dict[str, bool],
    undo: Undo | None,
    total: int,
    base_total: int,
) -> MuPReport:
    owners = _owners(model)  # the converted layers, where conversion replaced some
    _refuse_other_layers(owners)
    records: dict[str, MuP] = {}
    for plan in plans:
        module = owners[plan.name]
        weight_law = bias_law = 1.0
        if isinstance(module, InitLayer):
            weight_law, bias_law = _laws(plan.name, module, _base_shape(plan.twin), plan.fan_in)
        in_branch = plan.name in inside
        records[plan.name] = MuP(
            plan.role,
            plan.fan_in,
            plan.fan_out,
            plan.width,
            depth if in_branch else 1.0,
            inside.get(plan.name, False),
            weight_law,
            bias_law,
        )
    # Every record already there: nothing to do. One that differs: refused, by name.
    existing = {name: record_of(owners[name]) for name in records}
    for name, record in records.items():
        old = existing[name]
        if old is not None and old != record:
            raise ValueError(
                f"module {_shown(name)} already has a different µP record ({old.role}, fan_in x "
                f"{old.fan_in:g}, depth x {old.depth:g}; this base gives {record.role}, fan_in x "
                f"{record.fan_in:g}, depth x {record.depth:g}): mup_ was called with another "
                "base; build the model again to parametrize it anew"
            )
    changed = [name for name in records if existing[name] is None]
    rows = _rows(owners, records)
    if not changed:
        return MuPReport(rows, total, base_total, changed=False)
    saved = _snapshot(owners[name] for name in changed)
    try:
        for name in changed:
            module, record = owners[name], records[name]
            set_record(module, record)
            if isinstance(module, InitLayer):
                module.reset_parameters()
            elif record.branch_end:
                with torch.no_grad():
                    for parameter in module.parameters(recurse=False):
                        parameter.mul_(record.bias_scale)
    except BaseException:
        for name in changed:
            set_record(owners[name], None)
        _restore(saved)
        raise
    return MuPReport(rows, total, base_total, changed=True)


def _rows(owners: dict[str, nn.Module], records: dict[str, MuP]) -> list[MuPRow]:
    rows = []
    for name, record in records.items():
        module = owners[name]
        layer = isinstance(module, InitLayer)
        tensor: Literal["weight", "vector"] = "weight" if layer else "vector"
        if layer:
            detail = ""
        elif record.branch_end:
            detail = "scaled once; its own reset sets it back"
        else:
            detail = "init unchanged"
        rows.append(
            MuPRow(
                name,
                _kind_name(module),
                record.role,
                record.fan_in,
                record.fan_out,
                record.width,
                record.depth,
                record.branch_end,
                record.weight_scale if layer else (record.bias_scale if record.branch_end else 1.0),
                lr_scale(record, "adam", tensor),
                lr_scale(record, "sgd", tensor),
                layer,
                detail,
            )
        )
    return rows
