"""Random streams: one root seed, one named child stream per stochastic process.

povsim never uses a global or unseeded generator. A run has one root seed; every stochastic
process asks :class:`Streams` for a generator by a stable *name* plus integer *keys* (the month,
the county, ...). The generator for ``("illness", month=17)`` depends only on the root seed, the
name and the keys — not on what else was drawn before, nor on the scenario. That is what gives
common random numbers: in two scenarios run with the same seed, household ``i`` meets the same
uniform draw for the same purpose in the same month, so a difference between the two runs is the
policy, not the noise.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Streams", "replicate_seed", "seed_states", "stream_key"]

# numpy's SeedSequence constants (numpy/random/bit_generator.pyx, after M. E. O'Neill's
# seed_seq): the hash of the entropy into the pool and of the pool into the generated state
_INIT_A, _MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_INIT_B, _MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_POOL = 4
_MASK32 = 0xFFFFFFFF


def stream_key(name: str) -> int:
    """Stable 32-bit integer for a stream name (CRC-32 of its UTF-8 bytes).

    Parameters
    ----------
    name
        The stream's name (``"illness"``, ``"population.income"``, ...).

    Returns
    -------
    int
        The key, the same on every machine and Python version.
    """
    return zlib.crc32(name.encode("utf-8")) & 0xFFFFFFFF


class Streams:
    """Factory of named, keyed, independent random generators under one root seed.

    Parameters
    ----------
    seed
        The run's root seed (a non-negative integer).

    Examples
    --------
    >>> s = Streams(7)
    >>> a = s.get("illness", 3).random(2)
    >>> b = Streams(7).get("illness", 3).random(2)
    >>> bool((a == b).all())
    True
    """

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)

    def seed_sequence(self, name: str, *keys: int) -> np.random.SeedSequence:
        """The :class:`numpy.random.SeedSequence` behind ``get(name, *keys)``."""
        spawn_key = (stream_key(name),) + tuple(int(k) for k in keys)
        return np.random.SeedSequence(entropy=self.seed, spawn_key=spawn_key)

    def get(self, name: str, *keys: int) -> np.random.Generator:
        """A fresh generator for process ``name`` at ``keys`` (same arguments → same draws)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name, *keys)))

    def get_many(self, name: str, keys: Sequence[Sequence[int]]) -> list[np.random.Generator]:
        """``[get(name, *k) for k in keys]``, the same generators, made together.

        Making a generator costs ~11 µs, nearly all of it in :class:`numpy.random.SeedSequence`
        (a population of 322 village groups makes 1,610); here the seed hashing of all of them
        is one vectorised computation (:func:`seed_states`) and each generator costs ~1 µs.

        Parameters
        ----------
        name
            The stream's name.
        keys
            One tuple of non-negative integer keys per generator.
        """
        key = stream_key(name)
        states = seed_states(self.seed, [(key,) + tuple(int(k) for k in ks) for ks in keys])
        return [np.random.Generator(np.random.PCG64(_Seeded(st))) for st in states]


class _Seeded(np.random.bit_generator.ISeedSequence):
    """The state :class:`numpy.random.SeedSequence` would generate for a PCG64, given."""

    __slots__ = ("_state",)

    def __init__(self, state: np.ndarray) -> None:
        self._state = state

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != self._state.size or np.dtype(dtype) != np.uint64:
            raise ValueError(f"a precomputed seed gives {self._state.size} 64-bit words only")
        return self._state


def _uint32_words(n: int) -> list[int]:
    """An integer's 32-bit words, least significant first (``0`` is one word), as numpy's
    ``SeedSequence`` reads an integer."""
    if n < 0:
        raise ValueError(f"seed keys must be non-negative, got {n}")
    words = [n & _MASK32]
    n >>= 32
    while n:
        words.append(n & _MASK32)
        n >>= 32
    return words


def seed_states(entropy: int, spawn_keys: Sequence[Sequence[int]],
                n_words: int = 4) -> np.ndarray:
    """``SeedSequence(entropy, spawn_key=k).generate_state(n_words, np.uint32)`` for every
    ``k`` at once, viewed as ``uint64`` pairs (what :class:`numpy.random.PCG64` is seeded with).

    numpy's algorithm, vectorised over the spawn keys: its hash constants evolve the same way
    for every key, so each step is one operation on a column of words. The result equals
    numpy's bit for bit (the tests compare them).

    Parameters
    ----------
    entropy
        The root seed (a non-negative integer).
    spawn_keys
        Spawn keys of non-negative integers; keys taking the same number of 32-bit words are
        hashed together.
    n_words
        ``uint64`` words per state.

    Returns
    -------
    numpy.ndarray
        ``uint64``, shape ``(len(spawn_keys), n_words)``.
    """
    run = _uint32_words(int(entropy))
    head = run + [0] * (_POOL - len(run))
    try:
        keys = np.array(spawn_keys, dtype=np.int64)
    except (ValueError, OverflowError, TypeError):  # ragged, or a key beyond int64
        keys = None
    if (keys is not None and keys.ndim == 2 and keys.size and keys.min() >= 0
            and keys.max() <= _MASK32):
        # the usual case (the same number of keys, each one 32-bit word): one array, no
        # Python loop over the keys (a population makes 1,610 generators)
        ent = np.empty((keys.shape[0], len(head) + keys.shape[1]), dtype=np.uint32)
        ent[:, : len(head)] = head
        ent[:, len(head):] = keys
        with np.errstate(over="ignore"):
            return _hash(ent, 2 * n_words).astype("<u4").view("<u8")
    rows = [head + [w for k in ks for w in _uint32_words(int(k))]
            for ks in spawn_keys]
    out = np.empty((len(rows), n_words), dtype=np.uint64)
    by_len: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_len.setdefault(len(r), []).append(i)
    with np.errstate(over="ignore"):
        for idx in by_len.values():
            ent = np.array([rows[i] for i in idx], dtype=np.uint32)
            out[idx] = _hash(ent, 2 * n_words).astype("<u4").view("<u8")
    return out


def _hash(entropy: np.ndarray, n_words: int) -> np.ndarray:
    """numpy's ``SeedSequence.mix_entropy`` then ``generate_state``, one key per row."""
    h = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal h
        value = value ^ h
        h = h * _MULT_A
        value = value * h
        return value ^ (value >> np.uint32(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = _MIX_L * x - _MIX_R * y
        return r ^ (r >> np.uint32(16))

    n, m = entropy.shape
    pool = [hashmix(entropy[:, i]) if i < m else hashmix(np.zeros(n, dtype=np.uint32))
            for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, m):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[:, src]))
    state = np.empty((n, n_words), dtype=np.uint32)
    hb = _INIT_B
    for i in range(n_words):
        v = pool[i % _POOL] ^ hb
        hb = hb * _MULT_B
        v = v * hb
        state[:, i] = v ^ (v >> np.uint32(16))
    return state


def replicate_seed(root_seed: int, replicate: int, experiment: int | None = None) -> int:
    """Seed of one replicate, derived from a root seed.

    With ``experiment=None`` (the default, common random numbers) every experiment of a sweep or
    comparison gets the same seed for the same replicate; pass the experiment index to make runs
    independent across experiments instead.

    Parameters
    ----------
    root_seed
        The ensemble's root seed (by default the scenario's ``seed``).
    replicate
        Replicate number, from 0.
    experiment
        Index of the experiment, only to give up common random numbers.

    Returns
    -------
    int
        A non-negative 63-bit seed for :func:`povsim.run`.
    """
    keys = (int(replicate),) if experiment is None else (int(replicate), int(experiment))
    ss = np.random.SeedSequence(entropy=int(root_seed), spawn_key=(stream_key("replicate"),) + keys)
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
