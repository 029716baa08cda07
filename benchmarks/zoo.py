"""convert() on real model definitions written by others: timm's architectures, no weights.

Each architecture is built with ``timm.create_model(name, pretrained=False)`` (nothing is
downloaded), put in eval mode, and run on one seeded input (``SIZES``: 64 x 64 unless the
architecture needs more). Then:

1. **Ground truth** (``_zoo_truth``), independent of initconv's inference: a forward pass on a
   deep copy under a ``TorchDispatchMode`` records every aten operator with the tensors that
   flow into and out of it; forward hooks give each layer's output tensor. The README's rule is
   applied to that record: the activation that acts on the layer's output before the next weight
   operator (convolution, mm, addmm, bmm, attention), past norms, dropout, pooling, reshapes,
   reductions and residual adds; a path into a weight operator or the model's output is linear;
   a branch that only gates the tensor (squeeze-excite) or computes a norm's statistics is not a
   consumer. Where the uses disagree or an operator is neither, the truth is "undecided".
2. ``convert(model, reinit=False)`` (torch.fx on a structural copy, the default) and
   ``convert(model, reinit=False, example_inputs=x)`` (a recorded run), each checked row by row:
   *correct* (the gain the truth's activation has), *fallback* (in ``report.fallbacks`` and named
   in the warning), or *silently wrong* (a different gain, not a fallback).
3. The outputs after conversion are bit-identical to those before (``torch.equal``), and
   ``to_torch`` + ``load_state_dict(strict=True)`` into a fresh instance gives them again.

Needs the ``zoo`` extra (timm); docs/convert.md says how its venv gets torch.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

import initconv
from benchmarks._zoo_truth import Outcome, gain_matches, ground_truth
from initconv import ConversionReport


def _ordered(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Families: ResNet and its attention/split variants, CSP/DarkNet, DLA, DPN, DenseNet, HRNet,
# RepVGG/MobileOne/RepGhost, MobileNetV3/EfficientNet/NAS nets, GhostNet, RegNet, ReXNet, LCNet,
# VoVNet, SelecSLS, GENet, Xception, ConvNeXt, EdgeNeXt, PoolFormer, InceptionNeXt, FastViT,
# EfficientViT, MobileViT, HGNet, NFNet, BoTNet/HaloNet, CoAtNet, MaxViT, LeViT, ViT.
SIZES: dict[str, int] = {
    **dict.fromkeys(
        _ordered(
            "resnet18 resnet26d seresnext26d_32x4d ecaresnet26t skresnet18 resnest14d "
            "res2net50_26w_4s resnet50_gn cspresnet50 cspdarknet53 cs3darknet_s dla34 dpn48b "
            "densenet121 hrnet_w18_small repvgg_a0 mobileone_s0 repghostnet_050 "
            "mobilenetv3_small_100 mobilenetv3_large_100 efficientnet_b0 efficientnet_lite0 mixnet_s "
            "tinynet_e fbnetc_100 mnasnet_small hardcorenas_a ghostnet_100 regnetx_002 regnety_002 "
            "rexnet_100 lcnet_050 ese_vovnet19b_dw selecsls42b gernet_s xception41 convnext_atto "
            "convnextv2_atto edgenext_xx_small poolformer_s12 inception_next_tiny fastvit_t8 "
            "efficientvit_b0 mobilevit_xxs mobilevitv2_050 hgnetv2_b0 nf_resnet26"
        ),
        64,
    ),
    "botnet26t_256": 256,
    "halonet26t": 256,
    "coatnet_nano_rw_224": 224,
    "maxvit_nano_rw_256": 256,
    "levit_128s": 224,
    "vit_tiny_patch16_224": 224,
}
QUICK = ("resnet18", "mobilenetv3_small_100", "efficientvit_b0")

# --- Checking convert() against it -----------------------------------------------------------


@contextlib.contextmanager
def _warnings() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield caught


def _score(report: ConversionReport, truth: dict[str, Outcome], warned: bool) -> dict[str, Any]:
    """Each converted row against the truth: correct (the truth's gain), a fallback (in
    report.fallbacks, with a warning), or silently wrong (anything else, including a decision
    where the truth has none)."""
    counts = {
        "correct": 0,
        "fallback": 0,
        "silently_wrong": 0,
        "decided_undecidable": 0,
        "unverifiable": 0,
    }
    wrong = []
    fallbacks = {row.name for row in report.fallbacks}
    for row in report.converted:
        outcome = truth[row.name]
        if row.name in fallbacks:
            counts["fallback"] += 1
            if not warned:
                wrong.append((row.name, "fallback without a warning", row.detail))
        elif outcome == ("undecided", "not called"):
            # The layer never runs on the input: the record has nothing to say about it.
            counts["unverifiable"] += 1
        elif outcome[0] != "act":
            counts["decided_undecidable"] += 1
            wrong.append(
                (
                    row.name,
                    f"{row.activation} where the truth is undecided ({outcome[1]})",
                    row.detail,
                )
            )
        elif gain_matches(row.gain, outcome):
            counts["correct"] += 1
        else:
            counts["silently_wrong"] += 1
            wrong.append(
                (
                    row.name,
                    f"{row.activation} ({row.gain}) where the truth is {outcome[1][1]} "
                    f"({outcome[1][0]})",
                    row.detail,
                )
            )
    counts["warned_every_fallback"] = warned or not fallbacks
    return {**counts, "wrong": wrong}


def _convert(model: nn.Module, **options: Any) -> tuple[ConversionReport, list[str]]:
    with _warnings() as caught:
        report = initconv.convert(model, reinit=False, **options)
    return report, [str(w.message) for w in caught]


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def _same(a: Any, b: Any) -> bool:
    left, right = _tensors(a), _tensors(b)
    return len(left) == len(right) and all(
        torch.equal(x, y) for x, y in zip(left, right, strict=True)
    )


def _example(inputs: Any) -> Any:
    """The example_inputs form of (args, kwargs): a tuple, or a dict when keywords only."""
    args, kwargs = inputs
    if args and kwargs:
        raise ValueError("example inputs are positional or keyword arguments, not both")
    return kwargs if kwargs else args


def check_model(
    name: str, build: Callable[[], nn.Module], inputs: tuple[tuple[Any, ...], dict[str, Any]]
) -> dict[str, Any]:
    """convert() on the model ``build()`` makes, traced (or on its declared input) and run on
    ``inputs`` (positional, keyword arguments), against the aten-level truth."""
    args, kwargs = inputs
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():
        before = model(*args, **kwargs)
    symbolic, warned_symbolic = _convert(copy.deepcopy(model))
    names = [row.name for row in symbolic.converted]
    truth = ground_truth(model, args, names, kwargs)
    run_report, warned_run = _convert(model, example_inputs=_example(inputs))
    with torch.no_grad():
        identical = _same(model(*args, **kwargs), before)
    initconv.to_torch(model)
    torch.manual_seed(0)
    fresh = build().eval()
    try:
        fresh.load_state_dict(model.state_dict(), strict=True)
        with torch.no_grad():
            round_trip = _same(fresh(*args, **kwargs), before)
    except RuntimeError:
        round_trip = False
    unwarned_skips = [
        row.name
        for row in symbolic.rows
        if row.source == "skipped"
        and row not in symbolic.overridden
        and not row.detail.startswith("already an initconv layer")
    ]
    longest = max((len(message) for message in warned_symbolic + warned_run), default=0)
    return {
        "model": name,
        "layers": len(symbolic.rows),
        "converted": len(symbolic.converted),
        "overridden": len(symbolic.overridden),
        "unwarned_skips": unwarned_skips,
        "undecided_truth": sum(outcome[0] != "act" for outcome in truth.values()),
        "not_called": sum(outcome == ("undecided", "not called") for outcome in truth.values()),
        "symbolic": _score(
            symbolic, truth, any("could not be inferred" in w for w in warned_symbolic)
        ),
        "run": _score(run_report, truth, any("could not be inferred" in w for w in warned_run)),
        "declared_input_used": sum(row.source == "run" for row in symbolic.converted),
        "bit_identical": identical,
        "to_torch_strict_load": round_trip,
        "longest_warning": longest,
    }


def crashed(name: str, error: BaseException) -> dict[str, Any]:
    """The row of a model whose check raised."""
    return {"model": name, "crash": f"{type(error).__name__}: {str(error)[:200]}"}


def check(name: str) -> dict[str, Any]:
    import timm

    size = SIZES[name]
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    return check_model(name, lambda: timm.create_model(name, pretrained=False), ((x,), {}))


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table of the rows: per model and in total."""
    header = (
        "| model | converted | skipped, warned | truth undecided | without input: correct / "
        "fallback / silently wrong | run: correct / fallback / silently wrong | bit-identical | "
        "to_torch + strict load |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    total = {"converted": 0, "overridden": 0, "undecided_truth": 0}
    sums = {mode: [0, 0, 0] for mode in ("symbolic", "run")}
    good = [r for r in rows if "crash" not in r]
    for r in rows:
        if "crash" in r:
            lines.append(f"| {r['model']} | CRASH: {r['crash']} | | | | | | |")
            continue
        cells = []
        for mode in ("symbolic", "run"):
            s = r[mode]
            triple = (s["correct"], s["fallback"], s["silently_wrong"] + s["decided_undecidable"])
            sums[mode] = [a + b for a, b in zip(sums[mode], triple, strict=True)]
            cells.append(" / ".join(map(str, triple)))
        for key in total:
            total[key] += r[key]
        lines.append(
            f"| {r['model']} | {r['converted']} | {r['overridden']} | {r['undecided_truth']} | "
            f"{cells[0]} | {cells[1]} | {'yes' if r['bit_identical'] else 'NO'} | "
            f"{'yes' if r['to_torch_strict_load'] else 'NO'} |"
        )
    identical = sum(r["bit_identical"] for r in good)
    loaded = sum(r["to_torch_strict_load"] for r in good)
    lines.append(
        f"| **{len(rows)} models** | {total['converted']} | {total['overridden']} | "
        f"{total['undecided_truth']} | {' / '.join(map(str, sums['symbolic']))} | "
        f"{' / '.join(map(str, sums['run']))} | {identical} of {len(rows)} | "
        f"{loaded} of {len(rows)} |"
    )
    converted = max(total["converted"], 1)
    unwarned = sum(len(r["unwarned_skips"]) for r in good)
    not_called = sum(r["not_called"] for r in good)
    lines.append("")
    lines.append(
        f"Fallbacks: {sums['symbolic'][1] / converted:.1%} of converted layers without an input, "
        f"{sums['run'][1] / converted:.1%} with example_inputs; silently wrong: "
        f"{sums['symbolic'][2]} without an input, {sums['run'][2]} with; crashes: "
        f"{len(rows) - len(good)}; layers of a supported kind skipped without a warning: "
        f"{unwarned}; longest warning: "
        f"{max((r['longest_warning'] for r in good), default=0)} characters; layers the input "
        f"never reaches (no truth, counted as neither correct nor wrong): {not_called}."
    )
    return "\n".join(lines)


def report(name: str, r: dict[str, Any]) -> None:
    """One line of progress per model."""
    if "crash" in r:
        print(f"{name}: CRASH {r['crash']}", flush=True)
        return
    s, t = r["symbolic"], r["run"]
    print(
        f"{name}: {r['converted']} converted; without input {s['correct']}/{s['fallback']}/"
        f"{s['silently_wrong'] + s['decided_undecidable']}, run {t['correct']}/{t['fallback']}/"
        f"{t['silently_wrong'] + t['decided_undecidable']}; identical {r['bit_identical']}, "
        f"reload {r['to_torch_strict_load']}",
        flush=True,
    )
    for row in (s["wrong"] + t["wrong"])[:6]:
        print("   ", row, flush=True)


def run(quick: bool) -> tuple[list[dict[str, Any]], str]:
    rows = []
    for name in QUICK if quick else tuple(SIZES):
        try:
            rows.append(check(name))
        except Exception as error:  # a crash is a result of the benchmark, not its end
            rows.append(crashed(name, error))
        report(name, rows[-1])
    intro = (
        "timm architectures built with pretrained=False, eval mode, one seeded input; every "
        "converted layer's activation (convert(reinit=False) without an input, and run on "
        "example_inputs) against the ground truth of an aten-level record "
        "(`python -m benchmarks zoo`, in the zoo venv of docs/convert.md). Silently wrong "
        "counts a different gain that is not a warned fallback, and a decision where the truth "
        "is undecided.\n\n"
    )
    return rows, intro + markdown(rows)
