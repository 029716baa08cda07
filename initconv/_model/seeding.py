"""Per-layer seeds derived from one model seed and each layer's name."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from torch import nn

from initconv._layers.base import InitLayer
from initconv._validate import check_bool, check_seed, describe

__all__ = ["module_seed", "seed_modules"]

# blake2b personalisation: seeds derived here differ from any other use of the same hash.
_PERSON = b"initconv.seed"


def module_seed(seed: int, name: str) -> int:
    """The seed :func:`seed_modules` gives the module called ``name``: a stable 64-bit hash.

    BLAKE2b (RFC 7693) of the module's qualified name, keyed by ``seed``: the same on every
    process, Python version and platform, unlike the salted built-in ``hash()``.

    Examples:
        >>> module_seed(0, "stem.conv") == module_seed(0, "stem.conv")
        True
    """
    checked = check_seed("seed", seed)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {describe(name)}")
    digest = hashlib.blake2b(
        name.encode("utf-8"), digest_size=8, key=checked.to_bytes(8, "little"), person=_PERSON
    ).digest()
    return int.from_bytes(digest, "little")


def layer_seeds(seed: int, names: Iterable[str]) -> dict[str, int]:
    """Each name's :func:`module_seed`: the one definition of per-layer seeds, shared by
    :func:`seed_modules` and ``convert(..., seed=)``."""
    check_seed("seed", seed)
    return {name: module_seed(seed, name) for name in names}


def seed_modules(model: nn.Module, seed: int, *, reset: bool = True) -> dict[str, int]:
    r"""Give every initconv layer in ``model`` a seed derived from its name.

    Layer ``name`` (its qualified name in ``model.named_modules()``) gets

    .. math::
        \text{seed}_\text{name} = \operatorname{BLAKE2b}_{64}(\text{key}=\text{seed},\ \text{name})

    so its weights depend on ``seed`` and its name only: not on construction order, on the layers
    before it, on each rank's global RNG, or on the world size (pytorch#65049 asks for this;
    modules there cannot take a seed). Inserting a layer leaves every other layer's weights
    unchanged. Call it on the unwrapped model (DDP prefixes names with ``module.``); FSDP2's
    ``fully_shard`` keeps names. Every layer kind is seeded: convolutions, transposed
    convolutions and linear layers.

    Args:
        model: the model; layers that are not initconv layers are left alone.
        seed: the model's seed, in ``[0, 2**64)``.
        reset: re-initialise every seeded layer now (on the meta device this draws nothing, and
            ``to_empty()`` + ``reset_parameters()`` later uses the seeds).

    Returns:
        The seeds given, by qualified name.

    Examples:
        >>> from torch import nn
        >>> from initconv import KaimingNormalConv2d
        >>> model = nn.Sequential(KaimingNormalConv2d(3, 8, 3), nn.ReLU())
        >>> sorted(seed_modules(model, 0))
        ['0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    check_seed("seed", seed)
    check_bool("reset", reset)
    layers: dict[str, InitLayer] = {
        name: module for name, module in model.named_modules() if isinstance(module, InitLayer)
    }
    seeds = layer_seeds(seed, layers)
    for name, layer in layers.items():
        layer.seed = seeds[name]
        if reset:
            layer.reset_parameters()
    return seeds
