"""The scalar gate that ``residual_init_(model, "skipinit")`` puts on the module ending a branch.

SkipInit (De, S. & Smith, S. (2020)) multiplies each residual branch by a learnable scalar that
starts at 0. The gate is a Parameter of the module that ends the branch, so the ``state_dict`` keeps
every other key, and a forward hook multiplies the module's output by it. The hook is a plain
module-level function, written in the subset of Python that TorchScript compiles (``getattr`` with
a constant name, builtin ``tuple`` annotations), so a gated model still pickles and scripts; module
surgery (``convert``, ``to_torch``) carries the gate and its hook over to the new layer.

This module has no ``from __future__ import annotations``: TorchScript reads the hook's annotations
as objects.
"""

from torch import Tensor, nn

__all__ = ["GATE", "apply_gate", "is_gated"]

#: The name of the scalar gate that ``method="skipinit"`` adds to the module ending each branch.
GATE = "residual_gate"


def apply_gate(module: nn.Module, inputs: tuple[Tensor], output: Tensor) -> Tensor:
    """The forward hook of a gated module: its output times its gate."""
    # getattr, not module.residual_gate: nn.Module's attribute type is Tensor | Module to mypy.
    gate: Tensor = getattr(module, "residual_gate")  # noqa: B009
    return output * gate


def is_gated(module: nn.Module) -> bool:
    """Whether ``module`` holds a gate Parameter and runs the gate hook."""
    hooked = any(hook is apply_gate for hook in module._forward_hooks.values())
    return hooked and isinstance(module._parameters.get(GATE), nn.Parameter)
