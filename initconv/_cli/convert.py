"""``python -m initconv convert MODULE:FACTORY``: print what convert() would do to a model.

The model is built by calling ``FACTORY()`` and converted in memory with ``reinit=False``, so no
weight is drawn, and nothing is written anywhere: the command only prints the report.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import warnings

import torch
from torch import nn

from initconv._cli import Parser, choice, describe, error
from initconv._model.convert import convert
from initconv._schemes.base import scheme_names
from initconv._validate import suggestion

#: An input of more bytes than the machine has cannot be built; refusing it up front beats an
#: allocator's error or, worse, a machine that swaps.
_FLOAT_BYTES = 4


def _parser() -> Parser:
    parser = Parser(
        "convert",
        "Builds the model with FACTORY() and prints, for each layer initconv.convert() would\n"
        "replace: the scheme, the activation found on its output, the gain, and how it was found.\n"
        "It converts with reinit=False on the model in memory: no weight is drawn, nothing written.",
    )
    parser.add_argument(
        "target",
        metavar="MODULE:FACTORY",
        help="an importable module and a callable in it that takes no arguments and returns the "
        "model, e.g. torchvision.models:resnet18 (FACTORY may be dotted: pkg.mod:Class.build)",
    )
    parser.add_argument(
        "--scheme",
        default="kaiming_normal",
        type=choice(scheme_names()),
        help="the scheme to convert to (default: %(default)s)",
    )
    parser.add_argument(
        "--activation",
        default="infer",
        help="'infer' (the default), or one activation name for every layer",
    )
    parser.add_argument(
        "--default-activation",
        default=None,
        help="the activation for layers where inference fails (default: the scheme's own)",
    )
    parser.add_argument(
        "--reconvert",
        action="store_true",
        help="also convert layers that are already initconv layers (to --scheme)",
    )
    parser.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        metavar="N,C,H,W",
        help="infer activations from a run on a seeded random input of this shape (on a copy of "
        "the model) instead of a torch.fx trace",
    )
    return parser


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, such as 1,3,224,224, got {text!r}"
        )
    size = math.prod(shape) * _FLOAT_BYTES
    memory = _physical_memory()
    if size >= 2**63 or (memory is not None and size > memory):
        raise argparse.ArgumentTypeError(
            f"{text!r} is an input of {size / 2**30:.3g} GiB in float32, more than this "
            f"machine's memory" + ("" if memory is None else f" ({memory / 2**30:.3g} GiB)")
        )
    return shape


def _physical_memory() -> int | None:
    """The machine's physical memory in bytes, where the OS says (``None`` where it does not)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


class _LoadError(Exception):
    pass


def _load(target: str) -> object:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise _LoadError(
            f"MODULE:FACTORY must name a module and a callable, such as "
            f"torchvision.models:resnet18, got {target!r}"
        )
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as failure:
        raise _LoadError(f"cannot import {module_name!r}: {describe(failure)}") from None
    except BaseException as failure:  # the user's module ran and raised: SystemExit included
        if isinstance(failure, KeyboardInterrupt):
            raise
        raise _LoadError(f"importing {module_name!r} raised {describe(failure)}") from None
    path = module_name
    for part in attribute.split("."):
        if not hasattr(found, part):
            names = [name for name in dir(found) if not name.startswith("_")]
            raise _LoadError(
                f"{path!r} has no attribute {part!r}{suggestion(part, names)}"
            ) from None
        found, path = getattr(found, part), f"{path}.{part}"
    return found


def main(argv: list[str]) -> int:
    """Run the command; return the exit code (0 done, 2 an error, reported on one line)."""
    args = _parser().parse(argv)
    if isinstance(args, int):
        return args
    try:
        factory = _load(args.target)
    except _LoadError as failure:
        return error(str(failure))
    if not callable(factory):
        return error(f"{args.target!r} is a {type(factory).__name__}, not callable")
    try:
        model = factory()
    except KeyboardInterrupt:
        raise
    except BaseException as failure:  # the user's own factory
        return error(f"{args.target}() raised {describe(failure)}")
    if not isinstance(model, nn.Module):
        return error(f"{args.target}() returned a {type(model).__name__}, not an nn.Module")
    inputs = None
    if args.input_shape is not None:
        try:
            inputs = torch.randn(args.input_shape, generator=torch.Generator().manual_seed(0))
        except (RuntimeError, MemoryError) as failure:
            return error(f"cannot build an input of shape {args.input_shape}: {describe(failure)}")
    try:
        with warnings.catch_warnings():
            # The report's fallback rows and its summary line say what the warning would.
            warnings.simplefilter("ignore", UserWarning)
            report = convert(
                model,
                args.scheme,
                activation=args.activation,
                reinit=False,
                default_activation=args.default_activation,
                reconvert=args.reconvert,
                example_inputs=inputs,
            )
    except (TypeError, ValueError) as failure:  # initconv's own, which name what is wrong
        return error(str(failure))
    except Exception as failure:  # the model's forward on example_inputs, or torch.fx
        return error(f"converting {args.target}() failed: {describe(failure)}")
    print(report)
    return 0
