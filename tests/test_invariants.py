"""Accounting invariants of a run: stock-flow identity, money, people (baseline and random)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr
from _support import (
    MODEL_SETTINGS,
    SCENARIOS,
    START_STOCK,
    check_budget,
    check_people,
    check_region_county_consistent,
    check_stock_flow,
    small,
)
from hypothesis import given
from hypothesis import strategies as st

import povsim
from povsim.scenario import Scenario, load_scenario
from povsim.scenario.schema import BUILTIN_PATHWAYS

# --------------------------------------------------------------------------------------------
# the baseline
# --------------------------------------------------------------------------------------------


def test_stock_flow_identity_baseline(baseline_ds: xr.Dataset) -> None:
    """Every year, region and county: stock = last stock - exited + returned + new poor."""
    check_stock_flow(baseline_ds)


def test_counties_add_up_to_regions(baseline_ds: xr.Dataset) -> None:
    """County stocks and flows sum to the region ones."""
    check_region_county_consistent(baseline_ds)


def test_spending_within_money_available(baseline_ds: xr.Dataset, small_scenario: Scenario) -> None:
    """Spending per year and source (province and region) never exceeds what was available."""
    check_budget(baseline_ds, small_scenario)


def test_people_constant(baseline_ds: xr.Dataset) -> None:
    """The rural population is the same every year; the register stays within it."""
    check_people(baseline_ds)


def test_campaign_moves_the_stock(baseline_ds: xr.Dataset) -> None:
    """The flows are not trivially zero: people exit, and the stock ends below the start."""
    exited = float(baseline_ds["exited"].sum())
    assert exited > 0
    stock = baseline_ds["registered_poor"].sum("region")
    assert float(stock.isel(year=-1)) < float(stock.isel(year=0))


def test_check_stock_flow_detects_a_break(baseline_ds: xr.Dataset) -> None:
    """The identity check itself fails when one county's flow is off by one person."""
    broken = baseline_ds.copy(deep=True)
    broken["county_new_poor"][2, 5] += 1.0
    with pytest.raises(AssertionError, match="stock-flow identity"):
        check_stock_flow(broken)


def test_check_budget_detects_overspending(
    baseline_ds: xr.Dataset, small_scenario: Scenario
) -> None:
    """The money check itself fails when spending exceeds what was available."""
    broken = baseline_ds.copy(deep=True)
    avail = float(broken["available"][3, 0, 0])
    broken["spending"][3, 0, 0, 0] = avail + 1e6
    with pytest.raises(AssertionError, match="exceeds"):
        check_budget(broken, small_scenario)


def test_households_conserved_through_a_run(small_scenario: Scenario) -> None:
    """No household is lost or duplicated: rows, sizes and weighted people are unchanged."""
    model = povsim.PovertyModel(small_scenario)
    hh = model.households
    n0 = hh.n
    size0 = hh.size.copy()
    county0 = hh.county.copy()
    people0 = float(size0.astype(np.int64).sum()) * model.weight
    model.run(progress=False)
    assert hh.n == n0
    assert all(len(hh[name]) == n0 for name in hh.columns)
    np.testing.assert_array_equal(hh.size, size0)
    np.testing.assert_array_equal(hh.county, county0)
    assert float(hh.size.astype(np.int64).sum()) * model.weight == people0


@pytest.mark.parametrize("scale", [100, pytest.param(1, marks=pytest.mark.slow)],
                         ids=["scale100", "full_scale"])
def test_invariants_at_the_scenario_scale(scale: int) -> None:
    """The baseline at its own scale (1:100) and at full scale keeps every invariant."""
    scn = load_scenario(SCENARIOS / "baseline.yaml", overrides={"population.scale": scale})
    ds = povsim.run(scn)
    check_stock_flow(ds)
    check_region_county_consistent(ds)
    check_budget(ds, scn)
    check_people(ds)
    assert float(ds["registered_poor"].isel(year=0).sum()) == scale * round(START_STOCK / scale)


# --------------------------------------------------------------------------------------------
# random small scenarios
# --------------------------------------------------------------------------------------------

scenario_overrides = st.fixed_dictionaries(
    {
        "population.scale": st.integers(1500, 4000),
        "budget.scale": st.floats(0.0, 2.5, allow_nan=False),
        "budget.carry_over": st.booleans(),
        "lines.merge.year": st.sampled_from([None, 2015, 2016, 2017, 2018, 2019, 2020]),
        "budget.county_rule": st.sampled_from(["registered_poor", "equal", "poverty_gap"]),
        "plans.concentrate": st.booleans(),
        "plans.max_task_share": st.floats(0.05, 1.0, allow_nan=False),
        "population.county_heterogeneity.incidence_sigma": st.floats(0.0, 1.0, allow_nan=False),
        **{f"pathways.{p}.enabled": st.booleans() for p in BUILTIN_PATHWAYS},
    }
)


@MODEL_SETTINGS
@given(overrides=scenario_overrides, seed=st.integers(0, 2**31 - 1))
def test_invariants_hold_for_random_scenarios(overrides: dict[str, Any], seed: int) -> None:
    """Stock-flow identity, money and people invariants hold for random small scenarios."""
    scn = small(overrides)
    model = povsim.PovertyModel(scn, seed=seed)
    hh = model.households
    n0 = hh.n
    people0 = float(hh.size.astype(np.int64).sum()) * model.weight
    ds = model.run(progress=False)
    assert hh.n == n0
    assert float(hh.size.astype(np.int64).sum()) * model.weight == people0
    check_stock_flow(ds)
    check_region_county_consistent(ds)
    check_budget(ds, scn)
    check_people(ds)
    # a switched-off pathway spends nothing and serves nobody
    for p in BUILTIN_PATHWAYS:
        if not overrides[f"pathways.{p}.enabled"]:
            assert float(ds["spending"].sel(pathway=p).sum()) == 0.0, p
            assert float(ds["households_served"].sel(pathway=p).sum()) == 0.0, p
            assert (ds["binding_constraint"].sel(pathway=p) == 0).all(), p
    if overrides["budget.scale"] == 0.0:
        assert float(ds["spending"].sum()) == 0.0


# --------------------------------------------------------------------------------------------
# capacity
# --------------------------------------------------------------------------------------------


def test_capacity_used_when_households_wait(small_scenario: Scenario) -> None:
    """When more people wait for relocation than its yearly hard cap (the sourced plans), most
    of the cap is used (80 %), at 1:200 (the marginal site is bought in part and its households
    move with the probability of the share, so capacity is used in expectation at any scale
    that money allows)."""
    from povsim.scenario.schema import at

    cap = {2015: 100000.0, 2016: 332600.0, 2017: 330000.0, 2018: 340000.0, 2019: 178700.0}
    model = povsim.PovertyModel(small_scenario.with_overrides(
        {"population.scale": 200, "pathways.relocation.capacity": cap}))
    hh = model.households
    used: dict[int, tuple[float, float, float]] = {}
    while model.running:
        model.step()
        if model.month % 12 == 1:  # January has been planned
            served = model.run_state.plan.served["relocation"]
            waiting = model.run_state.plan.waiting["relocation"] & ~served
            moved = float(hh.size[served].sum()) * model.weight
            wait = float(hh.size[waiting].sum()) * model.weight
            used[model.year] = (moved, wait, at(cap, model.year))
    short = {y: v for y, v in used.items() if v[1] >= v[2] and v[0] < 0.8 * v[2]}
    assert not short, f"year: (persons moved, persons waiting, capacity) {short}"
