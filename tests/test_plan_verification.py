"""Exits verified against the county's plan (seed (三) 分年度制定到村到户的扶贫脱贫计划, (二十三)).

A county declares out at most its task (plus ``plans.task_slack``) of the households that pass
the exit test, the highest incomes first (:func:`povsim.exits.within_task`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import povsim
from povsim.exits import within_task

ROOT = Path(__file__).resolve().parents[1]


def test_within_task_hand_computed() -> None:
    # county 0: four passing households of 3, 2, 4, 1 persons with incomes 5000, 7000, 6000,
    # 4000; cap 5 people at weight 1 -> richest first: 7000 (2 people, 0 before), 6000 (4
    # people, 2 before < 5), 5000 (3, 6 before >= 5: stays), 4000 stays. County 1: cap 0.
    # Household 4 does not pass the test and never exits.
    county = np.array([0, 0, 0, 0, 0, 1, 1])
    size = np.array([3, 2, 4, 1, 5, 2, 2], dtype=np.int8)
    pc = np.array([5000, 7000, 6000, 4000, 9000, 8000, 3000], dtype=np.float64)
    passing = np.array([True, True, True, True, False, True, True])
    out = within_task(county, size, pc, passing, np.array([5.0, 0.0]), 1.0)
    assert out.tolist() == [False, True, True, False, False, False, False]
    # at 1:100 each household stands for 100 real ones: a cap of 250 real people takes 7000
    # (200 people, 0 before) and 6000 (400 people, 200 before < 250), then stops (600 before):
    # 600 people, one household over the cap; county 1's cap is not reached
    out = within_task(county, size, pc, passing, np.array([250.0, 1e9]), 100.0)
    assert out.tolist() == [False, True, True, False, False, True, True]


def test_plans_cap_the_exits_of_each_county() -> None:
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        {"population.scale": 2000, "calendar.end_year": 2016})
    on = povsim.run(scn, progress=False)
    off = povsim.run(scn.with_overrides({"plans.verify_within_task": False}), progress=False)
    slack = scn.plans.task_slack
    for year in (2015, 2016):
        ex = on["county_exited"].sel(year=year) - on["county_exited_by_review"].sel(year=year)
        cap = on["county_task"].sel(year=year) * (1 + slack)
        # at most one simulated household (<= 2000 x the largest household) over the cap
        assert bool((ex <= cap + 2000 * 12).all())
    # the cap binds in 2015 (the households over it wait for the next verification)
    assert float(on["exited"].sel(year=2015).sum()) < float(off["exited"].sel(year=2015).sum())


def test_task_slack_and_base_year_costs_act() -> None:
    """Both new settings change what a user sees: a larger slack lets more people out in 2015
    (the cap binds then); the base-year costs scale the market base by (1 + costs) exactly."""
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        {"population.scale": 2000, "calendar.end_year": 2016})
    tight = povsim.run(scn.with_overrides({"plans.task_slack": 0.0}), progress=False)
    loose = povsim.run(scn.with_overrides({"plans.task_slack": 1.0}), progress=False)
    assert float(loose["exited"].sel(year=2015).sum()) > float(
        tight["exited"].sel(year=2015).sum())
    a = povsim.PovertyModel(scn.with_overrides({"population.composition.base_year_costs": 0.0}))
    b = povsim.PovertyModel(scn.with_overrides({"population.composition.base_year_costs": 0.1}))
    np.testing.assert_allclose(b.households.wage_base, a.households.wage_base * 1.1, rtol=1e-6)
    np.testing.assert_allclose(b.households.farm_base, a.households.farm_base * 1.1, rtol=1e-6)
    np.testing.assert_array_equal(b.households.registered, a.households.registered)
