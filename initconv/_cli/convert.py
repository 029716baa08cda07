"""``python -m initconv convert MODULE:FACTORY``: print what convert() would do to a model.

The model is built by calling ``FACTORY()`` and converted in memory with ``reinit=False``, so no
weight is drawn, and nothing is written anywhere: the command only prints the report.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings

import torch
from torch import nn

from initconv._model.convert import convert
from initconv._schemes.base import scheme_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m initconv convert",
        description=(
            "Build a model with FACTORY() and print the table of what initconv.convert() does "
            "to each of its convolutions: scheme, inferred activation, gain and how it was found. "
            "No weights are drawn or written."
        ),
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
        choices=scheme_names(),
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
            f"--input-shape must be positive integers separated by commas, such as 1,3,224,224, "
            f"got {text!r}"
        )
    return shape


def _load(target: str) -> object:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"MODULE:FACTORY must name a module and a callable, got {target!r}")
    found: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def main(argv: list[str]) -> int:
    """Run the command; return the exit code (0 done, 1 the model failed, 2 a usage error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        factory = _load(args.target)
    except (ImportError, AttributeError, ValueError) as error:
        print(f"error: cannot load {args.target!r}: {error}", file=sys.stderr)
        return 2
    if not callable(factory):
        print(
            f"error: {args.target!r} is a {type(factory).__name__}, not callable", file=sys.stderr
        )
        return 2
    try:
        model = factory()
    except Exception:  # the user's own factory; show its traceback
        print(f"error: {args.target}() raised:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 1
    if not isinstance(model, nn.Module):
        print(
            f"error: {args.target}() returned a {type(model).__name__}, not an nn.Module",
            file=sys.stderr,
        )
        return 2
    inputs = None
    if args.input_shape is not None:
        inputs = torch.randn(args.input_shape, generator=torch.Generator().manual_seed(0))
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
    except (TypeError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report)
    return 0
