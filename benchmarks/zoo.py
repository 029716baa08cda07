"""convert() on real model definitions written by others: timm's architectures, no weights.

Each architecture is built with ``timm.create_model(name, pretrained=False)`` (nothing is
downloaded), put in eval mode, and run on one seeded input (``SIZES``: 64 x 64 unless the
architecture needs more). Then:

1. **Ground truth**, independent of initconv's inference: a forward pass on a deep copy under a
   ``TorchDispatchMode`` records every aten operator with the tensors that flow into and out of
   it; forward hooks give each layer's output tensor. The README's rule is applied to that
   record: the activation that acts on the layer's output before the next weight operator
   (convolution, mm, addmm, bmm, attention), past norms, dropout, pooling, reshapes, reductions
   and residual adds; a path into a weight operator or the model's output is linear; a branch
   that only gates the tensor (squeeze-excite) or computes a norm's statistics is not a consumer.
   Where the uses disagree or an operator is neither, the truth is "undecided".
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
from torch import Tensor, nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import initconv
from initconv import ConversionReport


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


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

# --- The ground truth: the rule on a record of aten operators --------------------------------

_WEIGHT = _names(
    "convolution _convolution mm addmm bmm baddbmm matmul linear "
    "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_efficient_attention "
    "_scaled_dot_product_flash_attention scaled_dot_product_attention "
    "_scaled_dot_product_attention_math _native_multi_head_attention"
)
_STATISTIC = _names(
    "mean sum amax amin var std var_mean std_mean pow sqrt rsqrt abs reciprocal clamp clamp_min "
    "_adaptive_avg_pool2d adaptive_max_pool2d avg_pool2d max_pool2d_with_indices linalg_vector_norm "
    "norm"
)
_PASS = _names(
    "view _unsafe_view reshape permute transpose t expand clone contiguous slice select "
    "unsqueeze squeeze split split_with_sizes unbind chunk cat stack add add_ sub sub_ mul mul_ "
    "div div_ neg mean sum amax amin max_pool2d_with_indices max_pool1d_with_indices avg_pool2d "
    "avg_pool1d _adaptive_avg_pool2d adaptive_max_pool2d native_batch_norm "
    "_native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm constant_pad_nd "
    "reflection_pad2d replication_pad2d upsample_nearest2d upsample_bilinear2d "
    "_upsample_nearest_exact2d _upsample_bilinear2d_aa pixel_shuffle pixel_unshuffle "
    "channel_shuffle native_dropout alias detach _to_copy copy_ roll flip im2col col2im "
    "as_strided as_strided_ narrow lift_fresh index_select unfold"
)
# Operators whose first output alone carries the values (the rest are statistics or indices).
_FIRST_OUTPUT = _names(
    "native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
    "_native_batch_norm_legit_functional native_layer_norm native_group_norm "
    "max_pool2d_with_indices max_pool1d_with_indices native_dropout adaptive_max_pool2d"
)
_META = _names("empty_like zeros_like ones_like new_empty new_zeros new_ones sym_size")
_STEERING = _names(
    "gt lt ge le eq ne any all isnan isinf isfinite abs sum mean amax amin max min "
    "_local_scalar_dense is_nonzero"
)
Value = tuple[int, int]  # (operator index, output position)


def _activation(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The initconv spec of an aten activation operator, or ``None``."""
    base = name.rstrip("_")
    if base in ("relu", "silu", "hardswish", "sigmoid", "tanh", "mish", "hardsigmoid", "selu"):
        return base
    if base == "gelu":
        return "gelu_tanh" if kwargs.get("approximate", "none") == "tanh" else "gelu"
    if base == "leaky_relu":
        return nn.LeakyReLU(float(args[1]) if len(args) > 1 else 0.01)
    if base == "hardtanh":
        low, high = (list(args[1:3]) + [-1.0, 1.0][len(args[1:3]) :])[:2]
        return "relu6" if (low, high) == (0, 6) else nn.Hardtanh(float(low), float(high))
    if base == "elu":
        alpha = float(args[1]) if len(args) > 1 else 1.0
        scale = float(args[2]) if len(args) > 2 else 1.0
        return nn.ELU(alpha) if scale == 1.0 else ("selu" if abs(scale - 1.0507) < 1e-3 else None)
    if base == "celu":
        return nn.CELU(float(args[1]) if len(args) > 1 else 1.0)
    if base == "softplus":
        return nn.Softplus(*(float(a) for a in args[1:3]))
    if base == "clamp_min" and len(args) > 1 and args[1] == 0:
        return "relu"
    if base == "_prelu_kernel" and args[1].numel() == 1:
        return nn.LeakyReLU(float(args[1].reshape(())))
    return None


class _Op:
    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs
        self.inputs: list[Value | None] = []  # per tensor argument, in order
        self.outputs: list[Value] = []


class _AtenRecord(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[_Op] = []
        self.producer: dict[int, Value] = {}
        self.keep: list[Tensor] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = _Op(func.overloadpacket.__name__, args, kwargs)
        op.inputs = [
            self.producer.get(id(t))
            for t in pytree.tree_leaves((args, kwargs))
            if isinstance(t, Tensor)
        ]
        index = len(self.ops)
        self.ops.append(op)
        for position, tensor in enumerate(
            t for t in pytree.tree_leaves(out) if isinstance(t, Tensor)
        ):
            self.producer[id(tensor)] = (index, position)
            op.outputs.append((index, position))
            self.keep.append(tensor)
        return out


class _Truth:
    """The rule on an aten record."""

    def __init__(self, record: _AtenRecord, outputs: set[Value]) -> None:
        self.ops = record.ops
        self.outputs = outputs
        self.users: dict[Value, list[int]] = {}
        for index, op in enumerate(self.ops):
            for value in op.inputs:
                if value is not None:
                    self.users.setdefault(value, []).append(index)
        self.memo: dict[Value, tuple[str, Any]] = {}

    def _values(self, index: int) -> list[Value]:
        op = self.ops[index]
        return op.outputs[:1] if op.name in _FIRST_OUTPUT else op.outputs

    def _steers(self, index: int, depth: int = 0) -> bool:
        op = self.ops[index]
        if op.name not in _STEERING or depth > 12:
            return False
        values = self._values(index)
        return all(
            self._steers(user, depth + 1) for v in values for user in self.users.get(v, [])
        ) and not any(v in self.outputs for v in values)

    def _main(self, value: Value) -> set[Value]:
        found, frontier = {value}, [value]
        while frontier and len(found) < 64:
            for user in self.users.get(frontier.pop(), []):
                if self.ops[user].name in _PASS and self.ops[user].name not in _STATISTIC:
                    for v in self._values(user):
                        if v not in found:
                            found.add(v)
                            frontier.append(v)
        return found

    def _derived(self, value: Value, source: Value) -> bool:
        frontier, seen = [value], set()
        while frontier and len(seen) < 64:
            v = frontier.pop()
            if v == source:
                return True
            if v not in seen:
                seen.add(v)
                frontier.extend(i for i in self.ops[v[0]].inputs if i is not None)
        return False

    def _ends_gate(self, index: int, branch: Value, main: set[Value]) -> bool:
        op = self.ops[index]
        if len(op.inputs) < 2:
            return False
        first, second = op.inputs[:2]
        base = op.name.rstrip("_")
        if branch in main:
            return False
        if base == "mul":
            other = second if first == branch else first
            return branch in (first, second) and other != branch and other in main
        if base in ("div", "sub"):
            return second == branch and first in main
        return False

    def _is_gate(self, source: Value, start: int) -> bool:
        main = self._main(source)
        frontier = [(start, source)]
        seen: set[int] = set()
        ended = substantial = False
        while frontier:
            index, came_from = frontier.pop()
            if index != start and self._ends_gate(index, came_from, main):
                ended = True
                continue
            if index in seen:
                continue
            seen.add(index)
            op = self.ops[index]
            act = _activation(op.name, op.args, op.kwargs) is not None
            if len(seen) > 64 or not (
                op.name in _STATISTIC or op.name in _WEIGHT or op.name in _PASS or act
            ):
                return False
            values = self._values(index)
            if any(v in self.outputs for v in values):
                return False
            substantial = (
                substantial
                or op.name in _STATISTIC
                or op.name in _WEIGHT
                or any(
                    v is not None
                    and v != came_from
                    and v[0] not in seen
                    and self._derived(v, source)
                    for v in op.inputs
                )
            )
            nexts = [(user, v) for v in values for user in self.users.get(v, [])]
            if not nexts:
                return False
            frontier.extend(nexts)
        return ended and substantial

    def outcome(self, value: Value) -> tuple[str, Any]:
        """("act", spec), ("unused", None) or ("undecided", reason)."""
        if value in self.memo:
            return self.memo[value]
        self.memo[value] = ("undecided", "cycle")
        results: list[tuple[str, Any]] = []
        if value in self.outputs:
            results.append(("act", "linear"))
        for index in self.users.get(value, []):
            if self._steers(index) or self._is_gate(value, index):
                continue
            results.append(self._classify(index))
        self.memo[value] = _merge(results)
        return self.memo[value]

    def _classify(self, index: int) -> tuple[str, Any]:
        op = self.ops[index]
        spec = _activation(op.name, op.args, op.kwargs)
        if spec is not None:
            return ("act", spec)
        if op.name in _WEIGHT:
            return ("act", "linear")
        if op.name in _META:
            return ("unused", None)
        if op.name in _PASS:
            results = [self.outcome(v) for v in self._values(index)]
            merged = _merge(results)
            return ("act", "linear") if merged[0] == "unused" else merged
        return ("undecided", f"aten.{op.name}")


def _gain(spec: Any) -> float:
    return initconv.gain(spec)


def _merge(results: list[tuple[str, Any]]) -> tuple[str, Any]:
    used = [r for r in results if r[0] != "unused"]
    if not used:
        return ("unused", None)
    undecided = [r for r in used if r[0] == "undecided"]
    if undecided:
        return undecided[0]
    gains = {round(_gain(spec), 9) for _, spec in used}
    if len(gains) > 1:
        return ("undecided", "uses with different activations")
    return used[0]


def ground_truth(model: nn.Module, x: Tensor, names: list[str]) -> dict[str, tuple[str, Any]]:
    """Each named layer's activation by the rule, from an aten record of a run on a copy."""
    duplicate = copy.deepcopy(model)
    record = _AtenRecord()
    calls: dict[str, list[Value]] = {}

    def hook(name: str) -> Any:
        def record_output(module: nn.Module, args: Any, out: Tensor) -> None:
            value = record.producer.get(id(out))
            if value is not None:
                calls.setdefault(name, []).append(value)

        return record_output

    for name in names:
        duplicate.get_submodule(name).register_forward_hook(hook(name))
    with torch.no_grad(), record:
        out = duplicate(x)
    outputs = {
        record.producer[id(t)]
        for t in pytree.tree_leaves(out)
        if isinstance(t, Tensor) and id(t) in record.producer
    }
    truth = _Truth(record, outputs)
    result: dict[str, tuple[str, Any]] = {}
    for name in names:
        if name not in calls:
            result[name] = ("undecided", "not called")
            continue
        merged = _merge([truth.outcome(value) for value in calls[name]])
        result[name] = ("act", "linear") if merged[0] == "unused" else merged
    return result


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
        elif row.gain is not None and math.isclose(row.gain, _gain(spec), rel_tol=1e-9):
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
