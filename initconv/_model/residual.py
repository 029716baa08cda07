r"""Residual-aware initialisation of a whole model: :func:`residual_init_`.

A deep residual network without normalisation keeps its signal only if each branch starts small:
zero the end of every branch (Goyal, P. et al. (2017), "Accurate, large minibatch SGD", for the
norm's scale; Zhang, H. et al. (2019), "Fixup initialization", for the last weight layer), scale
the branch's other layers down by :math:`L^{-1/(2m-2)}` (Fixup), or gate each branch by a scalar
that starts at 0 (De, S. & Smith, S. (2020), "Batch normalization biases residual blocks towards
the identity function in deep networks": SkipInit). The branches come from the graph torch.fx
traces, as :func:`initconv.convert` reads it (:mod:`initconv._inference.branches`).

A call plans every change first (what to zero, scale or gate, and whether it can be), then makes
them, keeping what each module held; if any change fails, every module is put back as it was and
one error names the module. The modules it changed carry a mark, so a second call is refused by
name instead of scaling or gating a second time.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Literal, cast

import torch
from torch import Tensor, nn

from initconv._inference.branches import Branch, Unit, find_branches
from initconv._layers.base import InitLayer, write_parameter
from initconv._layers.calibration import Calibration
from initconv._model.gate import GATE, apply_gate
from initconv._model.report import Report
from initconv._model.seeding import module_seed
from initconv._validate import check_choice, check_seed, describe

__all__ = ["GATE", "ResidualReport", "ResidualRow", "residual_init_"]

Method = Literal["zero", "fixup", "skipinit"]
METHODS: tuple[str, ...] = ("fixup", "skipinit", "zero")

# The attribute that marks a module residual_init_ changed, holding the method. A plain attribute:
# it travels with pickles, deep copies and module surgery, not in the state_dict.
MARK = "_initconv_residual_init"

# Pickles of gated models from before the hook moved to initconv._model.gate name it here.
_apply_gate = apply_gate

# One call at a time: a second call on the same model, from another thread, must see the first's
# marks, not race it into a second scaling.
_LOCK = threading.RLock()


@dataclasses.dataclass(frozen=True)
class ResidualRow:
    """What :func:`residual_init_` did to one module.

    ``action`` is ``"zeroed"`` (weight, and bias where there is one), ``"scale zeroed"`` (a
    norm's weight), ``"scaled"`` (by ``factor``) or ``"gated"`` (a zero gate added); ``replayed``
    says whether the module's ``reset_parameters()`` draws it again so.
    """

    name: str
    branch: str
    layers: int
    action: str
    factor: float
    replayed: bool
    detail: str


class ResidualReport(Report[ResidualRow]):
    """What :func:`residual_init_` did, one :class:`ResidualRow` per module; ``str()`` is a table.

    :attr:`skipped` lists the adds that were not taken for residual branches, with the reason;
    :attr:`unchanged` those of them that are residual branches it could not change (they do not
    start as the identity; the call warned about them).
    """

    def __init__(
        self,
        rows: Iterable[ResidualRow],
        method: str,
        branches: int,
        skipped: dict[str, str],
        unchanged: dict[str, str] | None = None,
    ) -> None:
        super().__init__(tuple(rows))
        self.method = method
        self.branches = branches
        self.skipped = skipped
        self.unchanged = dict(unchanged or {})

    def __repr__(self) -> str:
        return (
            f"ResidualReport(method={self.method!r}, {self.branches} branches, "
            f"{len(self.rows)} modules, {len(self.skipped)} adds skipped, "
            f"{len(self.unchanged)} branches unchanged)"
        )

    columns = (
        ("module", lambda row: row.name),
        ("branch", lambda row: row.branch),
        ("m", lambda row: str(row.layers)),
        ("action", lambda row: f"x {row.factor:.4g}" if row.action == "scaled" else row.action),
        ("replayed by reset", lambda row: "yes" if row.replayed else "no"),
        ("detail", lambda row: row.detail),
    )

    def summary(self) -> list[str]:
        lines = []
        lines.append(
            f"{self.method}: {self.branches} residual branches, {len(self.rows)} modules "
            f"changed; {len(self.skipped)} adds were not residual branches."
        )
        lines += [
            f"  {'left' if name in self.unchanged else 'skipped'} {name}: {reason}"
            for name, reason in self.skipped.items()
        ]
        return lines


@dataclasses.dataclass(frozen=True)
class _Change:
    """One planned change: ``action`` on ``target`` (a module's qualified name), for ``branch``."""

    target: str
    branch: Branch
    action: str
    factor: float
    unit: Unit | None


def _owner(model: nn.Module, tensor: str) -> tuple[nn.Module, str]:
    module, _, name = tensor.rpartition(".")
    return model.get_submodule(module), name


def _replays(model: nn.Module, change: _Change) -> bool:
    """Whether the module's own ``reset_parameters()`` draws the change again."""
    if change.unit is None or change.unit.kind != "layer":
        return False
    return isinstance(model.get_submodule(change.target), InitLayer)


def _tensors(model: nn.Module, change: _Change) -> list[tuple[nn.Module, str]]:
    """The tensors a change writes, as (module, attribute)."""
    if change.action == "gated":
        return []
    if change.unit is None:  # a norm's scale
        return [(model.get_submodule(change.target), "weight")]
    names = change.unit.scales if change.action == "scaled" else change.unit.zeros
    return [_owner(model, name) for name in names]


# Planning: which change each branch gets, or why it gets none.


def _plan_branch(branch: Branch, method: str, total: int) -> list[_Change] | str:
    """The changes of one branch, or the reason it cannot be changed."""
    units, m = branch.units, len(branch.units)
    if method == "skipinit":
        if branch.end is None:
            return branch.end_reason
        return [_Change(branch.end, branch, "gated", 0.0, None)]
    if method == "zero" and branch.norm is not None:
        return [_Change(branch.norm, branch, "scale zeroed", 0.0, None)]
    if branch.cut is None:
        return branch.cut_reason
    cut = units[branch.cut]
    if cut.shared is not None:
        return (
            f"its weight layer {cut.name}, whose zeros end it, cannot be zeroed alone: {cut.shared}"
        )
    changes = [_Change(cut.module, branch, "zeroed", 0.0, cut)]
    if method == "fixup" and m > 1:
        # Fixup: L branches of m layers; every layer but the zeroed one times L^(-1/(2m-2)).
        factor = total ** (-1 / (2 * m - 2))
        for index, unit in enumerate(units):
            if index == branch.cut:
                continue
            if not unit.scales:
                return f"its weight layer {unit.name} cannot be scaled: {unit.detail}"
            if unit.shared is not None:
                return f"its weight layer {unit.name} cannot be scaled alone: {unit.shared}"
            changes.insert(len(changes) - 1, _Change(unit.module, branch, "scaled", factor, unit))
    return changes


def _gate_like(model: nn.Module, module: nn.Module) -> Tensor | None:
    """The Parameter whose device and dtype a gate takes: the gated module's first floating one,
    else the model's (a gate on an nn.Identity that ends a branch)."""
    for source in (module, model):
        for parameter in source.parameters():
            if parameter.is_floating_point():
                return parameter
    return None


def _keys(model: nn.Module, change: _Change) -> list[tuple[int, str]]:
    """What a change writes, as (module identity, attribute): one module can hold two names."""
    if change.action == "gated":
        return [(id(model.get_submodule(change.target)), GATE)]
    return [(id(owner), name) for owner, name in _tensors(model, change)]


def _check_meta(model: nn.Module, change: _Change) -> None:
    """A change that a meta tensor would lose, refused before anything changes."""
    if change.action == "gated":
        like = _gate_like(model, model.get_submodule(change.target))
        if like is not None and like.device.type == "meta":
            raise ValueError(
                f"residual_init_(method='skipinit') cannot gate {change.target!r} on the meta "
                "device: the gate would hold no value, and nothing sets it to 0 when the model "
                "is materialised; call it after to_empty() and reset_parameters()"
            )
        return
    if _replays(model, change):
        return
    for owner, name in _tensors(model, change):
        value = getattr(owner, name)
        if isinstance(value, Tensor) and value.device.type == "meta":
            raise ValueError(
                f"residual_init_ cannot change {change.target!r} ({type(owner).__name__}) on the "
                "meta device: it holds no values, and its own reset_parameters() would not draw "
                "the change again; convert it to an initconv layer (initconv.convert), which "
                "replays it, or call residual_init_ after materialising the model"
            )


def _refuse_repeat(model: nn.Module) -> None:
    for name, module in model.named_modules():
        done = vars(module).get(MARK)
        if done is not None or GATE in module._parameters:
            how = f"method={done!r}" if done is not None else f"a gate {GATE!r}"
            raise ValueError(
                f"residual_init_ has already changed this model: module {name or '(model)'!r} "
                f"holds {how}; a second call would zero, scale or gate it again. Call it once, "
                "on a freshly built model"
            )


# Making the changes, with what each module held kept until the call succeeds.


class _Journal:
    """What a call changed in each module, to put back if a later change fails."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._kept: set[int] = set()

    def keep(self, module: nn.Module) -> None:
        if id(module) in self._kept:
            return
        self._kept.add(id(module))
        tensors = [(t, t.detach().clone()) for t in module.parameters()]
        state = dict(vars(module))
        dicts = {k: dict(v) for k, v in state.items() if isinstance(v, dict)}

        def undo() -> None:
            with torch.no_grad():
                for tensor, before in tensors:
                    try:
                        tensor.copy_(before)
                    except RuntimeError:  # a tensor that cannot be written was not written
                        continue
            for key in [k for k in vars(module) if k not in state]:
                del vars(module)[key]
            vars(module).update({k: v for k, v in state.items() if k not in dicts})
            for key, saved in dicts.items():
                current = vars(module)[key]
                current.clear()
                current.update(saved)

        self._undo.append(undo)

    def rollback(self) -> None:
        for undo in reversed(self._undo):
            undo()


def _seed_for(layer: InitLayer, name: str, seed: int | None) -> int:
    if layer.seed is None:
        layer.seed = (
            module_seed(seed, name) if seed is not None else int(torch.randint(0, 2**32, ()))
        )
    return layer.seed


def _calibrate(
    layer: InitLayer, name: str, seed: int | None, scale: float, base: str | None
) -> None:
    """Make ``layer`` replay ``base``'s draw (its own for ``None``) times ``scale``, and draw it."""
    old = layer.calibration
    if old is not None and base is None:
        scale, base = scale * old.scale, old.base
    layer.calibrate(Calibration(scale, base, _seed_for(layer, name, seed)))
    layer.reset_parameters()


def _apply(model: nn.Module, change: _Change, seed: int | None) -> str:
    """Make ``change``; returns the report's detail."""
    name = change.target
    if change.action == "gated":
        module = model.get_submodule(name)
        like = _gate_like(model, module)
        dtype = None if like is None else like.dtype
        device = None if like is None else like.device
        module.register_parameter(GATE, nn.Parameter(torch.zeros((), device=device, dtype=dtype)))
        module.register_forward_hook(apply_gate)
        return f"a new parameter {name}.{GATE} = 0 scales the branch"
    if _replays(model, change):
        layer = cast(InitLayer, model.get_submodule(name))
        if change.action == "zeroed":
            if layer.bias is not None:
                layer.bias_init, layer.bias_std = "zeros", None
            _calibrate(layer, name, seed, 1.0, "zero")
            return "replays the zero scheme (calibrated_base='zero'), bias_init='zeros'"
        _calibrate(layer, name, seed, change.factor, None)
        return f"replays its {layer.scheme or type(layer).__name__} draw times the factor"
    for owner, attribute in _tensors(model, change):
        value = cast(Tensor, getattr(owner, attribute)).detach()
        # zeros_like, not value * 0: a weight holding inf or nan (torch.empty's memory) is zeroed.
        new = value * change.factor if change.action == "scaled" else torch.zeros_like(value)
        write_parameter(owner, attribute, new)
    if change.unit is None:
        norm = model.get_submodule(name)
        return f"the {type(norm).__name__} after the last weight layer; its reset sets 1"
    if change.unit.kind == "attention":
        what = "its out_proj weight" + (" and bias" if len(change.unit.zeros) > 1 else "")
        return f"{what} {'scaled' if change.action == 'scaled' else 'zeroed'}, once"
    if change.unit.kind == "functional":
        return f"{change.unit.detail}: changed once; its module resets it by its own init"
    kind = type(model.get_submodule(name)).__name__
    return f"a {kind} resets by its own init; convert it to replay"


_VERBS = {"zeroed": "zero", "scaled": "scale", "scale zeroed": "zero the scale of", "gated": "gate"}


def _apply_all(
    model: nn.Module, changes: list[_Change], method: str, seed: int | None
) -> list[str]:
    journal = _Journal()
    details = []
    for change in changes:
        module = model.get_submodule(change.target) if change.unit is None else None
        owners = [owner for owner, _ in _tensors(model, change)] or [cast(nn.Module, module)]
        if change.unit is not None and change.unit.kind == "layer":
            owners.append(model.get_submodule(change.target))
        try:
            for owner in owners:
                journal.keep(owner)
            details.append(_apply(model, change, seed))
        except Exception as error:
            journal.rollback()
            what = type(owners[0]).__name__
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(
                f"residual_init_ could not {_VERBS[change.action]} {change.target!r} ({what}) "
                f"of branch {change.branch.name!r}: "
                f"{type(error).__name__}: {error}; every module is as it was before the call"
            ) from error
        except BaseException:
            journal.rollback()
            raise
    for change in changes:
        vars(model.get_submodule(change.target))[MARK] = method
    return details


def residual_init_(
    model: nn.Module, method: Method = "zero", *, seed: int | None = None
) -> ResidualReport:
    r"""Initialise the residual branches of ``model`` in place so that a deep network without
    normalisation starts close to the identity.

    The branches come from the graph torch.fx traces (a module that does not trace is looked into
    child by child): at every sum of paths from a common fork (``x + f(x)``, or a parallel block
    ``x + attn(h) + mlp(h)`` with two branches), the path with the fewest weight layers is the
    shortcut (none, or a projection) and each other path a branch of :math:`m` weight layers
    (those of a residual block nested in it belong to that block). Weight layers are the seven
    kinds, ``nn.Bilinear``, ``nn.MultiheadAttention`` (zeroed or scaled through its
    ``out_proj``), functional weight ops on a Parameter (``F.linear``, convolutions, matmul,
    einsum), and any other module that holds weights and is not a norm or activation (counted,
    but never changed). With :math:`L` branches:

    - ``"zero"``: the end of each branch to zero, so every block starts as the identity: the
      scale of a norm after its last weight layer where there is one (Goyal et al. (2017);
      torchvision's ``zero_init_residual``), else the weight (and bias) of the last weight layer
      whose zeros make the branch output zero (a step after it that does not map 0 to 0, a
      sigmoid gate say, rules a layer out).
    - ``"fixup"``: Fixup (Zhang, H. et al. (2019), "Fixup initialization: Residual learning
      without normalization"): that layer of each branch to zero and the branch's other layers
      scaled by :math:`L^{-1/(2m-2)}` (a branch of one layer is only zeroed). Fixup's scalar
      biases and multipliers add parameters and are left out.
    - ``"skipinit"``: a scalar gate, initialised to 0, multiplies each branch's output (De, S. &
      Smith, S. (2020), SkipInit), as a parameter ``residual_gate`` of the module that ends the
      branch (before steps linear in it, a LayerScale say) and a forward hook; the model still
      pickles, scripts (``torch.jit.script``) and converts (:func:`initconv.to_torch`). It adds
      parameters, so the ``state_dict`` no longer loads into the original model strictly; the
      other methods keep its keys.

    An initconv layer replays what was done on every ``reset_parameters()``, through its
    calibration (:attr:`~initconv.InitLayer.calibrated_base` ``"zero"``, or its own scheme times
    the Fixup factor, from its seed: one is drawn if it has none, from ``seed`` split by name if
    given, else from torch's global generator); a torch layer, norm or attention is changed once,
    and the report says so. On the meta device only changes that are replayed can be made: any
    other is refused before anything changes.

    A branch it cannot change (its last weight layer cannot be zeroed, a layer runs twice or is
    tied, the gate has no module to sit on) is left as it was, with a warning naming it and the
    reason in :attr:`ResidualReport.unchanged`. The call is all or nothing: if a change fails, every
    parameter, calibration, gate and hook is put back (it holds a copy of what it changes until it
    returns) and a ``ValueError`` or ``TypeError`` names the module. Call it once, on a freshly
    initialised model: a second call is refused by name (a ``ValueError``), since it would scale
    or gate the branches again (calling it on a model whose norms or layers were trained reads
    their values as they are, not as their init left them).

    Args:
        model: the model, changed in place.
        method: ``"zero"``, ``"fixup"`` or ``"skipinit"``.
        seed: the model seed for layers without one (:func:`initconv.module_seed` splits it).

    Returns:
        A :class:`ResidualReport`, printed as a table.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, ``seed`` not an int, or a change failed
            with a ``TypeError``.
        ValueError: an unknown ``method``, a second call, a change the meta device would lose,
            or a change that failed.

    Examples:
        >>> report = initconv.residual_init_(resnet, "fixup")  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    method = cast(Method, check_choice("method", method, METHODS))
    seed = None if seed is None else check_seed("seed", seed)
    with _LOCK:
        _refuse_repeat(model)
        branches, skipped, failures = find_branches(model)
        reasons = {found.name: found.reason for found in skipped}
        unchanged = {found.name: found.reason for found in skipped if found.residual}
        reasons.update({name or "(model)": why for name, why in failures.items()})
        changes: list[_Change] = []
        taken: dict[tuple[int, str], str] = {}
        changed = 0
        for branch in branches:
            planned = _plan_branch(branch, method, len(branches))
            if isinstance(planned, list):
                keys = [key for change in planned for key in _keys(model, change)]
                clash = next((taken[key] for key in keys if key in taken), None)
                if clash is not None:
                    planned = f"a module it would change is also changed for branch {clash!r}"
            if isinstance(planned, str):
                reasons[branch.name] = unchanged[branch.name] = planned
                continue
            taken.update(dict.fromkeys(keys, branch.name))
            changes += planned
            changed += 1
        for change in changes:
            _check_meta(model, change)
        details = _apply_all(model, changes, method, seed)
    _warn(model, changed, reasons, unchanged)
    rows = [
        ResidualRow(
            change.target if change.unit is None else change.unit.name,
            change.branch.name,
            len(change.branch.units),
            change.action,
            change.factor,
            _replays(model, change),
            detail,
        )
        for change, detail in zip(changes, details, strict=True)
    ]
    return ResidualReport(rows, method, changed, reasons, unchanged)


def _warn(
    model: nn.Module, changed: int, reasons: dict[str, str], unchanged: dict[str, str]
) -> None:
    if not changed:
        plural = "s" if len(reasons) != 1 else ""
        why = f"; {len(reasons)} candidate{plural} skipped, the report says why" if reasons else ""
        warnings.warn(
            f"residual_init_ found no residual branch it can change in the "
            f"{type(model).__name__}{why}; nothing changed",
            UserWarning,
            stacklevel=3,
        )
    elif unchanged:
        names = ", ".join(repr(name) for name in unchanged)
        warnings.warn(
            f"residual_init_ left {len(unchanged)} residual branch(es) of the "
            f"{type(model).__name__} unchanged ({names}): they do not start as the identity; "
            "the report's unchanged says why",
            UserWarning,
            stacklevel=3,
        )
