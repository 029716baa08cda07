"""A seed's generator is the documented Mersenne Twister state, so a seed's weights never change.

docs/guarantees.md ("Seeds reach the generator whole") and ``seeded_generator``'s docstring document
how a seed in [0, 2**64) fills the CPU generator's MT19937 state: word 0 has only its top bit set,
words 1 and 2 are the low and high 32-bit halves of the seed, and words 3 to 623 are the SHAKE-256
(FIPS 202) expansion of the seed: the seed as 8 little-endian bytes after the personalisation
``initconv.seeded_generator.mt19937``, read as 621 little-endian 32-bit words. That construction
is what makes a seed's weights the same in every process and on every initconv version: the
reason tests/model/test_seeding_pinned.py pins the seeds ``seed_modules`` hands out. Those
seeds are worth pinning only if each seed's generator is pinned too; this file pins it, derived
here with hashlib alone.

Two views of it:

- the state torch holds (``Generator.get_state()``, torch's ``CPUGeneratorImplState``: the
  initial seed as a uint64, ``left`` and ``seeded`` as int32, ``next`` as a uint64, then the 624
  state words, each widened to a uint64, in native byte order);
- the stream it gives: Python's own ``random`` module is MT19937 (Matsumoto and Nishimura, 1998),
  so ``random.Random`` set to the same 624 words, about to twist, gives the outputs torch's
  generator gives. torch's 64-bit draw (``random64``) joins two outputs, the first in the high half,
  and ``randint(0, 2**62)`` keeps its low 62 bits.

All checks are exact.
"""

from __future__ import annotations

import hashlib
import random
import struct

import pytest
import torch

import initconv

_PERSONALISATION = b"initconv.seeded_generator.mt19937"
_WORDS = 624
# Both halves of the seed at their ends and in between, and seeds equal in their low 32 bits.
_SEEDS = [0, 1, 5, 2**32 - 1, 2**32, 5 + 2**32, 2**63 + 12345, 0xDEADBEEF_0BADF00D, 2**64 - 1]


def _documented_words(seed: int) -> tuple[int, ...]:
    expansion = hashlib.shake_256(_PERSONALISATION + seed.to_bytes(8, "little"))
    rest = struct.unpack(f"<{_WORDS - 3}I", expansion.digest(4 * (_WORDS - 3)))
    return (0x80000000, seed % 2**32, seed // 2**32, *rest)


@pytest.mark.parametrize("seed", _SEEDS)
def test_the_generator_state_is_the_seed_and_its_shake_256_expansion(seed: int) -> None:
    raw = bytes(initconv.seeded_generator(seed).get_state().tolist())
    initial, left, seeded, following = struct.unpack_from("=QiiQ", raw, 0)
    words = struct.unpack_from(f"={_WORDS}Q", raw, struct.calcsize("=QiiQ"))
    assert initial == seed
    assert (left, seeded, following) == (1, 1, 0)  # fresh: the first draw twists first
    assert words == _documented_words(seed)


@pytest.mark.parametrize("seed", _SEEDS)
def test_the_generator_draws_python_mt19937_of_the_documented_words(seed: int) -> None:
    twister = random.Random()
    twister.setstate((3, (*_documented_words(seed), _WORDS), None))  # index 624: twist first
    outputs = [twister.getrandbits(32) for _ in range(2 * 700)]  # past the first twist
    expected = [
        ((hi << 32) | lo) % 2**62 for hi, lo in zip(outputs[::2], outputs[1::2], strict=True)
    ]
    drawn = torch.randint(0, 2**62, (700,), generator=initconv.seeded_generator(seed))
    assert drawn.tolist() == expected


@pytest.mark.parametrize("seed", [-1, 2**64, 2**72])
def test_seeds_outside_0_to_2_to_the_64_are_refused(seed: int) -> None:
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        initconv.seeded_generator(seed)
