"""Seeds to generators: every seed in ``[0, 2**64)`` reaches the generator whole.

torch's CPU generator is a Mersenne Twister (MT19937), and ``manual_seed`` keeps only the low 32 bits
of the seed (its ``init_genrand``), so ``seed`` and ``seed + 2**32`` would draw the same weights.
Here the seed sets the twister's whole state instead (:func:`seeded_generator`); on devices whose
generator is keyed by 64 bits (CUDA's Philox), ``manual_seed`` already keeps the seed whole.
"""

from __future__ import annotations

import functools
import hashlib
import struct

import torch

from initconv._validate import check_seed, describe

__all__ = ["seeded_generator"]

# torch's CPUGeneratorImplState, which get_state() and set_state() exchange (native byte order):
# the initial seed (uint64), left (int32), seeded (int32), next (uint64), then the 624 state words,
# each widened to a uint64, then the cached normal samples, which a fresh state leaves invalid.
_WORDS = 624
_HEADER = "=QiiQ"
_STATE_OFFSET = struct.calcsize(_HEADER)
_STATE_BYTES = 5056
# Domain separation: these words differ from any other use of SHAKE-256 on the same seed.
_PERSON = b"initconv.seeded_generator.mt19937"
# MT19937 uses only the top bit of word 0 (Matsumoto and Nishimura, 1998); init_by_array sets it so
# that the state is never all zero.
_TOP_BIT = 0x80000000


def _init_genrand(seed: int) -> list[int]:
    # MT19937's reference init_genrand, which torch's manual_seed runs on the low 32 bits.
    words = [seed & 0xFFFFFFFF]
    for i in range(1, _WORDS):
        words.append((1812433253 * (words[-1] ^ (words[-1] >> 30)) + i) & 0xFFFFFFFF)
    return words


@functools.cache
def _cpu_template() -> bytes:
    """A fresh CPU generator state, after checking that torch lays it out as this module reads it."""
    probe = 0x1234ABCD
    state = torch.Generator(device="cpu").manual_seed(probe).get_state()
    raw = bytes(state.tolist())
    header = struct.unpack_from(_HEADER, raw, 0)
    words = list(struct.unpack_from(f"={_WORDS}Q", raw, _STATE_OFFSET))
    if len(raw) != _STATE_BYTES or header != (probe, 1, 1, 0) or words != _init_genrand(probe):
        raise RuntimeError(
            f"torch {torch.__version__} lays out its CPU generator state differently from the "
            "MT19937 state initconv writes a seed into, so seeds cannot reach it whole; please "
            "report this"
        )
    return raw


def _twister_words(seed: int) -> tuple[int, ...]:
    # Words 1 and 2 are the seed itself, so distinct seeds give distinct states, and since MT19937's
    # transition and tempering are invertible, distinct first 624 outputs; the other 621 words are
    # SHAKE-256 (FIPS 202) of the seed, so that seeds close together share nothing else.
    stream = hashlib.shake_256(_PERSON + seed.to_bytes(8, "little")).digest(4 * (_WORDS - 3))
    rest = struct.unpack(f"<{_WORDS - 3}I", stream)
    return (_TOP_BIT, seed & 0xFFFFFFFF, seed >> 32, *rest)


def _generator_on(device: object) -> torch.Generator:
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or a str, got {describe(device)}")
    try:
        return torch.Generator(device=device)
    except RuntimeError as error:  # a malformed name, or a device this machine does not have
        raise ValueError(f"device {device!r} has no generator here: {error}") from None


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    r"""The generator a layer with ``seed=seed`` draws from on ``device``.

    On CPU the 64-bit seed fills the Mersenne Twister's state (Matsumoto, M. and Nishimura, T.
    (1998), "Mersenne twister: a 623-dimensionally equidistributed uniform pseudo-random number
    generator"): words 1 and 2 are its low and high halves, the other 621 words its SHAKE-256
    expansion, and word 0's top bit is set. Distinct seeds give distinct states and so distinct
    streams, which ``torch.Generator().manual_seed(seed)`` does not: it keeps the low 32 bits only.
    On other devices (CUDA's Philox keys on all 64 bits) it is ``manual_seed(seed)``. The same seed
    gives the same generator state every time, in every process.

    ``initconv.KaimingNormalConv2d(..., seed=s)`` draws what ``torch.nn.init.kaiming_normal_`` draws
    from ``seeded_generator(s)``, bit for bit (and likewise for every scheme and its torch call).

    Args:
        seed: an int in ``[0, 2**64)``.
        device: the generator's device.

    Examples:
        >>> a = seeded_generator(5)
        >>> b = seeded_generator(5 + 2**32)
        >>> torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))
        False
    """
    checked = check_seed("seed", seed)
    generator = _generator_on(device)
    if generator.device.type != "cpu":
        return generator.manual_seed(checked)
    state = bytearray(_cpu_template())
    struct.pack_into("=Q", state, 0, checked)
    struct.pack_into(f"={_WORDS}Q", state, _STATE_OFFSET, *_twister_words(checked))
    generator.set_state(torch.frombuffer(state, dtype=torch.uint8))
    return generator
