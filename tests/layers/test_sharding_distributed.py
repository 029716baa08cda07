"""Init under FSDP2 and DDP with the real engine (gloo on 127.0.0.1), and seed_modules.

Each world size is one spawn of gloo processes (tests/_dist_workers.py) that runs every check and
saves what each rank saw; the tests below read those results. All three world sizes take about
12 s on an idle 2-core machine (``--durations``), within the default run's budget.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import _dist_workers as workers
import pytest
import torch
from _support import slow_except
from torch import nn

import initconv
from initconv import KaimingNormalConv2d, OrthogonalConv2d, module_seed, seed_modules
from initconv._layers.sharding import is_dtensor, shard_like

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch built without torch.distributed"
)

ROOT = Path(__file__).resolve().parents[2]
WORLD_SIZES = [1, 2, 4]
SHARDED_WORLD_SIZES = [2, 4]


@functools.cache
def results(world_size: int) -> list[dict[str, Any]]:
    return workers.run(world_size)


def drawn(tensor: torch.Tensor) -> bool:
    """Whether a parameter holds random draws (a zero bias legitimately repeats across shards)."""
    return bool(tensor.abs().sum() > 0)


# FSDP2 with initconv layers.


# Each world size is a process group of its own: two ranks in the default run, the rest slow.
@pytest.mark.parametrize("world_size", slow_except(WORLD_SIZES, keep=2))
def test_fsdp_full_weights_equal_the_unsharded_model_bit_for_bit(world_size: int) -> None:
    # Every world size equals the same unsharded reference, so all world sizes equal each other.
    reference = workers.reference_weights()
    for rank in results(world_size):
        shards = rank["initconv"]["shards"]
        assert set(shards) == set(reference)
        for name, (_, full) in shards.items():
            assert torch.equal(full, reference[name]), name


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_no_fsdp_shard_repeats_another(world_size: int) -> None:
    ranks = results(world_size)
    for name, (_, full) in ranks[0]["initconv"]["shards"].items():
        if not drawn(full):
            continue
        local = [rank["initconv"]["shards"][name][0] for rank in ranks]
        assert all(shard.shape[0] == full.shape[0] // world_size for shard in local), name
        for i in range(world_size):
            for j in range(i + 1, world_size):
                assert not torch.equal(local[i], local[j]), (name, i, j)


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_fsdp_shards_are_the_slices_of_the_full_weight(world_size: int) -> None:
    ranks = results(world_size)
    for name, (_, full) in ranks[0]["initconv"]["shards"].items():
        pieces = [rank["initconv"]["shards"][name][0] for rank in ranks]
        assert torch.equal(torch.cat(pieces), full), name


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_tensor_parallel_layouts_hold_the_unsharded_draw(world_size: int) -> None:
    # Sharded on the output or the input channels, or replicated: every rank's local tensor is its
    # slice of the draw the same seeded layer makes unsharded (the weights started at zero).
    for rank, result in enumerate(results(world_size)):
        assert len(result["placed"]) == 3 * len(workers.PLACED_SCHEMES)
        for placed in result["placed"]:
            reference = getattr(initconv, placed["scheme"])(8, 8, 3, seed=workers.PLACED_SEED)
            full = reference.weight.detach()
            dim = placed["dim"]
            local = full if dim is None else full.chunk(world_size, dim)[rank]
            assert torch.equal(placed["full"], full), (placed["scheme"], dim)
            assert torch.equal(placed["local"], local), (placed["scheme"], dim, rank)


@pytest.mark.parametrize("world_size", slow_except(WORLD_SIZES, keep=2))
def test_an_fsdp_training_step_runs_and_moves_the_weights(world_size: int) -> None:
    ranks = results(world_size)
    losses = {rank["initconv"]["loss"] for rank in ranks}
    assert len(losses) == 1
    assert torch.isfinite(torch.tensor(losses.pop()))
    before = ranks[0]["initconv"]["shards"]
    after = ranks[0]["initconv"]["stepped"]
    assert all(torch.isfinite(p).all() for p in after.values())
    assert any(not torch.equal(after[name], full) for name, (_, full) in before.items())


# DDP: each rank's global RNG differs; DDP's rank-0 broadcast is off (init_sync=False).


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_ddp_ranks_agree_after_construction_with_seed_modules(world_size: int) -> None:
    everyone = results(world_size)[0]["ddp_seeded"]
    for other in everyone[1:]:
        for name, value in everyone[0].items():
            assert torch.equal(other[name], value), name


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_ddp_ranks_disagree_without_seed_modules(world_size: int) -> None:
    # The control: without seeds, each rank's own global RNG decides its weights.
    everyone = results(world_size)[0]["ddp_unseeded"]
    weight = "stem.weight"
    assert not torch.equal(everyone[0][weight], everyone[1][weight])


# Regression: plain nn.Conv2d + nn.init on the same FSDP2 setup (torch 2.13, CPU/gloo).


@pytest.mark.parametrize("world_size", slow_except(SHARDED_WORLD_SIZES, keep=2))
def test_plain_nn_init_gives_every_fsdp_rank_the_same_shard(world_size: int) -> None:
    ranks = results(world_size)
    weights = [name for name in ranks[0]["torch"] if name.endswith("weight")]
    duplicated = [
        name
        for name in weights
        if all(torch.equal(rank["torch"][name][0], ranks[0]["torch"][name][0]) for rank in ranks)
    ]
    if not duplicated:
        pytest.skip(
            f"torch {torch.__version__} no longer repeats the local shard on every rank under "
            "nn.init on a CPU DTensor: the trap initconv avoids is fixed upstream; update the "
            "README's 'Large models' section"
        )
    assert duplicated == weights
    half = ranks[0]["torch"]["stem.weight"][1].shape[0] // world_size
    full = ranks[0]["torch"]["stem.weight"][1]
    assert torch.equal(full[:half], full[half : 2 * half])


# seed_modules, in one process.


class Small(nn.Module):
    def __init__(self, extra: bool = False) -> None:
        super().__init__()
        self.stem = KaimingNormalConv2d(3, 8, 3, activation="relu", bias_init="torch")
        if extra:
            self.inserted = KaimingNormalConv2d(8, 8, 3, activation="relu")
        self.head = OrthogonalConv2d(8, 4, 1)


def test_inserting_a_layer_leaves_every_other_layers_weights_unchanged() -> None:
    before, after = Small(), Small(extra=True)
    seed_modules(before, 5)
    seed_modules(after, 5)
    for name, value in before.state_dict().items():
        assert torch.equal(after.state_dict()[name], value), name


def test_seed_modules_ignores_the_global_rng_and_construction_order() -> None:
    torch.manual_seed(0)
    first = Small()
    torch.manual_seed(1)
    torch.randn(100)
    second = Small()
    seed_modules(first, 5)
    seed_modules(second, 5)
    for name, value in first.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name


def test_seed_modules_gives_different_layers_and_seeds_different_weights() -> None:
    a, b = Small(), Small()
    seeds = seed_modules(a, 5)
    seed_modules(b, 6)
    assert seeds == {"stem": a.stem.seed, "head": a.head.seed}
    assert seeds["stem"] != seeds["head"]
    assert not torch.equal(a.stem.weight, b.stem.weight)


@pytest.mark.slow  # fresh interpreters with different hash seeds
def test_module_seed_is_a_stable_hash_not_pythons_salted_one() -> None:
    # Pinned: BLAKE2b is the same on every process and platform; a change here reseeds every
    # user's model, so it must be deliberate.
    assert module_seed(0, "stem") == module_seed(0, "stem")
    code = "from initconv import module_seed; print(module_seed(0, 'stem'))"
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    printed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert int(printed) == module_seed(0, "stem")
    assert 0 <= module_seed(2**64 - 1, "") < 2**64


def test_seed_modules_on_the_meta_device_seeds_the_later_materialisation() -> None:
    with torch.device("meta"):
        meta = Small()
    seed_modules(meta, 5)
    meta.to_empty(device="cpu")
    for module in meta.modules():
        if isinstance(module, initconv.InitConv2d):
            module.reset_parameters()
    eager = Small()
    seed_modules(eager, 5)
    for name, value in eager.state_dict().items():
        assert torch.equal(meta.state_dict()[name], value), name


def test_seed_modules_without_reset_only_records_the_seeds() -> None:
    model = Small()
    weight = model.stem.weight.clone()
    seeds = seed_modules(model, 5, reset=False)
    assert model.stem.seed == seeds["stem"]
    assert torch.equal(model.stem.weight, weight)


def test_seed_modules_rejects_a_model_that_is_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"model must be an nn\.Module, got str 'net'"):
        seed_modules("net", 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (1.5, TypeError, r"seed must be an int, got float 1\.5"),
        (None, TypeError, r"seed must be an int, got NoneType None"),
        (True, TypeError, r"seed must be an int, got bool True"),
        (-1, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        (2**64, ValueError, r"seed must be in \[0, 2\*\*64\), got 18446744073709551616"),
    ],
)
def test_seed_modules_rejects_a_bad_seed_and_changes_nothing(
    seed: object, error: type[Exception], match: str
) -> None:
    model = Small()
    state = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(error, match=match):
        seed_modules(model, seed)  # type: ignore[arg-type]
    assert model.stem.seed is None
    assert model.head.seed is None
    for name, value in state.items():
        assert torch.equal(model.state_dict()[name], value), name


def test_module_seed_rejects_a_name_that_is_not_a_str() -> None:
    with pytest.raises(TypeError, match=r"name must be a str, got int 3"):
        module_seed(0, 3)  # type: ignore[arg-type]


def test_plain_tensors_pass_through_shard_like_unchanged() -> None:
    full = torch.randn(4, 3)
    assert not is_dtensor(full)
    assert shard_like(full, torch.empty(4, 3)) is full


@pytest.mark.slow  # a fresh interpreter
def test_importing_initconv_does_not_import_dtensor() -> None:
    code = "import sys, initconv; print('torch.distributed.tensor' in sys.modules)"
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == "False"


# The README's example, as a user runs it.


@pytest.mark.slow  # torchrun starts two interpreters that import torch
def test_the_fsdp_example_runs_under_torchrun_on_two_processes() -> None:
    # torchrun is torch.distributed.run; --standalone picks a free port.
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*run, "examples/fsdp_init.py"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "equal the unsharded model bit for bit, no shard repeats another" in done.stdout
