r"""Residual-aware initialisation of a whole model: :func:`residual_init_`.

A deep residual network without normalisation keeps its signal only if each branch starts small:
zero the end of every branch (Goyal, P. et al. (2017), "Accurate, large minibatch SGD", for the
norm's scale; Zhang, H. et al. (2019), "Fixup initialization", for the last weight layer), scale
the branch's other layers down by :math:`L^{-1/(2m-2)}` (Fixup), or gate each branch by a scalar
that starts at 0 (De, S. & Smith, S. (2020), "Batch normalization biases residual blocks towards
the identity function in deep networks": SkipInit). The branches come from the graph torch.fx
traces, as :func:`initconv.convert` reads it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from typing import Literal, cast

import torch
from torch import Tensor, nn

from initconv._inference.branches import Branch, find_branches
from initconv._layers.base import InitLayer
from initconv._layers.calibration import Calibration
from initconv._model.report import Report
from initconv._model.seeding import module_seed
from initconv._validate import check_choice, check_seed, describe

__all__ = ["GATE", "ResidualReport", "ResidualRow", "residual_init_"]

Method = Literal["zero", "fixup", "skipinit"]
METHODS: tuple[str, ...] = ("fixup", "skipinit", "zero")

#: The name of the scalar gate that ``method="skipinit"`` adds to the module ending each branch.
GATE = "residual_gate"


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

    :attr:`skipped` lists the adds that were not taken for residual branches, with the reason.
    """

    def __init__(
        self, rows: Iterable[ResidualRow], method: str, branches: int, skipped: dict[str, str]
    ) -> None:
        super().__init__(tuple(rows))
        self.method = method
        self.branches = branches
        self.skipped = skipped

    def __repr__(self) -> str:
        return (
            f"ResidualReport(method={self.method!r}, {self.branches} branches, "
            f"{len(self.rows)} modules, {len(self.skipped)} adds skipped)"
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
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped.items()]
        return lines


def _apply_gate(module: nn.Module, inputs: object, output: Tensor) -> Tensor:
    """The forward hook of a gated module: its output times its gate."""
    return output * module.get_parameter(GATE)


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


def _zero(model: nn.Module, name: str, seed: int | None) -> tuple[bool, str]:
    module = model.get_submodule(name)
    if isinstance(module, InitLayer):
        if module.bias is not None:
            module.bias_init, module.bias_std = "zeros", None
        _calibrate(module, name, seed, 1.0, "zero")
        return True, "replays the zero scheme (calibrated_base='zero'), bias_init='zeros'"
    with torch.no_grad():
        for tensor in (module.weight, getattr(module, "bias", None)):
            if isinstance(tensor, Tensor):
                tensor.zero_()
    return False, f"a {type(module).__name__} resets by its own init; convert it to replay"


def _scale(model: nn.Module, name: str, seed: int | None, factor: float) -> tuple[bool, str]:
    module = model.get_submodule(name)
    if isinstance(module, InitLayer):
        _calibrate(module, name, seed, factor, None)
        return True, f"replays its {module.scheme or type(module).__name__} draw times the factor"
    with torch.no_grad():
        cast(Tensor, module.weight).mul_(factor)
    return False, f"a {type(module).__name__} resets by its own init; convert it to replay"


def _gate(model: nn.Module, name: str) -> tuple[bool, str]:
    module = model.get_submodule(name)
    module.register_parameter(GATE, nn.Parameter(torch.zeros((), device=module_device(module))))
    module.register_forward_hook(_apply_gate)
    return False, f"a new parameter {name}.{GATE} = 0 scales the branch"


def module_device(module: nn.Module) -> torch.device:
    tensor = next(iter(module.parameters()), None)
    return torch.device("cpu") if tensor is None else tensor.device


def _rows(
    model: nn.Module, branch: Branch, method: str, total: int, seed: int | None
) -> list[ResidualRow]:
    m = len(branch.layers)
    rows: list[ResidualRow] = []
    if method == "skipinit":
        if branch.end is None:  # nothing to gate; residual_init_ reports the branch as skipped
            return rows
        replayed, detail = _gate(model, branch.end)
        return [ResidualRow(branch.end, branch.name, m, "gated", 0.0, replayed, detail)]
    if method == "fixup" and m > 1:
        # Fixup: L branches of m layers; every layer but the last times L^(-1/(2m-2)).
        factor = total ** (-1 / (2 * m - 2))
        for name in branch.layers[:-1]:
            replayed, detail = _scale(model, name, seed, factor)
            rows.append(ResidualRow(name, branch.name, m, "scaled", factor, replayed, detail))
    if method == "zero" and branch.norm is not None:
        norm = model.get_submodule(branch.norm)
        with torch.no_grad():
            cast(Tensor, norm.weight).zero_()
        detail = f"the {type(norm).__name__} after the last weight layer; its reset sets 1"
        rows.append(ResidualRow(branch.norm, branch.name, m, "scale zeroed", 0.0, False, detail))
        return rows
    replayed, detail = _zero(model, branch.layers[-1], seed)
    rows.append(ResidualRow(branch.layers[-1], branch.name, m, "zeroed", 0.0, replayed, detail))
    return rows


def residual_init_(
    model: nn.Module, method: Method = "zero", *, seed: int | None = None
) -> ResidualReport:
    r"""Initialise the residual branches of ``model`` in place so that a deep network without
    normalisation starts close to the identity.

    The branches come from the graph torch.fx traces (a module that does not trace is looked into
    child by child): at every add of two paths from a common fork, the path with more weight
    layers is the branch (:math:`m` layers), the other the shortcut (none, or a projection). With
    :math:`L` branches:

    - ``"zero"``: the end of each branch to zero, so every block starts as the identity: the
      scale of a norm after its last weight layer where there is one (Goyal et al. (2017);
      torchvision's ``zero_init_residual``), else that layer's weight and bias.
    - ``"fixup"``: Fixup (Zhang, H. et al. (2019), "Fixup initialization: Residual learning
      without normalization"): the last weight layer of each branch to zero and the others scaled
      by :math:`L^{-1/(2m-2)}` (a branch of one layer is only zeroed). Fixup's scalar biases and
      multipliers add parameters and are left out.
    - ``"skipinit"``: a scalar gate, initialised to 0, multiplies each branch's output (De, S. &
      Smith, S. (2020), SkipInit), as a parameter ``residual_gate`` of the module that ends the
      branch and a forward hook. It adds parameters, so the ``state_dict`` no longer loads into
      the original model strictly; the other methods keep its keys.

    An initconv layer replays what was done on every ``reset_parameters()``, through its
    calibration (:attr:`~initconv.InitLayer.calibrated_base` ``"zero"``, or its own scheme times
    the Fixup factor, from its seed: one is drawn if it has none, from ``seed`` split by name if
    given, else from torch's global generator); a torch layer or norm is changed once, and the
    report says so. Call it once, on a freshly initialised model.

    Args:
        model: the model, changed in place.
        method: ``"zero"``, ``"fixup"`` or ``"skipinit"``.
        seed: the model seed for layers without one (:func:`initconv.module_seed` splits it).

    Returns:
        A :class:`ResidualReport`, printed as a table.

    Examples:
        >>> report = initconv.residual_init_(resnet, "fixup")  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    method = cast(Method, check_choice("method", method, METHODS))
    seed = None if seed is None else check_seed("seed", seed)
    branches, skipped, failures = find_branches(model)
    reasons = {found.name: found.reason for found in skipped}
    reasons.update(
        {name or "(model)": f"torch.fx could not trace it: {why}" for name, why in failures.items()}
    )
    if method == "skipinit":
        for branch in [b for b in branches if b.end is None]:
            reasons[branch.name] = "the branch ends in a function, not a module, to gate"
        branches = [b for b in branches if b.end is not None]
    if not branches:
        plural = "s" if len(reasons) != 1 else ""
        why = f"; {len(reasons)} candidate{plural} skipped, the report says why" if reasons else ""
        warnings.warn(
            f"residual_init_ found no residual branch it can change in the "
            f"{type(model).__name__}{why}; nothing changed",
            UserWarning,
            stacklevel=2,
        )
    rows = [row for branch in branches for row in _rows(model, branch, method, len(branches), seed)]
    return ResidualReport(rows, method, len(branches), reasons)
