"""The dibao safety net pays exactly the gap to the dibao line (src/povsim/pathways/dibao.py)."""

from __future__ import annotations

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
    scn = small({"budget.scale": 3.0})  # ample money: nobody waits
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
    # benefits received this year = dibao + disability top-up, nothing else
    np.testing.assert_allclose(hh.benefit_ytd, hh.dibao_payment + hh.disability_payment,
                               rtol=1e-12, atol=0)


def test_dibao_hand_computed_case() -> None:
    """Dibao line 2280, no merge: a labourless household of 2 assessed at 1500 yuan per person
    receives exactly (2280 - 1500) × 2 = 1560 yuan in the year."""
    scn = scenario_from_yaml_string(HAND_SCENARIO)
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
    paid = float((hh.dibao_payment + hh.disability_payment).sum()) * model.weight
    spent = float(model.results()["spending"].sel(pathway="dibao", year=2015).sum())
    assert spent == pytest.approx(paid, rel=1e-9)
