"""What convert(), lsuv_() and the diagnostics return: rows by layer name, printed as a table."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

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
    """Rows in the model's order; iterate them, or index them by layer name; ``str()`` is a table.

    A report declares its table once: :attr:`columns` (header and cell of a row, in order) and
    :meth:`summary` (the lines under the table).
    """

    columns: ClassVar[tuple[tuple[str, Callable[[RowT], str]], ...]] = ()
    #: The last column is free text, ruled only as wide as its header.
    free_last: ClassVar[bool] = False

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

    def summary(self) -> list[str]:
        """The lines printed under the table."""
        return []

    def __str__(self) -> str:
        header = [name for name, _ in self.columns]
        cells = [[cell(row) for _, cell in self.columns] for row in self.rows]
        return "\n".join([*format_table(header, cells, free_last=self.free_last), *self.summary()])
