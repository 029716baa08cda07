"""The seeds seed_modules gives, pinned to literals.

Why literals: seed_modules(model, seed) gives the layer called ``name`` the seed
module_seed(seed, name), and that seed decides the layer's weights. If module_seed changes (another
hash, key or personalisation, the other byte order of the key or of the digest, the name encoded
otherwise), every model seeded with seed_modules gets other weights for the same seed: a run
re-initialised from its config no longer reproduces its checkpoint or a published result, and
ranks on two initconv versions disagree. A test that compares module_seed with itself (in another
process, say) cannot see that; these literals can. Change them only on purpose, with a changelog
entry that says every seeded model's weights change.

Seeds only, not weights: how a seed reaches the generator is another decision, with its own tests.
"""

from __future__ import annotations

import hashlib

import pytest
from torch import nn

import initconv
from initconv import module_seed, seed_modules


@pytest.mark.parametrize(
    ("seed", "name", "pinned"),
    [
        (0, "stem", 7472715067923285391),
        (0, "", 13142299078442402622),
        (1, "stem", 6230757188529480232),
        (2**64 - 1, "layer1.0.conv1", 7500253792456997425),
        (12345, "décodeur.conv", 587048194788015312),  # the name's UTF-8 bytes
    ],
)
def test_module_seed_is_pinned(seed: int, name: str, pinned: int) -> None:
    assert module_seed(seed, name) == pinned


def test_the_pinned_seed_is_blake2b_of_the_name_keyed_by_the_little_endian_seed() -> None:
    # The construction behind the literals: BLAKE2b (RFC 7693), 8-byte digest read little-endian,
    # keyed by the model seed as 8 little-endian bytes, personalised "initconv.seed".
    digest = hashlib.blake2b(
        b"stem", digest_size=8, key=(1).to_bytes(8, "little"), person=b"initconv.seed"
    ).digest()
    assert int.from_bytes(digest, "little") == 6230757188529480232 == module_seed(1, "stem")


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = initconv.KaimingNormalConv2d(8, 8, 3, padding=1, device="meta")
        self.act = nn.ReLU()
        self.conv2 = initconv.OrthogonalConv1d(8, 8, 1, device="meta")


def _model() -> nn.Module:
    """Nested initconv layers of five kinds, a plain torch conv and an activation, on meta."""
    model = nn.Sequential()
    model.add_module("stem", initconv.KaimingNormalConv2d(3, 8, 3, device="meta"))
    model.add_module("body", nn.Sequential(_Block(), _Block()))
    model.add_module("up", initconv.ICNRConv3d(8, 8, 1, device="meta"))
    model.add_module("plain", nn.Conv2d(8, 8, 1, device="meta"))
    model.add_module(
        "head", initconv.XavierUniformConvTranspose2d(8, 4, 2, stride=2, device="meta")
    )
    model.add_module("fc", initconv.LeCunNormalLinear(4, 10, device="meta"))
    return model


def test_a_whole_seed_modules_result_is_pinned() -> None:
    model = _model()
    assert seed_modules(model, 2024) == {
        "stem": 4831775347909378510,
        "body.0.conv1": 8248513873140922360,
        "body.0.conv2": 13955027792518537595,
        "body.1.conv1": 2543233919462022123,
        "body.1.conv2": 9833682407166859642,
        "up": 14111478858350192541,
        "head": 9928355613931246336,
        "fc": 8160491309548759639,
    }
    assert model.get_submodule("body.1.conv2").seed == 9833682407166859642
