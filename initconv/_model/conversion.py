"""What convert() returns: one row per layer, and the report that prints them as a table."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from typing import Literal

from initconv._model.report import Report, format_table

__all__ = ["ConversionReport", "ConversionRow", "Source"]

Source = Literal["run", "traced", "sequential", "default", "given", "pattern", "skipped"]


@dataclasses.dataclass(frozen=True)
class ConversionRow:
    """One layer of the model: what it was, what it became, and how its activation was found.

    ``source`` is ``"run"`` (recorded on ``example_inputs``), ``"traced"`` (torch.fx),
    ``"sequential"`` (the next module of its nn.Sequential),
    ``"default"`` (neither worked: ``detail`` says why), ``"given"`` (a single ``activation=``),
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
    :attr:`overridden` for the layers left alone because their class overrides ``forward()``.
    """

    def __init__(
        self, rows: Iterable[ConversionRow], reinit: bool, overridden: Iterable[str] = ()
    ) -> None:
        super().__init__(tuple(rows))
        self.reinit = reinit
        self._overridden = frozenset(overridden)

    @property
    def converted(self) -> tuple[ConversionRow, ...]:
        """The rows of the layers that were replaced."""
        return tuple(row for row in self.rows if row.scheme is not None)

    @property
    def fallbacks(self) -> tuple[ConversionRow, ...]:
        """The rows whose activation fell back to the default, with the reason in ``detail``."""
        return tuple(row for row in self.rows if row.source == "default")

    @property
    def overridden(self) -> tuple[ConversionRow, ...]:
        """The skipped rows of layers whose class overrides ``forward()`` (timm's ``StdConv2d``,
        weight-standardised convs): converting them would drop that forward."""
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

    def __str__(self) -> str:
        header = ("layer", "old type", "scheme", "activation", "gain", "found by")
        cells = [
            (
                row.name,
                row.old_type,
                row.scheme or "-",
                row.activation or "-",
                "-" if row.gain is None else f"{row.gain:.4f}",
                f"{row.source}: {row.detail}" if row.detail else row.source,
            )
            for row in self.rows
        ]
        lines = format_table(header, cells, free_last=True)
        weights = "re-initialised by the scheme" if self.reinit else "kept bit for bit"
        lines.append(
            f"{len(self.converted)} of {len(self.rows)} layers converted, weights {weights}; "
            f"{len(self.fallbacks)} activations fell back to the default."
        )
        if self.overridden:
            lines.append(
                f"{self.overridden_summary()} left as they were: their class overrides forward()."
            )
        return "\n".join(lines)
