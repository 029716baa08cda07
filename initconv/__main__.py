"""``python -m initconv COMMAND``: ``demo`` (what init buys, measured) and ``convert`` (a report)."""

from __future__ import annotations

import importlib
import sys

# Each command is a module with ``main(argv: list[str]) -> int``, imported only when it runs.
_COMMANDS = {
    "demo": (
        "initconv._cli.demo",
        "train a 100-layer plain CNN on digits: torch default, Kaiming, critical",
    ),
    "convert": ("initconv._cli.convert", "print the conversion report for MODULE:FACTORY"),
    "gains": ("initconv._cli.gains", "print the built-in activation gains as a Markdown table"),
    "schemes": ("initconv._cli.schemes", "print which scheme serves which layer kind, as Markdown"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in _COMMANDS:
        lines = ["usage: python -m initconv COMMAND [ARGS]", "", "commands:"]
        lines += [f"  {name:<9} {help_}" for name, (_, help_) in _COMMANDS.items()]
        print("\n".join(lines), file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(_COMMANDS[args[0]][0])
    code: int = module.main(args[1:])
    return code


if __name__ == "__main__":
    sys.exit(main())
