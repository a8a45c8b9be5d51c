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

import numpy as np

__all__ = ["Streams", "replicate_seed", "stream_key"]


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
