"""Dynamic management (seed (四) 动态化管理): households found at a year-end review are
registered the next January and served that year (``exits.household.intake``); the register's
stock-flow identity holds with the floor and the monitoring of exited households."""

from __future__ import annotations

from typing import Any

import numpy as np
from _support import MODEL_SETTINGS, check_budget, check_stock_flow, small
from hypothesis import given
from hypothesis import strategies as st

import povsim


def _year(model: povsim.PovertyModel) -> None:
    for _ in range(12):
        model.step()


def test_found_households_are_registered_next_january() -> None:
    """intake next_year: the households found at the end of 2015 are off the register in the
    2015 stock, registered in January 2016 (before planning, so the pathways can serve them),
    and they are the returns and new poor of 2016; 2015 records no inflow."""
    model = povsim.PovertyModel(small({"budget.scale": 1.0}))
    hh = model.households
    _year(model)
    found = model.run_state.found
    new = found["new_poor"]
    assert new.sum() >= 5, "too few new poor to test"
    assert not hh.registered[new].any()
    assert not (model.run_state.flows["new_poor"].any() or model.run_state.flows["returned"].any())
    model.step()  # January 2016
    assert hh.registered[new].all()
    assert (hh.registered_year[new] == 2016).all()
    # planned for in January 2016: some of them are served by a pathway this year
    served = np.zeros(hh.n, dtype=bool)
    for mask in model.run_state.plan.served.values():
        served |= mask
    assert served[new].any()
    for _ in range(11):
        model.step()
    np.testing.assert_array_equal(model.run_state.flows["new_poor"], new)
    ds = model.results()
    people = float((hh.size * new).sum()) * model.weight
    assert float(ds["new_poor"].sel(year=2016).sum()) == people
    assert float(ds["new_poor"].sel(year=2015).sum()) == 0.0


def test_the_finds_of_a_review_are_recorded_in_its_year() -> None:
    """found_at_review of a year is the next year's returns and new poor; the finds of the
    calendar's last review (registered in a January the run never reaches) are recorded too."""
    ds = povsim.run(small({"budget.scale": 1.0}), progress=False)
    found = ds["found_at_review"].sum("region")
    inflow = (ds["returned"] + ds["new_poor"]).sum("region")
    years = ds.year.values
    for y in years[1:-1]:
        assert float(found.sel(year=y)) == float(inflow.sel(year=y + 1))
    assert float(found.sel(year=years[-1])) > 0
    np.testing.assert_allclose(ds["county_found_at_review"].sum("county"), found)
    model = povsim.PovertyModel(small({"exits.household.intake": "year_end"}))
    _year(model)
    assert float(model.results()["found_at_review"].sel(year=2015).sum()) == 0.0


def test_year_end_intake_registers_at_once() -> None:
    """intake year_end: the households found at the end of 2015 are in the 2015 stock and its
    flows, as before dynamic management."""
    model = povsim.PovertyModel(small({"exits.household.intake": "year_end"}))
    hh = model.households
    _year(model)
    new = model.run_state.flows["new_poor"]
    assert new.sum() >= 5
    assert hh.registered[new].all()
    assert (hh.registered_year[new] == 2015).all()
    assert model.run_state.found == {}


def test_found_households_are_not_omissions() -> None:
    """Households found at the review and awaiting registration do not count as omitted in the
    county assessment: with the next-year intake the omission rates are not higher than what
    counting them would give."""
    model = povsim.PovertyModel(small())
    _year(model)
    run = model.run_state
    hh = model.households
    found = run.found["new_poor"] | run.found["returned"]
    poor = hh.pc_income < model.poverty_line - 0.5
    rate = run.place.county_stats["omission_rate"]
    with_found = np.bincount(hh.county, weights=hh.size * (poor & ~hh.registered),
                             minlength=model.places.n_counties) * model.weight
    with_found /= np.maximum(run.place.county_people, 1.0)
    c = np.unique(hh.county[found])
    assert c.size > 0
    assert (rate[c] < with_found[c]).all()


dynamic_overrides = st.fixed_dictionaries(
    {
        "population.scale": st.integers(1500, 4000),
        "budget.scale": st.floats(0.0, 2.5, allow_nan=False),
        "exits.household.intake": st.sampled_from(["next_year", "year_end"]),
        "exits.household.return_detection_rate": st.floats(0.0, 1.0),
        "population.targeting.identification_rate": st.floats(0.0, 0.5),
        "pathways.dibao.settle_months": st.sampled_from([None, 1, 2, 3, 4, 6, 12]),
        "pathways.dibao.floor_margin": st.floats(0.0, 0.5),
        "pathways.dibao.covers_medical": st.booleans(),
        "pathways.dibao.monitor_from": st.sampled_from([None, 2015, 2017, 2020]),
        "pathways.dibao.monitor_band": st.floats(0.0, 2.0),
        "pathways.dibao.monitor_years": st.sampled_from([None, 1, 2, 4]),
    }
)


@MODEL_SETTINGS
@given(overrides=dynamic_overrides, seed=st.integers(0, 2**31 - 1))
def test_stock_flow_identity_with_dynamic_management(overrides: dict[str, Any],
                                                      seed: int) -> None:
    """stock_t = stock_{t-1} - exited + returned + new poor, exactly, in every year, region and
    county, whatever the intake, floor and monitoring settings; money stays within what is
    available."""
    scn = small(overrides)
    ds = povsim.run(scn, seed=seed)
    check_stock_flow(ds)
    check_budget(ds, scn)
