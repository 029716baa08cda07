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
import math
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

import initconv
from benchmarks._zoo_truth import ground_truth
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


def _score(
    report: ConversionReport, truth: dict[str, tuple[str, Any]], warned: str
) -> dict[str, Any]:
    counts = {"correct": 0, "fallback": 0, "silently_wrong": 0, "decided_undecidable": 0}
    wrong = []
    fallbacks = {row.name for row in report.fallbacks}
    for row in report.converted:
        kind, spec = truth[row.name]
        if row.name in fallbacks:
            counts["fallback"] += 1
            if row.name not in warned:
                wrong.append((row.name, "fallback not named in the warning", row.detail))
        elif kind != "act":
            counts["decided_undecidable"] += 1
            wrong.append(
                (row.name, f"{row.activation} where the truth is undecided ({spec})", row.detail)
            )
        elif row.gain is not None and math.isclose(row.gain, initconv.gain(spec), rel_tol=1e-9):
            counts["correct"] += 1
        else:
            counts["silently_wrong"] += 1
            wrong.append(
                (row.name, f"{row.activation} where the truth is {_name(spec)}", row.detail)
            )
    counts["warned_every_fallback"] = all(name in warned for name in fallbacks)
    return {**counts, "wrong": wrong}


def _name(spec: Any) -> str:
    return spec if isinstance(spec, str) else repr(spec)


def _convert(model: nn.Module, **options: Any) -> tuple[ConversionReport, str]:
    with _warnings() as caught:
        report = initconv.convert(model, reinit=False, **options)
    return report, "\n".join(str(w.message) for w in caught)


def check(name: str) -> dict[str, Any]:
    import timm

    size = SIZES[name]
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
    symbolic, warned_symbolic = _convert(copy.deepcopy(model))
    names = [row.name for row in symbolic.converted]
    truth = ground_truth(model, x, names)
    run, warned_run = _convert(model, example_inputs=x)
    with torch.no_grad():
        identical = bool(torch.equal(model(x), before))
    initconv.to_torch(model)
    fresh = timm.create_model(name, pretrained=False).eval()
    try:
        fresh.load_state_dict(model.state_dict(), strict=True)
        with torch.no_grad():
            round_trip = bool(torch.equal(fresh(x), before))
    except RuntimeError:
        round_trip = False
    return {
        "model": name,
        "input": size,
        "layers": len(symbolic.rows),
        "converted": len(symbolic.converted),
        "overridden": len(symbolic.overridden),
        "undecided_truth": sum(kind != "act" for kind, _ in truth.values()),
        "symbolic": _score(symbolic, truth, warned_symbolic),
        "run": _score(run, truth, warned_run),
        "bit_identical": identical,
        "to_torch_strict_load": round_trip,
    }


def _markdown(rows: list[dict[str, Any]]) -> str:
    header = (
        "| model | converted | skipped: own forward | truth undecided | traced: correct / "
        "fallback / silently wrong | run: correct / fallback / silently wrong | bit-identical | "
        "to_torch + strict load |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    total = {"converted": 0, "overridden": 0, "undecided_truth": 0}
    sums = {mode: [0, 0, 0] for mode in ("symbolic", "run")}
    for r in rows:
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
    identical = sum(r["bit_identical"] for r in rows)
    loaded = sum(r["to_torch_strict_load"] for r in rows)
    lines.append(
        f"| **{len(rows)} models** | {total['converted']} | {total['overridden']} | "
        f"{total['undecided_truth']} | {' / '.join(map(str, sums['symbolic']))} | "
        f"{' / '.join(map(str, sums['run']))} | {identical} of {len(rows)} | "
        f"{loaded} of {len(rows)} |"
    )
    return "\n".join(lines)


def run(quick: bool) -> tuple[list[dict[str, Any]], str]:
    rows = []
    for name in QUICK if quick else tuple(SIZES):
        rows.append(check(name))
        r = rows[-1]
        print(
            f"{name}: {r['converted']} converted; traced {r['symbolic']['correct']}/"
            f"{r['symbolic']['fallback']}/{r['symbolic']['silently_wrong']}, run "
            f"{r['run']['correct']}/{r['run']['fallback']}/{r['run']['silently_wrong']}",
            flush=True,
        )
    intro = (
        "timm architectures built with pretrained=False, eval mode, one seeded input; every "
        "converted layer's activation (convert(reinit=False), traced without an input and run "
        "on example_inputs) against the ground truth of an aten-level record "
        "(`python -m benchmarks zoo`, in the zoo venv of docs/convert.md). Silently wrong "
        "counts a different gain that is not a warned fallback, and a decision where the truth "
        "is undecided.\n\n"
    )
    return rows, intro + _markdown(rows)
