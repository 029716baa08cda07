"""Checks of user input: one place for the messages that name the parameter, show the value and list
the choices.

Numbers are accepted as Python's and numpy's (``numbers.Real``/``numbers.Integral``, which numpy's
scalars register with), never as ``bool``; every check returns a plain ``int``, ``float`` or ``str``.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable

__all__: list[str] = []

SEED_LIMIT = 2**64


def describe(value: object) -> str:
    """``'<type> <repr>'``, for messages about a value of the wrong type."""
    return f"{type(value).__name__} {value!r}"


def check_bool(parameter: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{parameter} must be a bool, got {describe(value)}")
    return value


def check_int(parameter: str, value: object, *, minimum: int | None = None) -> int:
    """``value`` as an int, if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{parameter} must be an int, got {describe(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{parameter} must be >= {minimum}, got {number!r}")
    return number


def check_real(
    parameter: str,
    value: object,
    *,
    minimum: float | None = None,
    positive: bool = False,
    limit: float | None = None,
) -> float:
    """``value`` as a finite float, if it is a real number (not a bool) in the range asked for.

    ``minimum`` is inclusive, ``positive`` excludes 0, and ``limit`` bounds ``|value|`` (a value
    that would overflow what it is used for).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{parameter} must be a float, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf
    wanted = "finite" + (
        " and > 0" if positive else "" if minimum is None else f" and >= {minimum:g}"
    )
    if not math.isfinite(number):
        raise ValueError(f"{parameter} must be {wanted}, got {value!r}")
    if (positive and not number > 0) or (minimum is not None and not number >= minimum):
        raise ValueError(f"{parameter} must be {wanted}, got {value!r}")
    if limit is not None and not abs(number) <= limit:
        raise ValueError(f"{parameter} must be at most {limit:.6g} in size, got {value!r}")
    return number


def check_seed(value: object, parameter: str = "seed", *, optional: bool = False) -> int:
    """A seed: an int in ``[0, 2**64)`` (``optional``: the message says ``None`` is one too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "an int or None" if optional else "an int"
        raise TypeError(f"{parameter} must be {kind}, got {describe(value)}")
    seed = int(value)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{parameter} must be in [0, 2**64), got {seed!r}")
    return seed


def suggestion(value: object, names: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``names``, compared case-insensitively."""
    if not isinstance(value, str):
        return ""
    folded: dict[str, str] = {}
    for name in names:
        folded.setdefault(name.lower(), name)
    key = value.lower().replace("-", "_")
    if key in folded:
        return f"; did you mean {folded[key]!r}?"
    close = difflib.get_close_matches(key, list(folded), n=1)
    return f"; did you mean {folded[close[0]]!r}?" if close else ""


def unknown(parameter: str, value: object, names: Iterable[str]) -> ValueError:
    """The error for a name that is not one of ``names``, with the closest as a suggestion."""
    choices = tuple(sorted(names))
    return ValueError(
        f"{parameter} must be one of {choices}, got {value!r}{suggestion(value, choices)}"
    )


def check_choice(parameter: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError that lists them."""
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        raise unknown(parameter, value, allowed)
    return value
