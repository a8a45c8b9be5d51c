"""Random streams: ``Streams.get_many`` and ``seed_states`` equal numpy's SeedSequence."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from povsim.rng import Streams, seed_states

_int = st.one_of(st.integers(0, 5), st.integers(0, 2**32 - 1), st.integers(0, 2**70))


@settings(max_examples=60, deadline=None)
@given(seed=_int, keys=st.lists(st.lists(_int, min_size=0, max_size=4), min_size=1, max_size=8))
def test_seed_states_equal_numpys_seed_sequence(seed: int, keys: list[list[int]]) -> None:
    got = seed_states(seed, keys)
    for row, k in zip(got, keys):
        want = np.random.SeedSequence(entropy=seed, spawn_key=tuple(k)).generate_state(
            4, np.uint64)
        np.testing.assert_array_equal(row, want)


@settings(max_examples=40, deadline=None)
@given(seed=_int, width=st.integers(1, 4), n=st.integers(1, 12), data=st.data())
def test_seed_states_of_equal_length_32_bit_keys(seed: int, width: int, n: int,
                                                  data: st.DataObject) -> None:
    """The array path (every key a 32-bit word, all of one length) equals numpy's too."""
    word = st.one_of(st.integers(0, 3), st.integers(0, 2**32 - 1))
    keys = data.draw(st.lists(st.lists(word, min_size=width, max_size=width),
                              min_size=n, max_size=n))
    got = seed_states(seed, keys)
    assert got.shape == (n, 4) and got.dtype == np.uint64
    for row, k in zip(got, keys):
        want = np.random.SeedSequence(entropy=seed, spawn_key=tuple(k)).generate_state(
            4, np.uint64)
        np.testing.assert_array_equal(row, want)


@settings(max_examples=30, deadline=None)
@given(seed=_int, keys=st.lists(st.lists(st.integers(0, 2**40), min_size=0, max_size=3),
                                min_size=0, max_size=6))
def test_get_many_gives_the_generators_of_get(seed: int, keys: list[list[int]]) -> None:
    s = Streams(seed)
    many = s.get_many("population.income", keys)
    assert len(many) == len(keys)
    for g, k in zip(many, keys):
        ref = s.get("population.income", *k)
        assert g.bit_generator.state == ref.bit_generator.state
        np.testing.assert_array_equal(g.standard_normal(5), ref.standard_normal(5))


def test_negative_keys_are_refused_as_by_get() -> None:
    import pytest

    with pytest.raises(ValueError, match="non-negative"):
        Streams(1).get_many("x", [(1, -2)])
