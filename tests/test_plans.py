"""County plans, non-identical counties, services for villages due to exit, and what held
every pathway back (issue 7, mechanisms 5 and 6): hand-computed cases of each rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import xarray as xr

from povsim.budget import BINDING, combine_binding, ration
from povsim.errors import DataError
from povsim.planning import county_plans, villages_due
from povsim.population.data import read_counties
from povsim.population.synthesis import MAX_COUNTY_INCIDENCE, county_totals

MONEY, CAPACITY, ELIGIBILITY, NOBODY = (BINDING.index(k) for k in
                                        ("money", "capacity", "eligibility", "nobody_left"))


def test_ration_says_what_bound_each_county() -> None:
    """One hand-computed county per reason (and one where money binds before capacity)."""
    county = np.array([0, 0, 0, 1, 1, 1, 2, 4, 4])
    cost = np.full(county.size, 10.0)
    money = np.array([25.0, 100.0, 100.0, 100.0, 15.0])
    capacity = np.array([np.inf, 2.0, np.inf, np.inf, 1.0])
    left = np.array([3.0, 0.0, 5.0, 0.0, 0.0])  # county 2: 5 registered, not eligible
    res = ration(county, cost, money, units=np.ones(county.size), capacity=capacity,
                 marginal_u=np.full(county.size, 0.5), left=left)
    # 0: 10+10 fit in 25, the third does not -> money; 1: 30 fit in 100, the capacity of 2
    # stops the third -> capacity; 2: everyone eligible paid, 5 not eligible -> eligibility;
    # 3: no items and nobody left; 4: the second item fails the money (20 > 15) first
    np.testing.assert_array_equal(res.share, [1, 1, 0, 1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(res.binding, [MONEY, CAPACITY, ELIGIBILITY, NOBODY, MONEY])
    assert res.binding.dtype == np.int8


def test_partial_ration_binds_on_money_or_nothing_left() -> None:
    """Services: money that runs out binds; everything built leaves nothing to build."""
    res = ration(np.array([0, 0, 1]), np.array([10.0, 10.0, 10.0]), np.array([15.0, 30.0]),
                 partial=True)
    np.testing.assert_allclose(res.share, [1.0, 0.5, 1.0])
    np.testing.assert_array_equal(res.binding, [MONEY, NOBODY])


def test_binding_combines_over_a_year() -> None:
    """A refusal by money or capacity in any round binds the year; else eligibility wins."""
    before = np.array([NOBODY, ELIGIBILITY, MONEY, NOBODY, 0])
    now = np.array([ELIGIBILITY, NOBODY, CAPACITY, CAPACITY, NOBODY])
    np.testing.assert_array_equal(combine_binding(before, now),
                                  [ELIGIBILITY, ELIGIBILITY, MONEY, CAPACITY, NOBODY])


def test_county_plan_hand_computed() -> None:
    """Four counties planning in 2015 for the 2020 deadline (3 % limit, 45,000 yuan/exit)."""
    out = county_plans(
        registered=np.array([10_000.0, 6_000.0, 2_000.0, 40_000.0]),
        people=np.full(4, 100_000.0),
        money=np.array([90e6, 0.0, 90e6, 9e9]),
        year=2015, max_incidence=0.03, deadline=2020, cost_per_exit=45_000.0,
        max_task_share=0.5)
    # 0: pace min(90e6/45e3 = 2000, 5000) = 2000; gap 10000 - 3000 = 7000 -> 4 years -> 2018;
    #    task max(7000/4 = 1750, 10000/6) = 1750
    # 1: no money, no pace: exit planned for the deadline, infeasible; task max(3000/6, 1000)
    # 2: pace min(2000, half of 2000); already below the limit: exits this year; task 2000/6
    # 3: money for 200,000 but capacity for half the register: pace 20000, gap 37000 ->
    #    2 years -> 2016; task 18500
    np.testing.assert_allclose(out["pace"], [2000, 0, 1000, 20_000])
    np.testing.assert_allclose(out["gap"], [7000, 3000, 0, 37_000])
    np.testing.assert_array_equal(out["exit_year"], [2018, 2020, 2015, 2016])
    np.testing.assert_array_equal(out["feasible"], [1, 0, 1, 1])
    np.testing.assert_allclose(out["task"], [1750, 1000, 2000 / 6, 18_500])


def test_county_plan_keeps_an_exit_and_tightens_near_the_deadline() -> None:
    """An exited county keeps its year; in 2020 the task is the whole register."""
    out = county_plans(np.array([900.0, 5_000.0]), np.array([100_000.0, 100_000.0]),
                       np.array([0.0, 1e9]), 2020, max_incidence=0.03, deadline=2020,
                       cost_per_exit=45_000.0, max_task_share=0.5,
                       exit_year=np.array([2017, -1]))
    np.testing.assert_array_equal(out["exit_year"], [2017, 2020])
    np.testing.assert_allclose(out["task"], [900, 5_000])


def test_villages_due_nearest_to_the_limit_first() -> None:
    """Per county, the lowest-incidence villages not yet out, until the county's count."""
    due = villages_due(
        village_county=np.array([0, 0, 0, 1, 1, 2]),
        remaining=np.array([1.0, 1.0, 1.0, 0.0, 1.0, 3.0]),
        incidence=np.array([0.05, 0.01, 0.20, 0.0, 0.5, 0.1]),
        n_due=np.array([2.0, 1.0, 0.0]))
    np.testing.assert_array_equal(due, [True, True, False, False, True, False])


def test_county_totals_hand_computed() -> None:
    """No spread: equal split; a sourced county keeps its figure; the incidence cap moves
    people."""
    z = np.zeros(3)
    people, reg = county_totals(300.0, 60.0, np.full(3, np.nan), z, z, 0.5, 0.5)
    np.testing.assert_allclose(people, [100, 100, 100])
    np.testing.assert_allclose(reg, [20, 20, 20])
    people, reg = county_totals(300.0, 60.0, np.array([30.0, np.nan, np.nan]), z, z, 0.0, 0.0)
    np.testing.assert_allclose(reg, [30, 15, 15])
    people, reg = county_totals(300.0, 120.0, np.array([90.0, np.nan, np.nan]), z, z, 0.0, 0.0)
    # 90 registered need 90 / 0.5 = 180 people; the other two give up 40 each
    np.testing.assert_allclose(people, [180, 60, 60])
    np.testing.assert_allclose(reg, [90, 15, 15])
    assert reg[0] / people[0] <= MAX_COUNTY_INCIDENCE


def test_counties_differ_within_a_region(small_scenario) -> None:
    """Counties of a region no longer share one population and one incidence."""
    from povsim.model import PovertyModel

    m = PovertyModel(small_scenario, seed=3)
    P = m.places
    reg = np.bincount(m.households.county, weights=m.households.size * m.households.registered,
                      minlength=P.n_counties) * m.weight
    yi = P.county_region == P.region_names.index("liangshan_yi")
    inc = reg[yi] / P.county_population[yi]
    assert np.ptp(P.county_population[yi]) > 0.2 * P.county_population[yi].mean()
    assert inc.max() > 1.5 * inc.min()


def test_counties_file_refuses_a_bad_registered_poor(tmp_path: Path) -> None:
    path = tmp_path / "counties.csv"
    path.write_text("county,prefecture,region,poor_county,registered_poor\n"
                    "甲县,甲州,qinba,1,many\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"counties.csv:2: registered_poor must be a number"):
        read_counties(path)


def test_counties_file_refuses_the_old_poverty_weight(tmp_path: Path) -> None:
    """The exit-batch weight is not silently ignored."""
    path = tmp_path / "counties.csv"
    path.write_text("county,prefecture,region,poor_county,poverty_weight\n"
                    "甲县,甲州,qinba,1,0.5\n", encoding="utf-8")
    with pytest.raises(DataError, match="poverty_weight is no longer read"):
        read_counties(path)


def test_services_build_first_for_villages_due(small_scenario) -> None:
    """Money for one road: the village due to exit (the lower incidence) gets it under the
    county plan; without the plans the higher-incidence village does."""
    from povsim.model import PovertyModel

    def build(concentrate: bool) -> tuple[np.ndarray, int, int]:
        m = PovertyModel(small_scenario.with_overrides({"plans.concentrate": concentrate}),
                         seed=3, checked=False)
        m.step()  # January: the plans exist
        run, P = m.run_state, m.places
        hh = m.households
        c = int(np.flatnonzero(P.county_poor)[0])
        vs = np.flatnonzero(P.village_county == c)[:2]
        P.village_poor[vs] = True  # two poor villages in the county
        reg = np.bincount(hh.village, weights=hh.size * hh.registered, minlength=P.n_villages)
        inc = reg[vs] / np.maximum(run.place.village_population[vs], 1.0)
        low, high = (vs[0], vs[1]) if inc[0] < inc[1] else (vs[1], vs[0])
        assert inc.min() < inc.max()
        for name in P.services:
            P.services[name][:] = 1.0
        P.services["road"][[low, high]] = 0.0
        run.plan.village_due = np.zeros(P.n_villages, dtype=bool)
        run.plan.village_due[low] = True
        led = run.ledger
        s_idx = led.pathway_index("services")
        led.spent[:, s_idx, :] = led.envelope[:, s_idx, :]  # nothing left anywhere ...
        road = small_scenario.services.items["road"].unit_cost * P.village_weight[low]
        k = int(np.flatnonzero(led.envelope[c, s_idx, :] > 0)[0])
        led.envelope[c, s_idx, k] = led.spent[c, s_idx, k] + road  # ... but one road in c
        run.call(m.services, "build")
        return P.services["road"].copy(), low, high

    road, low, high = build(True)
    assert road[low] == 1.0 and road[high] == 0.0
    road, low, high = build(False)
    assert road[high] > 0.0 and road[low] < 1.0  # the higher incidence is paid first


def test_binding_constraint_in_every_run(baseline_ds: xr.Dataset) -> None:
    """Every run records what held each pathway back, per county and year, as flag codes."""
    b = baseline_ds["binding_constraint"]
    assert b.dims == ("year", "pathway", "county")
    assert b.dtype == np.int8
    assert b.attrs["flag_meanings"].split() == list(BINDING)
    assert list(b.attrs["flag_values"]) == list(range(len(BINDING)))
    assert "services" in list(b["pathway"].values)
    assert (b.isel(year=0) == 0).all()
    sim = b.isel(year=slice(1, None))
    assert set(np.unique(sim.values)) <= set(range(len(BINDING)))
    assert (sim.sel(pathway="dibao") > 0).all()
    for name in ("county_task", "county_planned_exit_year", "county_villages_due",
                 "county_task_met", "county_plan_feasible"):
        assert baseline_ds[name].dims == ("year", "county")
        assert "units" in baseline_ds[name].attrs


def test_bought_capacity_says_money_or_cap() -> None:
    """Places money buys (povsim.budget.buy): the tighter of money and hard cap binds."""
    from povsim.budget import buy

    county = np.array([0, 0, 1, 1, 2])
    cost = np.full(5, 10.0)
    # 0: money for 1.5 items, cap 5 -> money; 1: money for 2, cap 1 -> capacity;
    # 2: everything bought, 2 registered households not eligible -> eligibility
    res = buy(county, cost, np.array([15.0, 20.0, 10.0]), units=np.ones(5),
              hard_cap=np.array([5.0, 1.0, np.inf]), left=np.array([0.0, 0.0, 2.0]))
    np.testing.assert_allclose(res.share, [1.0, 0.5, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(res.binding, [MONEY, CAPACITY, ELIGIBILITY])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), use_due=st.booleans(),
       first=st.booleans(), many=st.booleans())
def test_concentrate_is_the_lexsort_of_its_keys(seed: int, n: int, use_due: bool, first: bool,
                                                many: bool) -> None:
    """``concentrate`` gives ``np.lexsort((~covered, ~due, county))`` (radix-sorted as one
    small integer, or a wider one for more than 8,192 counties)."""
    from types import SimpleNamespace

    from povsim.planning import concentrate

    rng = np.random.default_rng(seed)
    n_counties = 20_000 if many else 30
    county = np.sort(rng.integers(0, n_counties, n))
    village = np.arange(n)
    due = rng.random(n) < 0.3
    covered = rng.random(n) < 0.5
    run = SimpleNamespace(households=SimpleNamespace(county=county, village=village),
                          plan=SimpleNamespace(village_due=due),
                          params=SimpleNamespace(plans=SimpleNamespace(concentrate=use_due)),
                          forces={"covered": covered, "enrol_first": first})
    idx = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    keys = ([~covered[idx]] if first else []) + ([~due[idx]] if use_due else [])
    want = np.lexsort((*keys, county[idx])) if keys else np.arange(idx.size)
    np.testing.assert_array_equal(concentrate(run, idx), want)
