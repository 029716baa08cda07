"""``python -m initconv schemes``: which scheme serves which layer kind, as Markdown (the README's
table)."""

from __future__ import annotations

from initconv._cli import Parser
from initconv._layers.pairing import served_kinds
from initconv._maths.fans import KINDS
from initconv._schemes.base import SCHEME_ALIASES, schemes


def table() -> str:
    """One row per registered scheme: its name, class and a mark per layer kind it serves."""
    header = ["scheme", "class", *(kind.__name__ for kind in KINDS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, scheme in schemes().items():
        served = served_kinds(scheme)
        marks = ["yes" if kind in served else "-" for kind in KINDS]
        lines.append(f"| `{name}` | `{scheme.__name__}` | " + " | ".join(marks) + " |")
    aliases = ", ".join(f"`{alias}` = `{name}`" for alias, name in sorted(SCHEME_ALIASES.items()))
    return "\n".join(lines) + f"\n\nAliases: {aliases}."


def main(argv: list[str]) -> int:
    parsed = Parser(
        "schemes",
        "One row per built-in scheme and its class: 'yes' under each torch layer kind\n"
        "it builds, '-' where it has no meaning; then the aliases.",
    ).parse(argv)
    if isinstance(parsed, int):
        return parsed
    print(table())
    return 0
