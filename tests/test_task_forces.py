"""Village task forces true to seed (二十六), (四) (src/povsim/pathways/task_forces.py, their
effect in src/povsim/exits.py and src/povsim/planning.py, their money in
src/povsim/budget/sources.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from _support import small

import povsim
from povsim.budget import county_split
from povsim.pathways.task_forces import staff_villages
from povsim.planning import concentrate

#: seed (二十六): 全省11501个贫困村每个村至少有1个驻村帮扶工作组
POOR_VILLAGES = 11501


def _model(overrides: dict | None = None, seed: int = 3) -> povsim.PovertyModel:
    return povsim.PovertyModel(small(overrides), seed=seed)


def _year(model: povsim.PovertyModel) -> None:
    for _ in range(12):
        model.step()


# --------------------------------------------------------------------------------------------
# the rules, by hand
# --------------------------------------------------------------------------------------------
def test_staffing_rule_by_hand() -> None:
    """Highest incidence first within each county; the first village money does not cover is
    staffed in part; a simulated village standing for several real ones holds a share."""
    village_county = np.array([0, 0, 0, 1])
    need = np.array([1.0, 1.0, 0.0, 2.0])  # village 3 stands for 4 real villages, 2 not exited
    incidence = np.array([0.1, 0.3, 0.5, 0.2])
    weight = np.array([1.0, 1.0, 1.0, 4.0])
    staffed, spent, _ = staff_villages(village_county, need, incidence, weight, 100.0,
                                       np.array([150.0, 100.0]))
    # county 0: village 1 (incidence 0.3) paid 100, village 0 gets the 50 left: half a force;
    # village 2 needs none. County 1: 100 of the 200 needed for its 2 real villages: one force,
    # a quarter of the 4 real villages the simulated one stands for
    np.testing.assert_allclose(staffed, [0.5, 1.0, 0.0, 0.25])
    np.testing.assert_allclose(spent, [150.0, 100.0])


def test_money_follows_the_poor_villages() -> None:
    """The ``poor_villages`` county rule splits a source by the designated poor villages."""
    share = county_split("poor_villages", np.array([100.0, 0.0, 50.0]), np.zeros(3),
                         np.array([True, False, True]), 0.5, np.array([3.0, 1.0, 0.0]))
    np.testing.assert_allclose(share, [0.75, 0.25, 0.0])


def test_force_villages_are_served_next_after_villages_due() -> None:
    """Within each county: the villages due to exit first, then households with a force."""
    hh = SimpleNamespace(county=np.array([0, 0, 0, 1, 1, 1]), village=np.arange(6))
    covered = np.array([False, True, False, False, False, True])
    due = np.zeros(6, dtype=bool)
    due[2] = True
    run = SimpleNamespace(households=hh, plan=SimpleNamespace(village_due=due),
                          params=SimpleNamespace(plans=SimpleNamespace(concentrate=True)),
                          forces={"covered": covered, "enrol_first": True})
    idx = np.arange(6)
    assert concentrate(run, idx).tolist() == [2, 1, 0, 5, 3, 4]
    run.forces["enrol_first"] = False
    assert concentrate(run, idx).tolist() == [2, 0, 1, 3, 4, 5]


# --------------------------------------------------------------------------------------------
# staffing, money and withdrawal in a run
# --------------------------------------------------------------------------------------------
def test_every_poor_village_has_a_force_and_its_cost_is_spent() -> None:
    """At the default money every poor village is staffed in 2015 (全覆盖), at its cost."""
    m = _model()
    m.step()
    tf = m.pathways["task_forces"]
    P = m.places
    assert float((tf.staffed * P.village_weight).sum()) == pytest.approx(POOR_VILLAGES)
    assert sum(a.staffed for a in m.task_forces) == pytest.approx(POOR_VILLAGES)
    cost = 4.4 * 30_000 + 20_000
    spent = m.ledger.spent[:, m.ledger.pathway_index("task_forces")].sum()
    assert spent == pytest.approx(POOR_VILLAGES * cost)
    assert sum(a.cadres for a in m.task_forces) == pytest.approx(POOR_VILLAGES * 4.4)
    served = m.run_state.plan.served["task_forces"]
    covered = m.run_state.forces["covered"]
    np.testing.assert_array_equal(served, covered & m.households.registered)
    assert not m.run_state.plan.waiting["task_forces"].any()


def test_money_limits_how_many_forces_are_staffed() -> None:
    """Half the money needed staffs half the forces, in every county."""
    cost = 4.4 * 30_000 + 20_000
    m = _model({"budget.sources.task_force_funds.amount": POOR_VILLAGES * cost / 2})
    m.step()
    P = m.places
    staffed = m.pathways["task_forces"].staffed
    np.testing.assert_allclose(staffed[P.village_poor], 0.5)
    assert not staffed[~P.village_poor].any()
    hh = m.households
    waiting = m.run_state.plan.waiting["task_forces"]
    np.testing.assert_array_equal(waiting, hh.registered & P.village_poor[hh.village]
                                  & ~m.run_state.forces["covered"])


@pytest.mark.parametrize("withdraw", [True, False])
def test_forces_stay_until_the_village_exits(withdraw: bool) -> None:
    """Next January the forces of the villages that exited are withdrawn (贫困村不摘帽…工作组就
    不撤出), or stay with ``withdraw_on_exit: false``."""
    m = _model({"pathways.task_forces.withdraw_on_exit": withdraw})
    _year(m)
    exited = m.run_state.place.village_exited.copy()
    assert exited.max() > 0
    m.step()  # January 2016: staffing
    P = m.places
    staffed = m.pathways["task_forces"].staffed
    want = (1.0 - exited) if withdraw else np.ones(P.n_villages)
    np.testing.assert_allclose(staffed[P.village_poor], want[P.village_poor])


def test_staffing_money_does_not_count_in_the_county_plans() -> None:
    """The county plans' pace is money per person lifted: the forces' money is not in it."""
    paces = []
    for amount in (1.8e9, 9.0e9):
        m = _model({"budget.sources.task_force_funds.amount": amount})
        m.step()
        paces.append(m.run_state.plan.county["pace"])
    np.testing.assert_array_equal(paces[0], paces[1])


# --------------------------------------------------------------------------------------------
# 识真贫 and follow-up where a force works
# --------------------------------------------------------------------------------------------
NO_REVIEW = {"population.targeting.review_year": None}


def test_forces_find_the_poor_off_the_register_in_their_villages_only() -> None:
    """With the base identification at 0 the poor found are exactly those a base rate of 1
    would find, among the households a force covers (one draw decides both)."""
    everyone = _model({**NO_REVIEW, "population.targeting.identification_rate": 1.0,
                       "pathways.task_forces.identification_rate": 0.0})
    forces = _model({**NO_REVIEW, "population.targeting.identification_rate": 0.0,
                     "pathways.task_forces.identification_rate": 1.0})
    none = _model({**NO_REVIEW, "population.targeting.identification_rate": 0.0,
                   "pathways.task_forces.identification_rate": 0.0})
    for m in (everyone, forces, none):
        _year(m)
    covered = forces.run_state.forces["covered"]
    found_all = everyone.run_state.found["new_poor"]
    found = forces.run_state.found["new_poor"]
    assert found.any() and (found_all & ~covered).any()
    np.testing.assert_array_equal(found, found_all & covered)
    assert not none.run_state.found["new_poor"].any()


def test_recheck_removes_wrongly_included_and_is_attributed_to_the_forces() -> None:
    """The forces' re-check takes wrongly included households off the register in their
    villages; those exits are the ``task_forces`` entry of ``exits_by_pathway``."""
    m = _model({**NO_REVIEW, "pathways.task_forces.removal_rate": 1.0})
    wrongly = m.households.wrongly_included.copy()
    _year(m)
    recheck = m.run_state.flows["exited_by_recheck"]
    assert recheck.any()
    assert not (recheck & ~(m.run_state.forces["covered"] & wrongly)).any()
    assert (m.run_state.flows["exited"] & recheck).sum() == recheck.sum()
    ds = m.results()
    persons = float(m.households.size[recheck].sum()) * m.weight
    got = float(ds["exits_by_pathway"].sel(year=2015, attribution="task_forces").sum())
    assert got == pytest.approx(persons)
    off = _model({**NO_REVIEW, "pathways.task_forces.removal_rate": 0.0})
    _year(off)
    assert not off.run_state.flows["exited_by_recheck"].any()


def test_forces_follow_up_households_that_fall_back() -> None:
    """With no base monitoring, returns are found only where a force works."""
    m = _model({"exits.household.return_detection_rate": 0.0,
                "pathways.task_forces.return_detection_rate": 1.0})
    for _ in range(36):
        m.step()
    found = m.run_state.found["returned"]
    assert found.any()
    assert not (found & ~m.run_state.forces["covered"]).any()


def test_no_task_forces_variant_turns_them_off() -> None:
    """``scenarios/no_task_forces.yaml`` staffs no force and spends none of their money."""
    scn = povsim.load_scenario("scenarios/no_task_forces.yaml",
                               overrides={"population.scale": 2000})
    assert not scn.pathways.task_forces.enabled
    ds = povsim.run(scn, seed=3)
    assert float(ds["spending"].sel(pathway="task_forces").sum()) == 0.0
    assert float(ds["exits_by_pathway"].sel(attribution="task_forces").sum()) == 0.0
    assert np.isnan(ds["task_forces_staffed"].isel(year=0)).all()
    assert float(ds["task_forces_staffed"].isel(year=slice(1, None)).sum()) == 0.0
