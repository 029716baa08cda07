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

import torch

__all__: list[str] = []

SEED_LIMIT = 2**64
# The largest value whose square is a finite float64, and the smallest whose square is a normal
# one: a std beyond either has no variance that the theory (a float64) can state.
SQUARE_LIMIT = math.sqrt(torch.finfo(torch.float64).max)
SQUARE_FLOOR = math.sqrt(torch.finfo(torch.float64).smallest_normal)
# A draw of standard deviation sigma stored with spacing h has its variance off by about
# h^2 / (12 sigma^2); below this many spacings per sigma that exceeds 0.5%.
_SPACINGS_PER_STD = 4.0


def shown(value: object) -> str:
    """``repr(value)``, shortened for an int of hundreds of digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


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
        raise ValueError(f"{parameter} must be {wanted}, got {shown(value)}")
    if (positive and not number > 0) or (minimum is not None and not number >= minimum):
        raise ValueError(f"{parameter} must be {wanted}, got {shown(value)}")
    if limit is not None and not abs(number) <= limit:
        raise ValueError(f"{parameter} must be at most {limit:.6g} in size, got {shown(value)}")
    return number


def check_nonnegative(parameter: str, value: object) -> float:
    """A gain, std or scale: a finite real number >= 0."""
    return check_real(parameter, value, minimum=0.0)


def check_probability(parameter: str, value: object) -> float:
    """A probability strictly between 0 and 1 (a false-alarm rate, a power)."""
    number = check_real(parameter, value, positive=True)
    if not number < 1:
        raise ValueError(f"{parameter} must be in (0, 1), got {shown(value)}")
    return number


def check_seed(parameter: str, value: object, *, optional: bool = False) -> int:
    """A seed: an int in ``[0, 2**64)`` (``optional``: the message says ``None`` is one too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "an int or None" if optional else "an int"
        raise TypeError(f"{parameter} must be {kind}, got {describe(value)}")
    seed = int(value)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{parameter} must be in [0, 2**64), got {shown(seed)}")
    return seed


def check_squarable(parameter: str, value: float) -> float:
    """``value`` (>= 0), if its square is 0 or a finite, normal float64, as a variance must be."""
    if not (value == 0 or SQUARE_FLOOR <= value <= SQUARE_LIMIT):
        raise ValueError(
            f"{parameter} must be 0 or in [{SQUARE_FLOOR:.3g}, {SQUARE_LIMIT:.3g}], so that its "
            f"square is a normal float64, got {shown(value)}"
        )
    return value


def check_torch_seed(parameter: str, value: object) -> int:
    """A seed for ``torch.Generator.manual_seed``, which takes any int in ``[-2**63, 2**64)``."""
    seed = check_int(parameter, value, minimum=-(2**63))
    if seed >= SEED_LIMIT:
        raise ValueError(f"{parameter} must be < 2**64, got {shown(seed)}")
    return seed


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# The dtypes a layer can be drawn in: torch's random kernels serve these floating point types, not
# the float8 and float4 ones (storage formats, quantised from a wider draw).
DRAWABLE_DTYPES = (torch.bfloat16, torch.float16, torch.float32, torch.float64)


def check_dtype(parameter: str, value: object) -> torch.dtype:
    """A dtype that weights can be drawn in: one of :data:`DRAWABLE_DTYPES`."""
    if not (isinstance(value, torch.dtype) and value.is_floating_point):
        raise TypeError(f"{parameter} must be a floating point torch.dtype, got {value!r}")
    if value not in DRAWABLE_DTYPES:
        choices = tuple(str(d) for d in DRAWABLE_DTYPES)
        raise TypeError(
            f"{parameter} must be one of {choices}, the floating point dtypes torch draws random "
            f"values in, got {value!r}; initialise in one of them and cast the model after"
        )
    return value


def check_fits(parameter: str, value: float, dtype: torch.dtype) -> float:
    """``value``, if a ``dtype`` tensor can hold it (and, for float64, its square)."""
    largest = min(torch.finfo(dtype).max, SQUARE_LIMIT)
    if not abs(value) <= largest:
        why = "its largest finite value" if largest < SQUARE_LIMIT else "the square must be finite"
        raise ValueError(
            f"{parameter} must be at most {largest:.6g} in size for a {dtype_name(dtype)} layer "
            f"({why}), got {shown(value)}"
        )
    return value


def check_exact(parameter: str, value: float, dtype: torch.dtype) -> float:
    """``value``, if a ``dtype`` tensor holds it to the dtype's precision: 0, or at least its
    smallest normal number. Below it the value is a subnormal, stored with fewer significant bits
    (off by up to 50%), or rounds to 0 below the smallest subnormal."""
    tiny = torch.finfo(dtype).smallest_normal
    if 0 < abs(value) < tiny:
        stored = torch.tensor(value, dtype=torch.float64).to(dtype).item()
        raise ValueError(
            f"{parameter} must be 0 or at least {tiny:.6g} in size for a {dtype_name(dtype)} "
            f"layer (its smallest normal number, below which it holds values to less than its "
            f"precision), got {shown(value)}, which it would store as {stored:.6g}; use a larger "
            "value or a wider dtype"
        )
    return value


def check_draw(
    parameters: str,
    dtype: torch.dtype,
    std: float,
    reach: float,
    mean: float = 0.0,
    what: str = "weights",
) -> None:
    """Refuse a draw of ``mean`` +- ``reach`` standard deviations ``std`` that a ``dtype`` tensor
    cannot hold, or that it would quantise: ``std`` below a few of its spacings at ``mean``.

    ``parameters`` names the options that set ``std`` and ``mean``, as ``"gain=2.0, scale=1.0"``.
    """
    info = torch.finfo(dtype)
    name = dtype_name(dtype)
    representable = std == 0 or SQUARE_FLOOR <= std <= SQUARE_LIMIT
    weights = f"{parameters}: the {what} would have mean {mean:.6g} and std {std:.6g}"
    if not (math.isfinite(std) and math.isfinite(mean) and representable):
        raise ValueError(f"{weights}, whose variance is not a finite, normal float64")
    if not abs(mean) + reach * std <= info.max:
        raise ValueError(
            f"{weights}, and this draw reaches {reach:.3g} std from the mean: beyond "
            f"{info.max:.6g}, the largest finite {name}; use smaller values or a wider dtype"
        )
    spacing = info.eps * max(abs(mean), info.smallest_normal)
    if 0 < std < _SPACINGS_PER_STD * spacing:
        raise ValueError(
            f"{weights}, but {name} spaces its values {spacing:.3g} apart there, so the draw "
            "would be quantised and its variance off; use larger values or a wider dtype"
        )


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
    if not close and len(key) >= 2:
        # A short prefix ("he" for "he_normal") is too far from the whole name for difflib's
        # ratio (2 * 2 / 11 = 0.36 < 0.6), yet it is what a user who knows the family types.
        close = sorted((name for name in folded if name.startswith(key)), key=len)[:1]
    return f"; did you mean {folded[close[0]]!r}?" if close else ""


def unknown_name_error(parameter: str, value: object, names: Iterable[str]) -> ValueError:
    """The error for a name that is not one of ``names``, with the closest as a suggestion."""
    choices = tuple(sorted(names))
    return ValueError(
        f"{parameter} must be one of {choices}, got {value!r}{suggestion(value, choices)}"
    )


def check_choice(parameter: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError that lists them."""
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        raise unknown_name_error(parameter, value, allowed)
    return value


def check_float_tensor(parameter: str, tensor: object) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        kind = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise TypeError(f"{parameter} must be a floating point torch.Tensor, got {kind}")
    return tensor


def check_fans(fans: object) -> tuple[float, float]:
    """``(fan_in, fan_out)``, each a positive finite float."""
    if not isinstance(fans, (tuple, list)) or len(fans) != 2:
        raise TypeError(f"fans must be a pair (fan_in, fan_out), got {describe(fans)}")
    fan_in = check_real("fans[0] (fan_in)", fans[0], positive=True)
    return fan_in, check_real("fans[1] (fan_out)", fans[1], positive=True)


def check_entries(gain: float, tensor: torch.Tensor, entries: int) -> None:
    """Refuse a gain that a ``tensor`` of its dtype cannot hold, as the largest entry of a structured
    weight (at most the gain) or as the typical one (the gain spread over ``entries``), which must
    not be quantised."""
    check_fits("gain", gain, tensor.dtype)
    check_draw(f"gain={gain!r}", tensor.dtype, gain / math.sqrt(max(entries, 1)), 1.0)
