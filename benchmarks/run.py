"""Run initconv's benchmarks: ``python -m benchmarks [NAME ...] [--quick]``.

``python benchmarks/run.py [NAME ...]`` does the same. Each benchmark prints its table and writes
``benchmarks/results/<name>.json`` (with metadata: commit, torch, threads, machine) and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

# name -> (module, what it measures); each module has run(quick: bool) -> (metadata, data, markdown).
BENCHMARKS = {
    "construction": ("benchmarks.construction", "construction time of ResNet-50's convs"),
    "propagation": ("benchmarks.propagation", "log2(q_L / q_0) in plain conv stacks"),
    "training": ("benchmarks.training", "test accuracy of deep plain CNNs on digits"),
    "orthogonal": ("benchmarks.orthogonal", "orthogonal_ throughput against torch's"),
    "pathological": (
        "benchmarks.pathological",
        "time and peak memory of initconv.gain on pathological activations",
    ),
    "zoo": ("benchmarks.zoo", "convert()'s inferred activations on timm models (needs timm)"),
    "zoo_hf": (
        "benchmarks.zoo_hf",
        "convert() on transformers, diffusers and torchvision models (the zoo venv)",
    ),
    "mutation": ("benchmarks.mutation", "defects planted in initconv that the default suite kills"),
    "width": (
        "benchmarks.width",
        "µP against SP: the best Adam learning rate across width and depth on digits",
    ),
    "width_edge": (
        "benchmarks.width_edge",
        "why µP's divergence edge moves with width: the channels alive at the end of each run",
    ),
    "width_edge_bn": (
        "benchmarks.width_edge_bn",
        "the same on a CNN with a BatchNorm before each ReLU, at rates 2^1..2^5",
    ),
    "setup_times": (
        "benchmarks.setup_times",
        "the README's set-up commands in a fresh clone and virtual environment",
    ),
}
# Run only when named: the zoo needs an extra (the zoo venv of docs/convert.md); the mutation run
# takes about 23 minutes, the width run trains 576 models (width_edge and width_edge_bn 75 each), setup_times
# installs into a new venv.
OPTIONAL = frozenset(
    {"zoo", "zoo_hf", "mutation", "width", "width_edge", "width_edge_bn", "setup_times"}
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run initconv's benchmarks; results land in benchmarks/results/.",
        epilog="\n".join(f"{name}: {help_}" for name, (_, help_) in BENCHMARKS.items()),
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="default: all of them but zoo (needs timm), mutation and width (slow)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="reduced settings: checks that it runs, not results"
    )
    parser.add_argument(
        "--mechanical",
        action="store_true",
        help="with mutation: one mutant per constant, comparison and arithmetic operator",
    )
    parser.add_argument("--modules", nargs="+", metavar="PATH", help="with --mechanical")
    parser.add_argument("--limit", type=int, help="with --mechanical: mutants per module")
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="with --mechanical: a uniform random sample of N sites across the modules",
    )
    parser.add_argument("--seed", type=int, default=0, help="with --sample (default 0)")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="with --mechanical: run the last run's survivors again on the code as it stands",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="K",
        help="with --mechanical: mutants run at a time, each in its own copy (default 2)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.mechanical and (
        args.sample is not None or args.modules or args.limit or args.rerun_survivors
    ):
        parser.error(
            "--modules, --limit, --sample and --rerun-survivors go with mutation --mechanical"
        )
    if args.limit is not None and args.sample is not None:
        parser.error(f"give --limit or --sample, not both (got {args.limit!r} and {args.sample!r})")
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"NAME must be one of {tuple(sorted(BENCHMARKS))}, got {unknown[0]!r}")
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import torch

    from benchmarks import _common

    for name in args.names or [name for name in BENCHMARKS if name not in OPTIONAL]:
        module = importlib.import_module(BENCHMARKS[name][0])
        threads = getattr(module, "THREADS", None)
        if threads is not None:
            torch.set_num_threads(threads)
        started = time.perf_counter()
        meta = _common.metadata()
        meta["quick"] = args.quick
        if name == "mutation" and args.mechanical:
            from benchmarks import mutation_mechanical

            if args.rerun_survivors:
                data, markdown = mutation_mechanical.rerun_survivors(args.workers)
                name = "mutation_mechanical_rerun"
            else:
                data, markdown = mutation_mechanical.run(
                    args.modules, args.limit, args.sample, args.seed, args.workers
                )
                name = "mutation_mechanical"
        else:
            data, markdown = module.run(args.quick)
        meta["seconds"] = round(time.perf_counter() - started, 1)
        json_path, md_path = _common.write(
            name if not args.quick else f"{name}-quick", meta, data, markdown
        )
        print(f"\n## {name}\n\n{markdown}\n\nwrote {json_path} and {md_path} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
