"""What convert(), lsuv_() and the diagnostics return: rows by layer name, printed as a table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, Protocol, TypeVar

__all__: list[str] = []


class _Named(Protocol):
    @property
    def name(self) -> str: ...


RowT = TypeVar("RowT", bound=_Named)


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    rule: bool = True,
    free_last: bool = False,
) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; a rule of dashes under the header.

    ``free_last``: the last column is free text, ruled only as wide as its header.
    """
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    if free_last:
        widths[-1] = len(header[-1])
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    if rule:
        lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


class Report(Generic[RowT]):
    """Rows in the model's order; iterate them, or index them by layer name."""

    def __init__(self, rows: Sequence[RowT]) -> None:
        self.rows: tuple[RowT, ...] = tuple(rows)

    def __iter__(self) -> Iterator[RowT]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> RowT:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(
            f"name must be one of the report's layers {tuple(row.name for row in self.rows)}, "
            f"got {name!r}"
        )
