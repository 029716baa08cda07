"""``python -m initconv gains``: the built-in gain table, as Markdown (the README's table)."""

from __future__ import annotations

import functools
import math

from torch import nn

from initconv._activations import _ALIASES, _FAMILIES, _derived_gain, activations, gain


def _torch_gain(name: str) -> str:
    try:
        return f"{nn.init.calculate_gain(name):.4f}"  # type: ignore[arg-type]
    except ValueError:
        return "-"


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m initconv gains")
        return 2
    print(
        "| activation | initconv gain | source | 1 / sqrt(E[phi(z)^2]) | torch's calculate_gain |"
    )
    print("|---|---|---|---|---|")
    for name in activations():
        if name in _ALIASES:
            continue
        family = _FAMILIES[name]
        source = "torch's table" if family.exact is not None else "derived"
        if name == "selu":
            source = "self-normalizing value (torch: 3/4)"
        elif name == "prelu":
            source = "leaky_relu's formula at the init slope 0.25"
        value = gain(name)
        shown = "sqrt(2)" if value == math.sqrt(2) else f"{value:.4f}"
        derived = _derived_gain(name, functools.partial(family.phi, **dict(family.defaults)))
        print(f"| {name} | {shown} | {source} | {derived:.4f} | {_torch_gain(name)} |")
    aliases = ", ".join(f"{alias} = {target}" for alias, target in sorted(_ALIASES.items()))
    print(f"\nAliases: {aliases}.")
    return 0
