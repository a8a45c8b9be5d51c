"""The synthetic population: exact starting stock, consistent composition and places."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from _support import MODEL_SETTINGS, SCENARIOS, START_STOCK, baseline_small
from hypothesis import given, settings
from hypothesis import strategies as st

from povsim.population.synthesis import SyntheticPopulation, synthesize
from povsim.rng import Streams
from povsim.scenario import Scenario, load_scenario


@lru_cache(maxsize=1)
def _baseline() -> Scenario:
    return load_scenario(SCENARIOS / "baseline.yaml")


def population(scale: int, seed: int = 7, **overrides: object) -> SyntheticPopulation:
    """The baseline's population at ``scale`` (only the population is built, no model)."""
    scn = _baseline().with_overrides({"population.scale": scale, **overrides})
    return synthesize(scn, Streams(seed), SCENARIOS)


def registered_people(pop: SyntheticPopulation) -> int:
    """Weighted registered people of a population (persons)."""
    hh = pop.households
    return int((hh.size.astype(np.int64) * hh.registered).sum()) * pop.scale


def expected_stock(scale: int) -> int:
    """What the register must hold at ``scale``: scale × round(4,976,500 / scale)."""
    return scale * round(START_STOCK / scale)


@pytest.mark.parametrize("scale", [10, 100, 500, 1000, 1500])
def test_starting_stock_exact(scale: int) -> None:
    """At scale K the weighted registered total is K × round(4,976,500 / K)."""
    assert registered_people(population(scale)) == expected_stock(scale)


@pytest.mark.slow
def test_starting_stock_exact_full_scale() -> None:
    """At scale 1 (about 7.7 million households) the register holds exactly 4,976,500."""
    assert registered_people(population(1)) == START_STOCK




@pytest.mark.parametrize(
    ("scale", "seed"),
    [(2000, 7), (5000, 7), (868, 1486393352), (981, 186776492)],
)
def test_starting_stock_exact_coarse(scale: int, seed: int) -> None:
    """At coarse scales too the weighted registered total is K × round(4,976,500 / K)."""
    assert registered_people(population(scale, seed)) == expected_stock(scale)


@settings(MODEL_SETTINGS, max_examples=10)
@given(scale=st.integers(20, 5000), seed=st.integers(0, 2**31 - 1))
def test_starting_stock_exact_any_seed(scale: int, seed: int) -> None:
    """For any seed and a scale from 1:20 to 1:5000 the register is exactly
    K × round(4,976,500 / K)."""
    assert registered_people(population(scale, seed)) == expected_stock(scale)


def test_registered_poor_setting_scales_the_register() -> None:
    """``population.registered_poor`` sets the starting stock (here half of it)."""
    pop = population(100, **{"population.registered_poor": START_STOCK // 2})
    assert registered_people(pop) == 100 * round((START_STOCK // 2) / 100)


def test_composition_consistent() -> None:
    """Sizes 1-10; workers, elderly and children fit in the household; flags are booleans."""
    hh = population(500).households
    size = hh.size.astype(int)
    assert size.min() >= 1 and size.max() <= 10
    for name in ("n_labour", "n_elderly", "n_children", "n_disabled", "n_chronic"):
        assert hh[name].min() >= 0, name
    assert np.all(hh.n_labour + hh.n_elderly + hh.n_children <= size)
    assert np.all(hh.n_disabled <= size) and np.all(hh.n_chronic <= size)
    assert np.all(hh.initial_pc_income > 0)
    # registered households all have a cause; the others none
    assert np.all((hh.cause >= 0) == hh.registered)


def test_rows_sorted_by_county_and_village() -> None:
    """Counties and villages are contiguous row slices that agree with the places table."""
    pop = population(500)
    hh, P = pop.households, pop.places
    assert np.all(np.diff(hh.county.astype(int)) >= 0)
    assert np.all(np.diff(hh.village.astype(int)) >= 0)
    for c in range(P.n_counties):
        sl = P.county_slice(c)
        assert np.all(hh.county[sl] == c)
    starts, stops = P.village_start, P.village_stop
    assert starts[0] == 0 and stops[-1] == hh.n
    np.testing.assert_array_equal(starts[1:], stops[:-1])
    # each household's village belongs to its county
    np.testing.assert_array_equal(P.village_county[hh.village], hh.county)
    assert np.all(hh.region == P.county_region[hh.county])


def test_places_totals() -> None:
    """88 poor counties and about 11,501 poor villages (weighted)."""
    P = population(100).places
    assert int(P.county_poor.sum()) == 88
    villages = float((P.village_weight * P.village_poor).sum())
    assert abs(villages - 11_501) <= 0.01 * 11_501


def test_population_deterministic_and_seeded() -> None:
    """The same seed builds the same households; another seed builds others."""
    a, b, c = population(2000, 7), population(2000, 7), population(2000, 8)
    for name in a.households.columns:
        np.testing.assert_array_equal(a.households[name], b.households[name], err_msg=name)
    assert a.households.n != c.households.n or not np.array_equal(
        a.households.initial_pc_income, c.households.initial_pc_income)


def test_population_drawn_in_threads_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large populations are drawn block by block in several threads: the table is the same
    as one thread's, whatever order the blocks finish in."""
    import threading

    from povsim.population import synthesis

    monkeypatch.setattr(synthesis, "CACHE_BYTES", 0)  # build both, never hand back a copy
    monkeypatch.setattr(synthesis, "_BLOCK_ROWS", 256)  # many blocks in a small population
    drawn_in: set[str] = set()
    draw = synthesis._draw_group

    def recording(*args: object) -> dict:
        drawn_in.add(threading.current_thread().name)
        return draw(*args)

    monkeypatch.setattr(synthesis, "_draw_group", recording)
    monkeypatch.setattr(synthesis, "_synthesis_threads", lambda n: 1)
    one = population(200, 11)
    assert drawn_in == {threading.current_thread().name}
    drawn_in.clear()
    monkeypatch.setattr(synthesis, "_synthesis_threads", lambda n: 3)
    three = population(200, 11)
    assert len(drawn_in) > 1 and all(t.startswith("povsim-population") for t in drawn_in)
    assert one.households.n == three.households.n > 20 * 256
    for name in one.households.columns:
        np.testing.assert_array_equal(one.households[name], three.households[name],
                                      err_msg=name)

    def failing(*args: object) -> dict:
        if args[1].key == (5, 0):
            raise ValueError("group (5, 0) failed")
        return draw(*args)

    monkeypatch.setattr(synthesis, "_draw_group", failing)
    with pytest.raises(ValueError, match=r"group \(5, 0\) failed"):
        population(200, 11)  # a block's error reaches the caller; later blocks are cancelled
    monkeypatch.undo()
    assert synthesis._synthesis_threads(synthesis.THREADED_FROM - 1) == 1
    assert synthesis._synthesis_threads(synthesis.THREADED_FROM) >= 1


def test_policy_does_not_change_population() -> None:
    """Budget and pathway settings leave the synthetic population unchanged (common random
    numbers)."""
    a = population(2000)
    b = population(2000, **{"budget.scale": 0.3, "pathways.dibao.enabled": False})
    for name in a.households.columns:
        np.testing.assert_array_equal(a.households[name], b.households[name], err_msg=name)


def test_model_start_matches_population(small_scenario: Scenario) -> None:
    """The first year of a run records the population's starting register."""
    from _support import run_small

    pop = synthesize(baseline_small(), Streams(small_scenario.seed), SCENARIOS)
    ds = run_small()
    assert float(ds["registered_poor"].isel(year=0).sum()) == registered_people(pop)


def test_population_cache_hands_out_independent_identical_copies() -> None:
    """A cached population equals a fresh synthesis and a run changing its copy changes no other."""
    from povsim.population import synthesis

    scn = _baseline().with_overrides({"population.scale": 2000})
    synthesis._CACHE.clear()
    first = synthesize(scn, Streams(11), SCENARIOS)
    assert len(synthesis._CACHE) == 1
    first.households.wage_base[:] = -1.0  # a run changes its table in place
    first.places.county_population[:] = -1.0
    second = synthesize(scn, Streams(11), SCENARIOS)  # from the cache
    synthesis._CACHE.clear()
    fresh = synthesize(scn, Streams(11), SCENARIOS)  # synthesised again
    for name in fresh.households.columns:
        assert np.array_equal(second.households[name], fresh.households[name]), name
    assert np.array_equal(second.places.county_population, fresh.places.county_population)
    assert second.households.wage_base.min() >= 0
    # another seed or another population section is another population
    other = synthesize(scn, Streams(12), SCENARIOS)
    assert len(synthesis._CACHE) == 2
    assert not np.array_equal(other.households.size, fresh.households.size)
