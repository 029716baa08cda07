"""Properties of initconv.residual_init_ on random residual structures: serial blocks, parallel
blocks (``x + f1(h) + f2(h) + ...``), blocks nested in a branch, and attention blocks, of torch
and initconv layers, with and without biases.

For every structure and method: the model starts as the identity; each branch is changed once
(Fixup: its last layer zeroed, every other layer scaled by L^(-1/(2m-2)), nothing else touched); a
call that fails part-way changes nothing; a second call is refused and changes nothing.

The Fixup factor is derived here from the paper, not read from the code. Zhang, Dauphin & Ma
(2019), "Fixup initialization", section 3: a network of L residual branches, each a product of m
layers (with the branch's last layer at 0), keeps the update of the output O(eta) when each of
the other m - 1 layers is scaled by L^(-1/(2m-2)): a branch's output is then scaled by
(L^(-1/(2m-2)))^(m-1) = L^(-1/2), and its gradient update by L^(-1) per branch, O(1) over L
branches. A branch of one layer is only zeroed.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.nn.utils import parametrize

import initconv

WIDTH = 4


def fixup_factor(total: int, m: int) -> float:
    """Zhang et al. (2019), Fixup's rule 2: L^(-1/(2m-2)), computed as exp(-ln L / (2m - 2))."""
    return math.exp(-math.log(total) / (2 * m - 2))


@dataclasses.dataclass(frozen=True)
class Layer:
    plain: bool
    bias: bool
    seed: int


def _linear(spec: Layer) -> nn.Module:
    if spec.plain:
        return nn.Linear(WIDTH, WIDTH, bias=spec.bias)
    return initconv.KaimingNormalLinear(WIDTH, WIDTH, bias=spec.bias, seed=spec.seed)


class Chain(nn.Module):
    """A branch: its layers with a ReLU between each two."""

    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_linear(spec) for spec in layers)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x if i == 0 else torch.relu(x))
        return x


class Serial(nn.Module):
    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.branch = Chain(layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.branch(x)


class Parallel(nn.Module):
    """x + f1(h) + f2(h) + ..., h a pre-norm shared by the branches (GPT-J, PaLM)."""

    def __init__(self, branches: list[list[Layer]]) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(WIDTH)
        self.branches = nn.ModuleList(Chain(layers) for layers in branches)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        out = x
        for branch in self.branches:
            out = out + branch(h)
        return out


class Nested(nn.Module):
    """x + post(relu(inner(relu(pre(x))))), with inner a residual block of its own."""

    def __init__(self, pre: Layer, inner: list[Layer], post: Layer) -> None:
        super().__init__()
        self.pre, self.inner, self.post = _linear(pre), Serial(inner), _linear(post)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.post(torch.relu(self.inner(torch.relu(self.pre(x)))))


class Attention(nn.Module):
    """x + attn(h)[0], or x + proj(attn(h)[0]), h = norm(x)."""

    def __init__(self, proj: Layer | None) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(WIDTH)
        self.attn = nn.MultiheadAttention(WIDTH, 2, batch_first=True)
        self.proj = None if proj is None else _linear(proj)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        a = self.attn(h, h, h, need_weights=False)[0]
        return x + (a if self.proj is None else self.proj(a))


@dataclasses.dataclass(frozen=True)
class Expected:
    """One branch as built: the names of its weight layers in run order, and whether a gate has a
    module to sit on at its end."""

    layers: tuple[str, ...]
    gated: bool = True


def _chain_names(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.layers.{i}" for i in range(count))


layers = st.builds(Layer, st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
chains = st.lists(layers, min_size=1, max_size=3)
blocks = st.one_of(
    st.tuples(st.just("serial"), chains),
    st.tuples(st.just("parallel"), st.lists(chains, min_size=2, max_size=3)),
    st.tuples(st.just("nested"), st.tuples(layers, chains, layers)),
    st.tuples(st.just("attention"), st.one_of(st.none(), layers)),
)
structures = st.lists(blocks, min_size=1, max_size=4)


def build(structure: list[tuple[str, object]]) -> tuple[nn.Sequential, list[Expected]]:
    """The model of ``structure`` and its branches, as the structure defines them."""
    modules: list[nn.Module] = []
    expected: list[Expected] = []
    for index, (kind, spec) in enumerate(structure):
        if kind == "serial":
            chain = list(spec)  # type: ignore[call-overload]
            modules.append(Serial(chain))
            expected.append(Expected(_chain_names(f"{index}.branch", len(chain))))
        elif kind == "parallel":
            branches = list(spec)  # type: ignore[call-overload]
            modules.append(Parallel(branches))
            expected += [
                Expected(_chain_names(f"{index}.branches.{i}", len(chain)))
                for i, chain in enumerate(branches)
            ]
        elif kind == "nested":
            pre, inner, post = spec  # type: ignore[misc]
            modules.append(Nested(pre, inner, post))
            # The inner block's layers are its own branch's; the outer branch holds pre and post.
            expected.append(Expected(_chain_names(f"{index}.inner.branch", len(inner))))
            expected.append(Expected((f"{index}.pre", f"{index}.post")))
        else:
            proj = spec
            modules.append(Attention(proj))  # type: ignore[arg-type]
            names = (f"{index}.attn",) + ((f"{index}.proj",) if proj is not None else ())
            expected.append(Expected(names, gated=proj is not None))
    torch.manual_seed(len(structure))
    return nn.Sequential(*modules), expected


def _tokens() -> Tensor:
    return torch.randn(2, 3, WIDTH, generator=torch.Generator().manual_seed(0))


def _weight(model: nn.Module, layer: str) -> Tensor:
    module = model.get_submodule(layer)
    if isinstance(module, nn.MultiheadAttention):
        return module.out_proj.weight
    return module.get_parameter("weight")


def _snapshot(model: nn.Module) -> dict[str, object]:
    return {
        "values": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "parameters": [id(p) for p in model.parameters()],
        "calibrations": {
            name: (module.calibration, module.seed, module.bias_init)
            for name, module in model.named_modules()
            if isinstance(module, initconv.InitLayer)
        },
        "hooks": {name: len(m._forward_hooks) for name, m in model.named_modules()},
        "attributes": {name: sorted(vars(m)) for name, m in model.named_modules()},
    }


def _unchanged(before: dict[str, object], after: dict[str, object]) -> bool:
    old, new = before["values"], after["values"]
    assert isinstance(old, dict)
    assert isinstance(new, dict)
    same = old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)
    return same and all(before[k] == after[k] for k in before if k != "values")


def _call(model: nn.Module, method: str, expected: list[Expected]) -> initconv.ResidualReport:
    if method == "skipinit" and not all(branch.gated for branch in expected):
        with pytest.warns(UserWarning, match=r"residual_init_ (left|found no)"):
            return initconv.residual_init_(model, method, seed=1)
    return initconv.residual_init_(model, method, seed=1)


def _gated_blocks_start_as_the_identity(
    model: nn.Sequential, expected: list[Expected], method: str
) -> None:
    ungated = {branch.layers[0].split(".")[0] for branch in expected if not branch.gated}
    x = _tokens()
    with torch.no_grad():
        for index, block in enumerate(model):
            if method == "skipinit" and str(index) in ungated:
                continue
            assert torch.equal(block(x), x), f"block {index} is not the identity"


def _check_methods(structure: list[tuple[str, object]], method: str) -> None:
    model, expected = build(structure)
    before = copy.deepcopy(model)
    report = _call(model, method, expected)
    total = len(expected)

    _gated_blocks_start_as_the_identity(model, expected, method)
    names = [row.name for row in report]
    assert len(names) == len(set(names)), "a module was changed twice"
    touched: set[str] = set()
    if method == "skipinit":
        gated = [branch.layers[-1] for branch in expected if branch.gated]
        assert sorted(names) == sorted(gated)
        assert len(report.unchanged) == sum(not branch.gated for branch in expected)
        gates = [n for n, _ in model.named_parameters() if n.endswith(initconv.GATE)]
        assert sorted(gates) == sorted(f"{name}.{initconv.GATE}" for name in gated)
        touched = {f"{name}.{initconv.GATE}" for name in gated}
    else:
        assert report.branches == total
        assert not report.unchanged
        for branch in expected:
            last = branch.layers[-1]
            assert torch.count_nonzero(_weight(model, last)) == 0
            touched |= {k for k in model.state_dict() if k.startswith(f"{last}.")}
            m = len(branch.layers)
            for layer in branch.layers[:-1]:
                if method == "zero":
                    continue
                factor = fixup_factor(total, m)
                # One float32 rounding of the product: a relative error of at most 2^-24.
                assert torch.allclose(
                    _weight(model, layer), _weight(before, layer) * factor, rtol=2**-22, atol=0
                ), f"{layer} is not scaled by L^(-1/(2m-2)) = {factor} exactly once"
                key = "out_proj.weight" if layer.endswith("attn") else "weight"
                touched.add(f"{layer}.{key}")
    # Nothing else changed.
    old = before.state_dict()
    for key, value in model.state_dict().items():
        if key not in touched:
            assert torch.equal(value, old[key]), f"{key} changed"


class Refusing(nn.Module):
    """A parametrization without right_inverse: storing a value into it raises."""

    def forward(self, weight: Tensor) -> Tensor:
        return weight


def _changeable(structure: list[tuple[str, object]], method: str) -> list[tuple[str, object]]:
    """``structure``, with a serial block added where SkipInit would find no branch to gate (the
    call then changes nothing, so neither fails part-way nor is a second call a repeat)."""
    if method == "skipinit" and all(kind == "attention" for kind, _ in structure):
        return [*structure, ("serial", [Layer(True, True, 0)])]
    return structure


def _check_failure(structure: list[tuple[str, object]], method: str, pick: int) -> None:
    model, expected = build(_changeable(structure, method))
    # Make one change of a random branch fail: its last layer cannot be stored into, or (for
    # SkipInit) the module ending it already has an attribute of the gate's name.
    ends = [b.layers[-1] for b in expected if b.gated or method != "skipinit"]
    target = model.get_submodule(ends[pick % len(ends)])
    if method == "skipinit":
        setattr(target, initconv.GATE, 1.0)
    elif isinstance(target, nn.MultiheadAttention):
        parametrize.register_parametrization(target.out_proj, "weight", Refusing())
    else:
        parametrize.register_parametrization(target, "weight", Refusing())
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"residual_init_ could not .* every module is as it was"):
        initconv.residual_init_(model, method, seed=1)  # fails before any warning
    assert _unchanged(before, _snapshot(model))


def _check_second_call(structure: list[tuple[str, object]], method: str, second: str) -> None:
    model, expected = build(_changeable(structure, method))
    _call(model, method, expected)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"residual_init_ has already changed this model"):
        initconv.residual_init_(model, second)
    assert _unchanged(before, _snapshot(model))


methods = st.sampled_from(["zero", "fixup", "skipinit"])
FEW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(structures, methods)
def test_each_method_starts_every_block_as_the_identity_changing_each_branch_once(
    structure: list[tuple[str, object]], method: str
) -> None:
    _check_methods(structure, method)


@FEW
@given(structures, methods, st.integers(0, 100))
def test_a_call_that_fails_part_way_changes_nothing(
    structure: list[tuple[str, object]], method: str, pick: int
) -> None:
    _check_failure(structure, method, pick)


@FEW
@given(structures, methods, methods)
def test_a_second_call_is_refused_and_changes_nothing(
    structure: list[tuple[str, object]], method: str, second: str
) -> None:
    _check_second_call(structure, method, second)


@pytest.mark.slow
@MANY
@given(structures, methods)
def test_each_method_on_many_structures(structure: list[tuple[str, object]], method: str) -> None:
    _check_methods(structure, method)


@pytest.mark.slow
@MANY
@given(structures, methods, st.integers(0, 100), methods)
def test_failures_and_second_calls_on_many_structures(
    structure: list[tuple[str, object]], method: str, pick: int, second: str
) -> None:
    _check_failure(structure, method, pick)
    _check_second_call(structure, method, second)
