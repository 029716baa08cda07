"""Adopt initconv in a built model: convert() puts the schemes in, to_torch() takes them out again,
and the conversion report says what was done to each layer.

The activation of each layer comes from the inference rule (:mod:`initconv._inference.rule`).
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, cast

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from initconv._activations import ActivationSpec, resolve
from initconv._inference.infer import check_inputs, infer_activations
from initconv._inference.recorded import Inputs
from initconv._layers.base import InitLayer
from initconv._layers.pairing import layer_class, resolve_kind, scheme_of, served_kinds
from initconv._maths.fans import KINDS
from initconv._model.report import Report
from initconv._model.seeding import layer_seeds
from initconv._model.surgery import Plan, Undo, base_class, rebuild, swap, torch_kind, wrapped
from initconv._schemes.base import Scheme, resolve_scheme
from initconv._validate import check_bool, describe

__all__ = ["ConversionReport", "ConversionRow", "convert", "to_torch"]

Source = Literal["run", "traced", "sequential", "default", "given", "pattern", "skipped"]


@dataclasses.dataclass(frozen=True)
class ConversionRow:
    """One layer of the model: what it was, what it became, and how its activation was found.

    ``source`` is ``"run"`` (recorded on ``example_inputs`` or the model's declared example
    input), ``"traced"`` (torch.fx), ``"sequential"`` (neither decided; guessed from the next
    module of its nn.Sequential, a fallback), ``"default"`` (neither decided: the default
    activation, a fallback; ``detail`` says why), ``"given"`` (a single ``activation=``),
    ``"pattern"`` (an ``activation=`` dict entry) or ``"skipped"`` (left as it was; ``scheme``,
    ``activation`` and ``gain`` are then ``None``).
    """

    name: str
    old_type: str
    scheme: str | None
    activation: str | None
    gain: float | None
    source: Source
    detail: str


class ConversionReport(Report[ConversionRow]):
    """What :func:`convert` did, one :class:`ConversionRow` per layer; ``str()`` is a table.

    Iterate it for the rows, index it by layer name (``report["layer1.0.conv1"]``), or read
    :attr:`fallbacks` for the layers whose activation could not be inferred, and
    :attr:`overridden` for the layers left alone because their class overrides ``forward()`` (or
    holds state a replacement would drop, or is a lazy layer not materialised yet).
    """

    def __init__(
        self, rows: Iterable[ConversionRow], reinit: bool, overridden: Iterable[str] = ()
    ) -> None:
        super().__init__(tuple(rows))
        self.reinit = reinit
        self._overridden = frozenset(overridden)

    columns = (
        ("layer", lambda row: row.name),
        ("old type", lambda row: row.old_type),
        ("scheme", lambda row: row.scheme or "-"),
        ("activation", lambda row: row.activation or "-"),
        ("gain", lambda row: "-" if row.gain is None else f"{row.gain:.4f}"),
        ("found by", lambda row: f"{row.source}: {row.detail}" if row.detail else row.source),
    )
    free_last = True

    @property
    def converted(self) -> tuple[ConversionRow, ...]:
        """The rows of the layers that were replaced."""
        return tuple(row for row in self.rows if row.scheme is not None)

    @property
    def fallbacks(self) -> tuple[ConversionRow, ...]:
        """The rows whose activation the rule could not decide, with the reason in ``detail``:
        the default activation (``"default"``) or a guess from the nn.Sequential neighbour
        (``"sequential"``)."""
        return tuple(row for row in self.rows if row.source in ("default", "sequential"))

    @property
    def overridden(self) -> tuple[ConversionRow, ...]:
        """The skipped rows of layers of a supported kind left as they were, with a warning:
        their class overrides ``forward()`` (timm's ``StdConv2d``, weight-standardised convs),
        so converting them would drop that forward; or holds parameters, buffers or submodules
        of its own; or they are lazy layers not materialised yet."""
        return tuple(row for row in self.rows if row.name in self._overridden)

    def overridden_summary(self) -> str:
        """``"29 layers (StdConv2d x 29)"``: the count of :attr:`overridden` and their classes."""
        classes = collections.Counter(row.old_type for row in self.overridden)
        kinds = ", ".join(f"{name} x {count}" for name, count in sorted(classes.items()))
        return f"{len(self.overridden)} layer(s) ({kinds})"

    def __repr__(self) -> str:
        return (
            f"ConversionReport({len(self.converted)} converted, {len(self.rows)} layers, "
            f"{len(self.fallbacks)} fallbacks, reinit={self.reinit})"
        )

    def summary(self) -> list[str]:
        lines = []
        weights = "re-initialised by the scheme" if self.reinit else "kept bit for bit"
        lines.append(
            f"{len(self.converted)} of {len(self.rows)} layers converted, weights {weights}; "
            f"{len(self.fallbacks)} activations could not be inferred (report.fallbacks)."
        )
        if self.overridden:
            lines.append(
                f"{self.overridden_summary()} left as they were: their class overrides forward() "
                "or holds state of its own (report.overridden)."
            )
        return lines


ActivationArg = ActivationSpec | Mapping[str, ActivationSpec]
ModuleT = TypeVar("ModuleT", bound=nn.Module)

_INFER = "infer"


def check_model(model: object, function: str) -> nn.Module:
    """A model that contains layers to replace, not a single layer."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    if isinstance(model, torch.jit.ScriptModule):
        # A scripted model's submodules are compiled copies, not the torch layers it was
        # built from: there would be nothing to replace, silently.
        raise TypeError(
            f"model must not be a ScriptModule, got a {type(model).__name__}: {function}() "
            "replaces torch layers, which scripting compiles away; call it before torch.jit.script"
        )
    if isinstance(model, KINDS):
        raise TypeError(
            f"model must contain the layers to replace, not be one: {function}() replaces "
            f"layers inside a model in place, got a {type(model).__name__}; wrap it, as in "
            f"{function}(nn.Sequential(layer))"
        )
    return model


def _check_activation(value: object, parameter: str) -> ActivationSpec:
    if isinstance(value, str) and value == _INFER:
        return value
    try:
        resolve(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise type(error)(f"{parameter}: {error}") from error
    return value  # type: ignore[return-value]


def _kinds(scheme: type[Scheme], layers: object) -> tuple[type[nn.Module], ...]:
    """The torch layer classes to convert: those the scheme serves, or the ones ``layers`` names."""
    served = served_kinds(scheme)
    if layers is None:
        return served
    if isinstance(layers, (str, type)):
        layers = (layers,)
    if not isinstance(layers, (list, tuple, set, frozenset)):
        raise TypeError(
            f"layers must be a layer class, a name or a list of them, got {describe(layers)}"
        )
    try:
        chosen = tuple(resolve_kind(kind) for kind in layers)
    except (TypeError, ValueError) as error:
        raise type(error)(f"layers: {error}") from error
    for kind in chosen:
        layer_class(scheme, kind)  # a TypeError naming the kinds the scheme serves
    return chosen


def overrides_forward(cls: type[nn.Module], kind: type[nn.Module]) -> bool:
    """Whether ``cls``, a subclass of the torch layer ``kind``, computes its own forward."""
    return any(
        getattr(cls, method, None) is not getattr(kind, method, None)
        for method in ("forward", "_conv_forward")
    )


def _own_state(module: nn.Module) -> str | None:
    """What a subclass holds that its torch layer does not, which a replacement would drop."""
    extra = [k for k, v in module.named_parameters(recurse=False) if v is not None]
    extra = [k for k in extra if k not in ("weight", "bias")]
    extra += [k for k, _ in module.named_buffers(recurse=False)]
    extra += [k for k, _ in module.named_children() if k != "parametrizations"]
    return None if not extra else ", ".join(sorted(extra))


def _targets(
    model: nn.Module, kinds: tuple[type[nn.Module], ...], reconvert: bool
) -> tuple[list[str], dict[str, str], list[str]]:
    """The layers to replace, the layers left alone with the reason, and those of them left
    alone with a warning: a subclass that overrides forward() or holds state of its own, a lazy
    layer. A subclass that only changes its constructor (torchvision's Conv3DSimple,
    nn.MultiheadAttention's NonDynamicallyQuantizableLinear) behaves as its torch layer and is
    replaced by the initconv layer of that kind."""
    replace: list[str] = []
    skipped: dict[str, str] = {}
    overridden: list[str] = []
    for name, module in model.named_modules():
        kind = torch_kind(module)
        if kind is None or kind not in kinds:
            continue
        base = base_class(module)
        what = kind.__name__
        if isinstance(module, LazyModuleMixin) and cast(Any, module).has_uninitialized_params():
            skipped[name] = f"a lazy {what} not materialised yet; run a forward pass first"
            overridden.append(name)
        elif base is kind or (reconvert and issubclass(base, InitLayer)):
            replace.append(name)
        elif issubclass(base, InitLayer):
            skipped[name] = "already an initconv layer; reconvert=True replaces it"
        elif overrides_forward(base, kind):
            skipped[name] = f"a subclass of nn.{what} ({base.__name__}) that overrides forward()"
            overridden.append(name)
        elif (state := _own_state(module)) is not None:
            skipped[name] = (
                f"a subclass of nn.{what} ({base.__name__}) that holds {state}, which a "
                "replacement would drop"
            )
            overridden.append(name)
        else:
            replace.append(name)
    return replace, skipped, overridden


def _choose_activations(
    model: nn.Module,
    replace: list[str],
    activation: ActivationArg,
    fallback: ActivationSpec,
    inputs: Inputs | None,
    notes: list[str],
) -> dict[str, tuple[ActivationSpec, Source, str]]:
    """Each layer's activation, how it was chosen, and the detail the report shows."""
    chosen: dict[str, tuple[ActivationSpec, Source, str]] = {}
    if isinstance(activation, Mapping):
        patterns = dict(activation)
        for pattern, value in patterns.items():
            if not isinstance(pattern, str):
                raise TypeError(f"activation patterns must be str, got {pattern!r}")
            _check_activation(value, f"activation[{pattern!r}]")
            if not any(fnmatch.fnmatchcase(name, pattern) for name in replace):
                raise ValueError(
                    f"activation pattern {pattern!r} matches no layer to convert; the layers "
                    f"are {tuple(replace)}"
                )
        for name in replace:
            match = next((p for p in patterns if fnmatch.fnmatchcase(name, p)), None)
            value = _INFER if match is None else patterns[match]
            if not (isinstance(value, str) and value == _INFER):
                chosen[name] = (value, "pattern", repr(match))
    else:
        _check_activation(activation, "activation")
        if not (isinstance(activation, str) and activation == _INFER):
            chosen = {name: (activation, "given", "") for name in replace}
    unresolved = [name for name in replace if name not in chosen]
    inferred = infer_activations(model, unresolved, inputs)
    for name, (outcome, source) in inferred.outcomes.items():
        spec = fallback if outcome.spec is None else outcome.spec
        chosen[name] = (spec, cast(Source, source), outcome.detail)
    notes.extend(inferred.notes)
    return chosen


def _plans(
    model: nn.Module,
    scheme: type[Scheme],
    replace: list[str],
    chosen: Mapping[str, tuple[ActivationSpec, Source, str]],
    reinit: bool,
    options: Mapping[str, Any],
) -> list[Plan]:
    plans: list[Plan] = []
    options = dict(options)
    seed = options.pop("seed", None)
    # One model seed, one stream per layer: the seed seed_modules gives the same name.
    seeds = layer_seeds(seed, replace) if seed is not None else {}
    for name in replace:
        old = model.get_submodule(name)
        kind = cast(type[nn.Module], torch_kind(old))
        own = {"activation": chosen[name][0], **options}
        if seed is not None:
            own["seed"] = seeds[name]
        try:
            cls = layer_class(scheme, kind)
            new, writes = rebuild(old, cls, reinit, own)
        except (ValueError, TypeError, RuntimeError) as error:
            raise wrapped(name, old, error) from error
        plans.append(Plan(name, old, new, writes))
    return plans


def _rows(
    model: nn.Module,
    plans: list[Plan],
    chosen: Mapping[str, tuple[ActivationSpec, Source, str]],
    skipped: Mapping[str, str],
) -> list[ConversionRow]:
    rows = []
    built = {plan.name: plan for plan in plans}
    for name, module in model.named_modules():
        if name in built:
            layer = cast(InitLayer, built[name].new)
            _, source, detail = chosen[name]
            old_type = base_class(built[name].old).__name__
            scheme = layer.scheme or type(layer).__name__
            rows.append(
                ConversionRow(name, old_type, scheme, layer.activation, layer.gain, source, detail)
            )
        elif name in skipped:
            old_type = base_class(module).__name__
            rows.append(ConversionRow(name, old_type, None, None, None, "skipped", skipped[name]))
    return rows


def convert_layers(
    model: nn.Module,
    scheme: object,
    activation: ActivationArg,
    reinit: bool,
    layers: object,
    default_activation: ActivationSpec | None,
    reconvert: bool,
    options: Mapping[str, Any],
    inputs: Inputs | None = None,
    notes: list[str] | None = None,
) -> tuple[ConversionReport, Undo]:
    """:func:`convert` without its argument checks and warnings; also returns how to undo it.
    What the warnings should say about the inference is appended to ``notes``."""
    cls = scheme_of(resolve_scheme(scheme))
    kinds = _kinds(cls, layers)
    fallback = cls.default_activation if default_activation is None else default_activation
    _check_activation(fallback, "default_activation")
    replace, skipped, overridden = _targets(model, kinds, reconvert)
    chosen = _choose_activations(
        model, replace, activation, fallback, inputs, [] if notes is None else notes
    )
    plans = _plans(model, cls, replace, chosen, reinit, options)
    undo = swap(model, plans)
    return ConversionReport(_rows(model, plans, chosen, skipped), reinit, overridden), undo


def convert(
    model: nn.Module,
    scheme: str | type[Scheme] = "kaiming_normal",
    activation: ActivationArg = _INFER,
    reinit: bool = True,
    *,
    layers: type[nn.Module] | str | Iterable[type[nn.Module] | str] | None = None,
    default_activation: ActivationSpec | None = None,
    reconvert: bool = False,
    example_inputs: Any = None,
    **scheme_options: Any,
) -> ConversionReport:
    r"""Replace every torch layer of the kinds ``scheme`` serves in ``model``, in place, by its
    layer of ``scheme``: ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` and ``nn.Linear``.

    Each replacement keeps the layer's hyperparameters, Parameter objects, hooks,
    parametrizations and attributes. With ``reinit=True`` the weights are drawn once from the
    scheme, e.g. Kaiming (He et al., 2015) :math:`W \sim \mathcal{N}(0, g(\phi)^2/\text{fan\_in})`
    with :math:`g(\phi)` the gain of the activation acting on the layer's output; with
    ``reinit=False`` the values are kept bit for bit (the path for pretrained checkpoints). A
    layer that cannot be replaced raises an error naming it, with the model left exactly as it was.
    ``activation="infer"`` applies the inference rule of :mod:`initconv._inference.rule` (stated in
    docs/convert.md), on a recorded run of ``example_inputs`` or a torch.fx trace; what it cannot
    decide falls back to ``default_activation``, with a warning and a row in
    :attr:`ConversionReport.fallbacks`.

    Args:
        model: the model; it must contain the layers, not be one.
        scheme: a scheme name (:func:`initconv.schemes`) or a :class:`~initconv.Scheme` subclass.
        activation: ``"infer"``; one activation for every layer; or a dict from module-name
            pattern (``fnmatch``, e.g. ``"layer1.*"``) to an activation or ``"infer"``, the first
            matching pattern winning and layers that match none being inferred.
        reinit: draw new weights from the scheme (``True``) or keep the values (``False``).
        layers: the torch layer classes (or names, ``"conv2d"``) to convert; every kind the
            scheme serves when ``None``.
        default_activation: used where inference fails; the scheme's own default when ``None``.
        reconvert: also replace layers that are already initconv layers.
        example_inputs: the forward's arguments, to infer activations from a run instead of
            a trace: a tensor or a list (one argument, as a detection model's ``[image]``), a
            tuple (the positional arguments) or a dict (the keyword arguments). Without it, a
            model torch.fx cannot trace is run on the example input its library declares, if any
            (a transformers model's ``dummy_inputs``, timm's ``pretrained_cfg["input_size"]``).
        **scheme_options: options of the scheme's layers (``mode=``, ``gain=``, ...). ``seed=s``
            gives each layer its own seed, ``initconv.module_seed(s, name)``, as
            :func:`initconv.seed_modules` does.

    Returns:
        A :class:`ConversionReport`; ``print(report)`` shows the table.

    Examples:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.GELU(), nn.Conv2d(8, 8, 1))
        >>> report = convert(model, "kaiming_normal", reinit=False)
        >>> [row.activation for row in report]
        ['gelu', 'linear']
    """
    model = check_model(model, "convert")
    check_bool("reinit", reinit)
    check_bool("reconvert", reconvert)
    inputs = check_inputs(example_inputs)
    notes: list[str] = []
    report, _ = convert_layers(
        model,
        scheme,
        activation,
        reinit,
        layers,
        default_activation,
        reconvert,
        scheme_options,
        inputs,
        notes,
    )
    for note in notes:
        warnings.warn(f"convert: {note}", UserWarning, stacklevel=2)
    if report.overridden:
        warnings.warn(
            f"convert: {report.overridden_summary()} left unconverted: their class overrides "
            "forward() or holds state a replacement would drop; report.overridden lists them",
            UserWarning,
            stacklevel=2,
        )
    if report.fallbacks:
        warnings.warn(fallback_warning(report, inputs is not None), UserWarning, stacklevel=2)
    return report


def fallback_warning(report: ConversionReport, had_inputs: bool) -> str:
    """One short warning for every fallback: how many, a few names, and what fixes it; the
    report holds every name and reason."""
    rows = report.fallbacks
    names = ", ".join(row.name for row in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    defaults = [row for row in rows if row.source == "default"]
    guessed = len(rows) - len(defaults)
    uses = f"the default {defaults[0].activation!r}" if defaults else "a guess"
    if guessed and defaults:
        uses += f" ({guessed} a guess from their nn.Sequential)"
    elif guessed:
        uses += " from their nn.Sequential"
    fix = "" if had_inputs else "example_inputs= (a run of the forward) or "
    return (
        f"convert: the activation of {len(rows)} of {len(report.rows)} layer(s) could not be "
        f"inferred ({names}{more}); they use {uses}. report.fallbacks says why for each; pass "
        f"{fix}activation={{pattern: value}} to set them"
    )


def to_torch(model: ModuleT) -> ModuleT:
    """Replace every initconv layer in ``model``, in place, by its plain torch layer.

    The plain layers (``nn.Conv2d``, ``nn.ConvTranspose1d``, ``nn.Linear``, ...) hold the same
    Parameter objects (no copy, no re-initialisation), hooks, parametrizations and attributes;
    only the scheme is dropped, so a later ``reset_parameters()`` is torch's own again.
    Afterwards nothing in the model needs initconv: ``torch.ao.quantization.fuse_modules`` (which
    matches exact types), ``torch.export`` and unpickling where initconv is not installed all
    work, and ``state_dict()`` is unchanged. Like :func:`convert`, it replaces every layer or, if
    one cannot be replaced, none.

    Returns:
        ``model`` itself, for chaining: ``torch.export.export(to_torch(model), (x,))``.

    Examples:
        >>> from initconv import KaimingNormalConv2d
        >>> model = nn.Sequential(KaimingNormalConv2d(3, 8, 3), nn.ReLU())
        >>> type(to_torch(model)[0]).__name__
        'Conv2d'
    """
    check_model(model, "to_torch")
    plans = []
    for name, old in model.named_modules():
        if isinstance(old, InitLayer):
            try:
                new, _ = rebuild(old, old.torch_kind, reinit=False, options={})
            except (ValueError, TypeError, RuntimeError) as error:
                raise wrapped(name, old, error) from error
            plans.append(Plan(name, old, new))
    swap(model, plans)
    return model
