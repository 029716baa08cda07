r"""µP's learning rates: each parameter's factor on the base rate, and the optimizer's groups.

:func:`initconv.mup_` keeps each module's multipliers and role as its record;
:func:`param_groups` reads the records and gives each parameter the rate of its role (Yang, G. et
al. (2022), "Tensor Programs V", Table 3), with the factors of a residual branch of a model deeper
than its base (Yang, G. et al. (2023), "Tensor Programs VI"; Bordelon, B. et al. (2023)).
:func:`lr_scale` holds the tables and the derivation of the depth factors.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, cast

from torch import nn

from initconv._layers.base import InitLayer
from initconv._layers.calibration import MuP, Role
from initconv._model.mup_record import record_of
from initconv._validate import check_choice, check_real, describe

__all__ = ["param_groups"]


Optimizer = Literal["adam", "sgd"]
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


# --- The learning-rate tables ----------------------------------------------------------------


def lr_scale(record: MuP, optimizer: str, tensor: Literal["weight", "vector"]) -> float:
    r"""The factor on the base learning rate of one parameter under µP.

    ``tensor`` is ``"weight"`` for a layer's weight and ``"vector"`` for a bias, a norm's
    parameters and every parameter of a module that is not a layer (its fans are 1 and
    :attr:`~initconv._layers.calibration.MuP.width` its fan_out).

    Width (Tensor Programs V, Table 3), with :math:`m` the multipliers of the record:

    - Adam: :math:`1/m_\text{in}` for hidden and output weights, 1 for the rest.
    - SGD: :math:`m_\text{out}` for input weights, 1 for hidden, :math:`1/m_\text{in}` for output,
      :math:`m_\text{width}` for vectors and biases.

    Depth: a branch's output is :math:`a\,f(x)` with :math:`a = (L_b/L)^{1/2}`. A parameter
    :math:`\theta` inside the branch moves the output by :math:`a\,\partial f\,\Delta\theta`,
    and its gradient carries :math:`a` too. SGD's step is :math:`\eta a g`: a change of
    :math:`\eta a^2 = \eta L_b / L` per branch, :math:`\eta L_b` over all :math:`L`, whatever
    :math:`L`: no factor. Adam's step is :math:`\eta` whatever the gradient's size: a change of
    :math:`\eta a` per branch, :math:`\eta a L = \eta (L L_b)^{1/2}` over all, which grows with
    depth; the factor :math:`a = (L/L_b)^{-1/2}` on the rate makes it :math:`\eta L_b`. The module
    that ends the branch carries :math:`a` in its init (:math:`\theta' = a\theta`) instead of in
    the forward; the same dynamics then need its rate times :math:`a` more for Adam
    (:math:`\Delta\theta' = a\,\Delta\theta`) and :math:`a^2` for SGD (the gradient of
    :math:`\theta'` lacks the :math:`a` of :math:`\theta`'s): :math:`L_b/L` in both.
    """
    if tensor == "weight":
        role: Role | Literal["bias"] = record.role
    else:
        role = "bias"
    if optimizer == "adam":
        width = 1 / record.fan_in if role in ("hidden", "output") else 1.0
    else:
        width = {
            "input": record.fan_out,
            "hidden": 1.0,
            "output": 1 / record.fan_in,
            "vector": record.width,
            "fixed": 1.0,
            "bias": record.width,
        }[role]
    depth = 1.0
    if record.depth != 1.0:
        if optimizer == "adam":
            depth = 1 / math.sqrt(record.depth)
        if record.branch_end:
            depth /= math.sqrt(record.depth) if optimizer == "adam" else record.depth
    return width * depth


# --- param_groups ------------------------------------------------------------------------------


_PARAMETRIZED = re.compile(r"^(?:(?P<owner>.*)\.)?parametrizations\.(?P<tensor>[^.]+)\.")


def _owner_and_tensor(qualified: str) -> tuple[str, str]:
    """The module that owns a parameter and the tensor it is: a parametrization's originals
    (``conv.parametrizations.weight.original``) belong to the layer's ``weight``."""
    match = _PARAMETRIZED.match(qualified)
    if match:
        return match["owner"] or "", match["tensor"]
    owner, _, tensor = qualified.rpartition(".")
    return owner, tensor


def param_groups(
    model: nn.Module,
    lr: float,
    *,
    optimizer: Optimizer = "adam",
    weight_decay: float = 0.0,
) -> list[dict[str, Any]]:
    r"""torch optimizer parameter groups with each parameter's µP learning rate.

    For a model parametrized by :func:`initconv.mup_`, each parameter's rate is ``lr`` times the
    factor of its role (Yang, G. et al. (2022), "Tensor Programs V", Table 3; :math:`m` are the
    layer's fans over the base's):

    ==========  ========================================  =================================
    optimizer   Adam (``"adam"``; AdamW and the like)      SGD (``"sgd"``; with momentum too)
    ==========  ========================================  =================================
    input       :math:`\eta`                              :math:`\eta\, m_\text{out}`
    hidden      :math:`\eta / m_\text{in}`                :math:`\eta`
    output      :math:`\eta / m_\text{in}`                :math:`\eta / m_\text{in}`
    vector      :math:`\eta`                              :math:`\eta\, m_\text{width}`
    ==========  ========================================  =================================

    Biases and the parameters of norms are vectors. Inside a residual branch of a model deeper than
    its base (:math:`L` branches against :math:`L_b`), Adam's rates are times
    :math:`(L_b/L)^{1/2}`; the module that ends a branch, which carries the branch multiplier in
    its init, gets :math:`L_b/L` more for Adam, and :math:`L_b/L` for SGD (the derivation is in
    the docs). ``weight_decay`` is divided by each group's factor, so that the decay per step
    (``lr * weight_decay`` in ``torch.optim.AdamW`` and ``SGD``) is the same at every width: each
    weight shrinks by the same fraction per step as in the base.

    A model without µP records gets the plain groups, one rate for every parameter, so that the
    same training script runs both parametrizations.

    Args:
        model: the model.
        lr: the base learning rate :math:`\eta`, the one tuned on the base model.
        optimizer: ``"adam"`` (Adam, AdamW, Adagrad-like: updates of a size independent of the
            gradient's) or ``"sgd"``.
        weight_decay: the base weight decay.

    Returns:
        A list of dicts with ``params``, ``lr`` and ``weight_decay`` (and, under µP, ``role``):
        pass it to the optimizer, ``torch.optim.AdamW(param_groups(model, lr=3e-3))``.

    Raises:
        ValueError: a parameter of a parametrized model has no record (a module added after
            :func:`initconv.mup_`, or a norm of a fresh model that loaded a checkpoint without
            :func:`initconv.mup_`): the error names it.

    Examples:
        >>> groups = initconv.param_groups(nn.Linear(4, 4), lr=1e-3)
        >>> [(len(g["params"]), g["lr"]) for g in groups]
        [(2, 0.001)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    lr = check_real("lr", lr, positive=True)
    optimizer = cast(Optimizer, check_choice("optimizer", optimizer, OPTIMIZERS))
    weight_decay = check_real("weight_decay", weight_decay, minimum=0.0)
    modules = dict(model.named_modules())
    named = list(model.named_parameters())
    if not any(record_of(module) is not None for module in modules.values()):
        return [{"params": [p for _, p in named], "lr": lr, "weight_decay": weight_decay}]
    groups: dict[tuple[str, float], dict[str, Any]] = {}
    for qualified, parameter in named:
        owner, tensor = _owner_and_tensor(qualified)
        module = modules.get(owner)
        record = None if module is None else record_of(module)
        if record is None:
            raise ValueError(
                f"parameter {qualified!r} has no µP record, but other modules of the model have: "
                "call initconv.mup_(model, base) after adding modules, and on a fresh model "
                "before loading a checkpoint into it"
            )
        is_weight = isinstance(module, InitLayer) and tensor == "weight"
        factor = lr_scale(record, optimizer, "weight" if is_weight else "vector")
        label = (
            f"{record.role} weight"
            if is_weight
            else ("bias" if isinstance(module, InitLayer) else record.role)
        )
        group = groups.setdefault(
            (label, factor),
            {
                "params": [],
                "lr": lr * factor,
                "weight_decay": weight_decay / factor,
                "role": label,
            },
        )
        group["params"].append(parameter)
    for group in groups.values():
        # A factor can be large (SGD's m_out) or small: the product of a huge rate or weight
        # decay with it may overflow a float.
        for name in ("lr", "weight_decay"):
            if not math.isfinite(group[name]):
                raise ValueError(
                    f"{name} times the µP factor of the {group['role']} group overflows a float: "
                    f"{name}={lr if name == 'lr' else weight_decay!r}"
                )
    return list(groups.values())
