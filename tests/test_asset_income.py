"""Asset income (资产收益扶贫, seed (二十一)): src/povsim/pathways/asset_income.py.

The rule by hand: a household funded in January with ``unit_cost`` 10,000 yuan of shares at a
``dividend_rate`` of 10 % receives 1,000 yuan a year; with ``delay_months`` 6 the first year
pays the six months July-December, 500 yuan; a failed asset pays nothing from the January it
fails; money limits the shares bought (shares = money / unit cost).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from _support import small

import povsim
from povsim.pathways.asset_income import FAILED, NEVER, PAYING, dividend

#: every registered household is reached; 10,000 yuan of shares paying 10 %, no collective part
RULE = {
    "pathways.asset_income.takeup": 1.0,
    "pathways.asset_income.unit_cost": 10_000.0,
    "pathways.asset_income.dividend_rate": 0.1,
    "pathways.asset_income.collective_dividend": 0.0,
    "pathways.asset_income.failure_rate": 0.0,
    "pathways.asset_income.delay_months": 6,
    "calendar.end_year": 2016,
}


def _model(extra: dict[str, Any] | None = None, steps: int = 12) -> povsim.PovertyModel:
    model = povsim.PovertyModel(small({**RULE, **(extra or {})}))
    for _ in range(steps):
        model.step()
    return model


def _year_flow(model: povsim.PovertyModel) -> tuple[np.ndarray, np.ndarray]:
    """The rows registered this January and what the pathway paid each of them this year."""
    att = model.attribution
    return att.rows, att.ytd["asset_income"]


def test_dividend_by_hand() -> None:
    """10,000 yuan at 10 % is 1,000 a year; a poor village adds its collective dividend."""
    got = dividend(10_000.0, 0.1, 300.0, np.array([True, False]))
    assert got.tolist() == [1300.0, 1000.0]
    # the default: the sourced 1,800-yuan 带资入股 dividend (22,500 x 8 %) plus 200 in poor villages
    cfg = povsim.load_scenario("scenarios/baseline.yaml").pathways.asset_income
    assert dividend(cfg.unit_cost, cfg.dividend_rate, 0.0, np.array([False]))[0] == 1800.0


def test_first_year_pays_half_then_full() -> None:
    """Funded in January, delay 6: 500 yuan in the first year, 1,000 in the second."""
    model = _model()
    hh = model.households
    funded = hh.asset_status == PAYING
    assert funded.sum() > 10
    assert np.all(hh.asset_gain[funded] == 1000.0)
    rows, paid = _year_flow(model)
    np.testing.assert_allclose(paid[funded[rows]], 500.0)
    assert np.all(paid[~funded[rows]] == 0.0)
    first = funded.copy()
    for _ in range(12):
        model.step()
    rows, paid = _year_flow(model)
    np.testing.assert_allclose(paid[first[rows]], 1000.0)


def test_failed_asset_stops_paying_and_is_not_replaced() -> None:
    """failure_rate 1: every asset paying in December has failed by the next January, pays
    nothing that year, and its household is not funded again."""
    model = _model({"pathways.asset_income.failure_rate": 1.0})
    first = model.households.asset_status == PAYING
    assert first.any()
    for _ in range(12):
        model.step()
    hh = model.households
    assert np.all(hh.asset_status[first] == FAILED)
    assert np.all(hh.asset_gain[first] == 0.0)
    rows, paid = _year_flow(model)
    assert np.all(paid[first[rows]] == 0.0)


def test_takeup_and_entrusted_funds_decide_who_is_eligible() -> None:
    """Households without labour get shares only through entrusted funds; a takeup of 0
    reaches nobody and spends nothing (read in January, when the shares are funded: illness
    can take a household's labour later in the year)."""
    on = _model(steps=1)
    hh = on.households
    assert ((hh.asset_status != NEVER) & (hh.n_labour == 0)).any()
    off = _model({"pathways.asset_income.entrusted": False}, steps=1)
    hh = off.households
    assert (hh.asset_status != NEVER).any()
    assert not ((hh.asset_status != NEVER) & (hh.n_labour == 0)).any()
    none = _model({"pathways.asset_income.takeup": 0.0})
    assert np.all(none.households.asset_status == NEVER)
    spent = none.ledger.spent
    assert spent[:, none.ledger.pathways.index("asset_income")].sum() == 0.0


def test_money_limits_the_shares_bought() -> None:
    """Only a 2 bn yuan fund pays for shares: in 2015 the pathway spends at most 2 bn, nearly
    all of it (the need, 10,000 yuan for each of about 1.4 M registered households, is far
    larger), all from that fund, and the shares bought cost about what was spent (shares =
    money / unit cost: 200,000 households, about 100 simulated ones, each county's marginal
    share filled with the probability of the money left for it)."""
    over = {
        "budget.sources.special_poverty_funds.pathways": [
            "production", "housing_renovation", "reconstruction", "medical", "relocation"],
        "budget.sources.integrated_agri_funds.pathways": [
            "production", "housing_renovation", "relocation"],
        "budget.sources.share_fund": {"amount": 2.0e9, "pathways": ["asset_income"]},
    }
    ds = povsim.run(small({**RULE, **over}))
    spent = ds["spending"].sel(year=2015, pathway="asset_income").sum("region")
    total = float(spent.sum())
    assert 0.9 * 2.0e9 <= total <= 2.0e9 + 1.0
    assert float(spent.sel(source="share_fund")) == total
    bought = float(ds["households_served"].sel(year=2015, pathway="asset_income").sum())
    assert abs(bought * 10_000.0 - total) <= 0.2 * total


def test_attribution_and_spending_have_asset_income(baseline_ds: xr.Dataset) -> None:
    """The baseline pays for shares and gives asset income its own column in spending and in
    the attribution of exits, paid only by the two fiscal sources of seed (二十一)."""
    assert "asset_income" in baseline_ds["exits_by_pathway"].coords["attribution"].values
    spent = baseline_ds["spending"].sel(pathway="asset_income").sum(["region", "year"])
    assert float(spent.sum()) > 0
    payers = {str(s) for s in spent.source.values if float(spent.sel(source=s)) > 0}
    assert payers <= {"special_poverty_funds", "integrated_agri_funds"}
