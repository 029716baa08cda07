"""``python -m initconv``: the demo and the convert, gains and schemes commands.

The conventions every command keeps (those of git, pip and argparse itself): ``--help`` prints to
stdout and exits 0; a usage error, a bad value or a failure prints one line ``error: ...`` to
stderr and exits 2, never a traceback; a done command exits 0.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn

from initconv._validate import suggestion

#: Each command: the module that runs it (``main(argv: list[str]) -> int``, imported only when the
#: command runs) and the one line that describes it, in ``python -m initconv --help`` and as the
#: first line of the command's own ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "initconv._cli.demo",
        "train a deep plain CNN on digits with torch's default, Kaiming and the critical init",
    ),
    "convert": (
        "initconv._cli.convert",
        "print what initconv.convert() does to the model that MODULE:FACTORY builds",
    ),
    "gains": ("initconv._cli.gains", "print the built-in activation gains as a Markdown table"),
    "schemes": ("initconv._cli.schemes", "print which scheme serves which layer kind, as Markdown"),
}

#: The exit code of every error: argparse's own for a usage error.
ERROR = 2


class UsageError(Exception):
    """A bad command line; its message is the line after ``error: ``."""


def error(message: str) -> int:
    """Print ``error: message`` (its first line only) to stderr and return the error exit code."""
    print(f"error: {first_line(message)}", file=sys.stderr)
    return ERROR


def first_line(message: str) -> str:
    """The first non-empty line of ``message``: torch's C++ errors append a stack of frames."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message.strip()


def describe(exception: BaseException) -> str:
    """``TypeName: message`` on one line, for an exception raised by the user's code."""
    text = first_line(str(exception))
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise :class:`UsageError` instead of printing a usage
    block and exiting, so that every command reports them on one line."""

    def __init__(self, command: str, details: str = "", **kwargs: object) -> None:
        summary = COMMANDS[command][1]
        description = f"{summary[0].upper()}{summary[1:]}." + (f"\n\n{details}" if details else "")
        super().__init__(
            prog=f"python -m initconv {command}",
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,  # type: ignore[arg-type]
        )

    def error(self, message: str) -> NoReturn:
        # argparse writes "argument --steps: must be ..."; the library's errors read
        # "steps must be ...", so these read "--steps must be ...".
        message = re.sub(r"^argument (\S+?)(?:/\S+)?: (must )", r"\1 \2", message)
        raise UsageError(f"{message} (see {self.prog} --help)")

    def parse(self, argv: Sequence[str]) -> argparse.Namespace | int:
        """The parsed arguments, or the exit code when there is nothing to run (``--help``: 0, a
        usage error: 2, reported on one line)."""
        try:
            args, extras = self.parse_known_args(list(argv))
            if extras:
                self.error(f"unrecognized argument {extras[0]!r}{self._closest(extras[0])}")
        except UsageError as usage:
            return error(str(usage))
        except SystemExit as exit_:  # --help, after printing to stdout
            return int(exit_.code or 0)
        return args

    def _closest(self, given: str) -> str:
        if not given.startswith("-"):
            return ""
        options = [o for action in self._actions for o in action.option_strings]
        close = difflib.get_close_matches(given.partition("=")[0], options, n=1)
        return f"; did you mean {close[0]!r}?" if close else ""


def choice(
    names: Iterable[str], check: Callable[[str], bool] | None = None
) -> Callable[[str], str]:
    """An argparse ``type=`` that accepts one of ``names`` and otherwise lists them with the
    closest as a suggestion (argparse's own ``choices=`` suggests nothing)."""
    allowed = tuple(sorted(names))

    def parse(text: str) -> str:
        if text in allowed or (check is not None and check(text)):
            return text
        raise argparse.ArgumentTypeError(
            f"must be one of {allowed}, got {text!r}{suggestion(text, allowed)}"
        )

    return parse


def positive_int(text: str) -> int:
    """An argparse ``type=`` for a count: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
