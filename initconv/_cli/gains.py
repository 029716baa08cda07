"""``python -m initconv gains``: the built-in gain table, as Markdown (the README's table)."""

from __future__ import annotations

import functools
import math

from torch import nn

from initconv._activations import ALIASES, BUILTINS, gain
from initconv._cli import Parser
from initconv._maths.derived_gain import derived_gain


def _torch_gain(name: str) -> str:
    try:
        return f"{nn.init.calculate_gain(name):.4f}"  # type: ignore[arg-type]
    except ValueError:
        return "-"


def main(argv: list[str]) -> int:
    parsed = Parser(
        "gains",
        "One row per built-in activation: the gain initconv uses, where it comes from, the\n"
        "derived gain 1 / sqrt(E[phi(z)^2]) for z ~ N(0, 1), and torch's calculate_gain.",
    ).parse(argv)
    if isinstance(parsed, int):
        return parsed
    print(
        "| activation | initconv gain | source | 1 / sqrt(E[phi(z)^2]) | torch's calculate_gain |"
    )
    print("|---|---|---|---|---|")
    for record in sorted(BUILTINS, key=lambda record: record.name):
        value = gain(record.name)
        shown = "sqrt(2)" if value == math.sqrt(2) else f"{value:.4f}"
        derived = derived_gain(record.name, functools.partial(record.phi, **dict(record.defaults)))
        print(
            f"| {record.name} | {shown} | {record.source} | {derived:.4f} | "
            f"{_torch_gain(record.name)} |"
        )
    aliases = ", ".join(f"{alias} = {target}" for alias, target in sorted(ALIASES.items()))
    print(f"\nAliases: {aliases}.")
    return 0
