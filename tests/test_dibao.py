"""The dibao safety net (src/povsim/pathways/dibao.py): the January gap payment, the floor
settlements (seed (七) 兜底) and the monitoring of exited households (seed (四) 动态化管理)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _support import SMALL_SCALE, small

import povsim
from povsim.lines import dibao_line, poverty_line
from povsim.scenario import scenario_from_yaml_string

HAND_SCENARIO = f"""
name: dibao_by_hand
population: {{scale: {SMALL_SCALE}}}
lines:
  dibao: 2280
  merge: {{year: null}}
"""


def _first_year(model: povsim.PovertyModel) -> None:
    for _ in range(12):
        model.step()


def test_dibao_line_schedule() -> None:
    """The merge schedule: linear steps to the poverty line by 2017; never with merge null."""
    scn = small()
    pov = {y: poverty_line(scn, y) for y in range(2015, 2021)}
    own = {y: dibao_line(small({"lines.merge.year": None}), y) for y in range(2015, 2021)}
    merged = {y: dibao_line(scn, y) for y in range(2015, 2021)}
    for y in (2017, 2018, 2019, 2020):
        assert merged[y] == max(own[y], pov[y])
    assert own[2015] < merged[2015] < merged[2016] < pov[2016]
    # linear: a third of the 2015 gap closed in 2015 (start 2015, merge 2017)
    assert merged[2015] == pytest.approx(own[2015] + (pov[2015] - own[2015]) / 3)


def test_dibao_pays_the_gap_to_every_eligible_household() -> None:
    """After the first year every household without labour below the dibao line at planning
    receives (dibao_line - pc_assessed) × size, and nobody else receives dibao.

    Tolerance: 1e-12 relative (the pathway computes gap × 12 / 12)."""
    # ample money: nobody waits; the floor at the line itself (the calibrated baseline pays
    # up to a margin above it)
    scn = small({"budget.scale": 3.0, "pathways.dibao.floor_margin": 0.0})
    model = povsim.PovertyModel(scn)
    hh = model.households
    pc0 = hh.pc_assessed.copy()
    labour0 = hh.n_labour.copy()
    size0 = hh.size.astype(np.float64)
    _first_year(model)
    line = dibao_line(scn, scn.calendar.start_year)
    assert model.dibao_line == line
    eligible = (labour0 == 0) & (pc0 < line)
    assert eligible.sum() >= 20, "too few dibao households to test"
    assert not (model.run_state.plan.waiting["dibao"] & eligible).any(), "a dibao household waited"
    expected = np.where(eligible, (line - pc0) * size0, 0.0)
    np.testing.assert_allclose(hh.dibao_payment, expected, rtol=1e-12, atol=0)
    assert hh.dibao_enrolled[eligible].all()
    # benefits received this year = dibao + disability top-up + floor settlements, nothing else
    np.testing.assert_allclose(hh.benefit_ytd,
                               hh.dibao_payment + hh.disability_payment + hh.dibao_topup,
                               rtol=1e-12, atol=0)
    # the settlements went to floor households (enrolled dibao or monitored exited) only
    assert not (hh.dibao_topup[hh.dibao_floor == 0] > 0).any()


def test_dibao_hand_computed_case() -> None:
    """Dibao line 2280, no merge, no settlement: a labourless household of 2 assessed at 1500
    yuan per person receives exactly (2280 - 1500) × 2 = 1560 yuan in the year."""
    scn = scenario_from_yaml_string(HAND_SCENARIO).with_overrides(
        {"pathways.dibao.settle_months": None})
    model = povsim.PovertyModel(scn)
    hh = model.households
    i = int(np.flatnonzero(hh.registered & (hh.n_disabled == 0))[0])
    hh.pc_assessed[i] = 1500.0
    hh.n_labour[i] = 0
    hh.size[i] = 2
    _first_year(model)
    assert model.dibao_line == 2280.0
    assert hh.dibao_enrolled[i]
    assert hh.dibao_payment[i] == 1560.0
    assert hh.disability_payment[i] == 0.0
    assert hh.benefit_ytd[i] == 1560.0
    # the payment is not counted as income before transfers
    assert hh.pc_assessed[i] == pytest.approx((hh.income_ytd[i] - 1560.0) / 2)


def test_dibao_not_paid_above_the_line_or_with_labour() -> None:
    """A household above the line, or with labour, gets no dibao."""
    scn = scenario_from_yaml_string(HAND_SCENARIO)
    model = povsim.PovertyModel(scn)
    hh = model.households
    i, j = (int(k) for k in np.flatnonzero(hh.registered & (hh.n_disabled == 0))[:2])
    hh.pc_assessed[i], hh.n_labour[i] = 2300.0, 0
    hh.pc_assessed[j], hh.n_labour[j] = 1500.0, 1
    _first_year(model)
    assert hh.dibao_payment[i] == 0.0
    assert hh.dibao_payment[j] == 0.0


def test_dibao_off_pays_nothing() -> None:
    """With the pathway switched off no household receives dibao and nothing is spent on it."""
    scn = small({"pathways.dibao.enabled": False})
    model = povsim.PovertyModel(scn)
    _first_year(model)
    assert float(model.households.dibao_payment.sum()) == 0.0
    assert float(model.households.benefit_ytd.sum()) == 0.0
    assert float(model.results()["spending"].sel(pathway="dibao").sum()) == 0.0


def test_dibao_spending_equals_payments() -> None:
    """What the ledger records as dibao spending equals the payments times the weight."""
    scn = small({"budget.scale": 3.0})
    model = povsim.PovertyModel(scn)
    _first_year(model)
    hh = model.households
    paid = float((hh.dibao_payment + hh.disability_payment + hh.dibao_topup).sum()) * model.weight
    spent = float(model.results()["spending"].sel(pathway="dibao", year=2015).sum())
    assert spent == pytest.approx(paid, rel=1e-9)


# --------------------------------------------------------------------------------------------
# the floor (seed (七) 兜底) and the monitoring of exited households (seed (四) 动态化管理)
# --------------------------------------------------------------------------------------------
#: dibao line 2280 all years, no merge; no random shocks, no income growth and no asset dividends,
#: so a household's income is exactly what the test sets; poverty line 2855 in 2015
FLOOR_SCENARIO = f"""
name: dibao_floor_by_hand
population: {{scale: {SMALL_SCALE}, income_growth: 0.0}}
lines:
  dibao: 2280
  merge: {{year: null}}
budget: {{scale: 3.0}}
plans: {{verify_within_task: false}}  # every household passing the exit test exits
pathways:
  asset_income: {{enabled: false}}
shocks:
  illness: {{enabled: false}}
  disasters: {{enabled: false}}
"""


def _flat_income(hh: Any, i: int, yearly: float) -> None:
    """Household ``i`` gets exactly ``yearly`` yuan a year from transfers, nothing else."""
    for col in ("wage_base", "farm_base", "property_income"):
        hh[col][i] = 0.0
    hh.other_transfers[i] = yearly
    hh.n_elderly[i] = 0
    hh.n_disabled[i] = 0
    hh.hazard_zone[i] = False
    hh.house_dangerous[i] = False


def _bill(model: povsim.PovertyModel, i: int, bill: float) -> float:
    """A hospital stay of household ``i`` now, through the medical-aid layers (as the illness
    shock raises it); returns what the household pays."""
    run = model.run_state
    med = model.pathways["medical"]
    oop = float(run.call(med, "out_of_pocket", np.array([i]), np.array([bill]))[0])
    model.households.oop_ytd[i] += oop
    return oop


def _floor_household(model: povsim.PovertyModel) -> int:
    hh = model.households
    i = int(np.flatnonzero(hh.registered & (hh.n_disabled == 0))[0])
    _flat_income(hh, i, 3000.0)
    hh.pc_assessed[i] = 1500.0
    hh.n_labour[i] = 0
    hh.size[i] = 2
    return i


def test_dibao_household_after_a_medical_bill() -> None:
    """A dibao household of 2 with 3,000 yuan a year of its own (1,500 per person), dibao line
    2,280, is paid (2280 - 1500) × 2 = 1,560 in January: 380 a month in all. In May it is
    hospitalised with a bill of 8,000 yuan. Medical aid (insured, enrolled): basic insurance
    leaves 8000 × 0.45 = 3,600; the poor's uplift 800 and critical-illness insurance
    (8000 - 5000) × 0.5 = 1,500 leave 1,300; assistance pays 70 % (910), leaving 390, under the
    10 % cap (800): the household pays 390.

    Quarterly settlement: at the start of July (6 months) it has received 6 × 380 = 2,280 and
    paid 390, so 1,890 against a floor of 2280 × 2 × 6/12 = 2,280: it is paid 390. In October
    (9 months) 3,420 + 390 - 390 = 3,420 = the floor: nothing. At the year end 4,560 + 390 -
    390 = 4,560 = the floor: nothing. The year: 390 settled, per-capita net income (4950 - 390)
    / 2 = 2,280, the floor exactly. Without the floor (settle_months null) it ends the year at
    (4560 - 390) / 2 = 2,085, below the dibao line."""
    for settle, topup, pc in ((3, 390.0, 2280.0), (None, 0.0, 2085.0)):
        scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides(
            {"pathways.dibao.settle_months": settle})
        model = povsim.PovertyModel(scn)
        hh = model.households
        i = _floor_household(model)
        for _ in range(5):  # January .. May
            model.step()
        assert hh.dibao_payment[i] == pytest.approx(1560.0)
        assert hh.med_enrolled[i] and hh.insured[i]
        assert _bill(model, i, 8000.0) == pytest.approx(390.0)
        for _ in range(7):  # June .. December and the assessment
            model.step()
        assert hh.dibao_topup[i] == pytest.approx(topup, abs=1e-6)
        assert hh.pc_income[i] == pytest.approx(pc, abs=1e-6)
        assert hh.benefit_ytd[i] == pytest.approx(1560.0 + topup)


def test_floor_without_medical_cover_leaves_the_bill() -> None:
    """With covers_medical false the settlement compares income before the bill with the
    floor: the household of the case above (2,280 per person before the bill) is paid nothing
    and ends at 2,085 per person."""
    scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides(
        {"pathways.dibao.covers_medical": False})
    model = povsim.PovertyModel(scn)
    hh = model.households
    i = _floor_household(model)
    for _ in range(5):
        model.step()
    _bill(model, i, 8000.0)
    for _ in range(7):
        model.step()
    assert hh.dibao_topup[i] == 0.0
    assert hh.pc_income[i] == pytest.approx(2085.0)


def test_floor_margin_raises_the_floor() -> None:
    """floor_margin 0.1: the floor is 2280 × 1.1 = 2,508 per person; the January payment is
    (2508 - 1500) × 2 = 2,016 and, with the bill of 390, the year ends at the floor."""
    scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides(
        {"pathways.dibao.floor_margin": 0.1})
    model = povsim.PovertyModel(scn)
    hh = model.households
    i = _floor_household(model)
    for _ in range(5):
        model.step()
    assert hh.dibao_payment[i] == pytest.approx(2016.0)
    _bill(model, i, 8000.0)
    for _ in range(7):
        model.step()
    assert hh.dibao_topup[i] == pytest.approx(390.0)
    assert hh.pc_income[i] == pytest.approx(2508.0)


def _monitored_household(model: povsim.PovertyModel, exit_year: int) -> int:
    """An exited household of 2 off the register, last year at 3,000 per person (below 1.5 ×
    the 2,855 line), this year with 4,000 a year of its own (2,000 per person)."""
    hh = model.households
    i = int(np.flatnonzero(hh.registered & (hh.n_disabled == 0) & (hh.n_labour > 0))[0])
    _flat_income(hh, i, 4000.0)
    hh.size[i] = 2
    hh.registered[i] = False
    hh.exit_year[i] = exit_year
    hh.pc_income[i] = 3000.0
    hh.pc_assessed[i] = 3000.0
    return i


@pytest.mark.parametrize(("monitor", "years", "band", "topup"), [
    (2015, None, 0.5, 2 * 2855.0 - 4000.0),  # monitored: paid to the poverty line
    (None, None, 0.5, 0.0),  # no monitoring: falls back
    (2016, None, 0.5, 0.0),  # monitoring starts after 2015: falls back
    (2015, 1, 0.5, 0.0),  # exited two years before 2015: no longer monitored
    (2015, None, 0.0, 0.0),  # last year's 3,000 per person is above 1.0 × 2,855: not monitored
])
def test_monitored_exited_household_is_helped_before_it_falls_back(
        monitor: int | None, years: int | None, band: float, topup: float) -> None:
    """Monitoring (seed (四) 动态化管理): an exited household near the line whose income falls
    to 2,000 per person (poverty line 2,855 in 2015) is paid the shortfall (2855 × 2 - 4000 =
    1,710 over the year) and does not return; unmonitored it falls below the line."""
    scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides(
        {"pathways.dibao.monitor_from": monitor, "pathways.dibao.monitor_years": years,
         "pathways.dibao.monitor_band": band})
    model = povsim.PovertyModel(scn)
    hh = model.households
    i = _monitored_household(model, exit_year=2013)
    for _ in range(12):
        model.step()
    assert hh.dibao_topup[i] == pytest.approx(topup, abs=1e-6)
    assert hh.pc_income[i] == pytest.approx((4000.0 + topup) / 2, abs=1e-6)
    fell_back = topup == 0.0
    assert bool(model.run_state.found["returned"][i]) == fell_back
    assert not hh.registered[i]  # found at the review, registered next January


def test_settle_months_changes_when_the_shortfall_is_paid() -> None:
    """With a monthly settlement the household of the bill case is paid the 390 at the start of
    June (5 months: 1,900 - 390 = 1,510 against a floor of 1,900); quarterly only in July."""
    for settle, month, expected in ((1, 5, 390.0), (3, 5, 0.0), (3, 6, 390.0)):
        scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides(
            {"pathways.dibao.settle_months": settle})
        model = povsim.PovertyModel(scn)
        hh = model.households
        i = _floor_household(model)
        for _ in range(5):
            model.step()
        _bill(model, i, 8000.0)
        for _ in range(month - 5 + 1):  # through the step of ``month``
            model.step()
        assert hh.dibao_topup[i] == pytest.approx(expected, abs=1e-6), (settle, month)


def test_a_floor_that_held_counts_as_stable_income() -> None:
    """Dibao line merged in 2015 (2,855 = the poverty line). A labourless registered household
    of 2 with 1,000 yuan of farm income and 1,800 of transfers, assessed at 1,500 per person, is
    paid (2855 - 1500) × 2 = 2,710. In a lucky year (transitory factor 1.2) its income is
    1200 + 1800 + 2710 = 5,710 = the floor × 2: the settlements pay nothing. Its stable income
    without the floor would be 5710 - 1000 × 0.2 = 5,510 (2,755 per person, below the line);
    the floor held, so verification reads 2,855 and the household exits."""
    scn = scenario_from_yaml_string(FLOOR_SCENARIO).with_overrides({"lines.merge.year": 2015})
    model = povsim.PovertyModel(scn)
    hh = model.households
    i = _floor_household(model)
    hh.farm_base[i] = 1000.0
    hh.other_transfers[i] = 1800.0
    hh.water_household[i] = True
    hh.schooling_ok[i] = True
    model.step()  # January: planned and paid
    assert hh.dibao_payment[i] == pytest.approx(2710.0)
    # the year turns out lucky for this household
    hh.transitory[i] = 1.2
    hh.monthly_income[i] = (1000.0 * 1.2 + 1800.0 + 2710.0) / 12.0
    hh.income_ytd[i] = hh.monthly_income[i]
    for _ in range(11):
        model.step()
    assert hh.dibao_topup[i] == pytest.approx(0.0, abs=1e-6)
    assert hh.pc_income[i] == pytest.approx(2855.0)
    assert model.run_state.flows["exited"][i]
    assert hh.exit_year[i] == 2015
