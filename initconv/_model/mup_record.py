"""Where a module keeps its µP record (:class:`~initconv._layers.calibration.MuP`).

An initconv layer keeps it as its own ``mup``, which every reset replays and the ``state_dict``'s
metadata carries; any other module with parameters (a norm, an embedding) in a plain attribute.
:func:`initconv.mup_` writes the records and :func:`initconv.param_groups` reads them.
"""

from __future__ import annotations

from torch import nn

from initconv._layers.base import InitLayer
from initconv._layers.calibration import MuP

__all__ = ["record_of", "set_record"]


# The record of a module that is not an initconv layer (a norm, an embedding): a plain attribute,
# as residual_init_'s gate is, under a name no torch module uses.
_RECORD = "_initconv_mup"


def record_of(module: nn.Module) -> MuP | None:
    """The module's µP record, or ``None``."""
    if isinstance(module, InitLayer):
        return module.mup
    record = module.__dict__.get(_RECORD)
    return record if isinstance(record, MuP) else None


def set_record(module: nn.Module, record: MuP | None) -> None:
    """Keep ``record`` as the module's µP record; ``None`` removes it."""
    if isinstance(module, InitLayer):
        module.set_mup(record)
    elif record is None:
        module.__dict__.pop(_RECORD, None)
    else:
        module.__dict__[_RECORD] = record
