"""``python -m initconv COMMAND``: ``demo`` (what init buys, measured), ``convert`` (a report),
``gains`` and ``schemes`` (the tables)."""

from __future__ import annotations

import importlib
import sys

from initconv._cli import COMMANDS, describe, error
from initconv._validate import suggestion


def _usage() -> str:
    from initconv import __version__

    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: python -m initconv COMMAND [ARGS]",
        "",
        f"initconv {__version__}: PyTorch layers that initialise themselves for their activation.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()),
        "",
        "python -m initconv COMMAND --help describes a command and its options.",
    ]
    return "\n".join(lines)


def _unknown(command: str) -> int:
    names = ", ".join(COMMANDS)
    kind = "option" if command.startswith("-") else "command"
    return error(
        f"unknown {kind} {command!r}{suggestion(command.lstrip('-'), COMMANDS)} "
        f"(commands: {names}; see python -m initconv --help)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m initconv``; return the exit code (0 done, 2 an error, reported on one line)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        return error(
            f"a command is required, one of {', '.join(COMMANDS)} (see python -m initconv --help)"
        )
    command, rest = args[0], args[1:]
    if command in ("-h", "--help", "help") and not rest:
        print(_usage())
        return 0
    if command == "--version" and not rest:
        from initconv import __version__

        print(f"initconv {__version__}")
        return 0
    if command not in COMMANDS:
        return _unknown(command)
    try:
        module = importlib.import_module(COMMANDS[command][0])
        code: int = module.main(rest)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, the shell's convention
    except Exception as failure:  # a command's own errors are reported there; this is the net
        return error(f"python -m initconv {command} failed: {describe(failure)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
