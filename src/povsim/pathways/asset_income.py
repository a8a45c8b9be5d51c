"""资产收益扶贫 — asset-income schemes: shares with a guaranteed dividend (seed (二十一)).

The seed names three models, which povsim runs as one pathway:

* **investment income** (投资收益扶贫): fiscal poverty and agriculture funds invested in a
  village or a cooperative form an asset, part of which is quantified to poor households as
  *preferred shares* (优先股) with a guaranteed minimum return (收益保底、按股分红);
* **entrusted funds** (理财收益扶贫): for poor people without labour capacity, who cannot take
  production support, funds allocated to the household are entrusted to an operator
  (委托经营) and pay a dividend (``entrusted``);
* **asset income** (资产收益扶贫): in poor villages the village's collective assets and the
  households' contracted land are pooled in the same shares (入股), adding
  ``collective_dividend`` (the land's rent is taken to equal the farm income it gave up, so
  farm income is unchanged).

A registered household is reached by a scheme with probability ``takeup`` (one uniform per
household, the same every year: whether its village or cooperative runs one). Eligible: reached,
registered, never a shareholder, and with labour unless ``entrusted``. Each share costs
``unit_cost`` of grant money; counties buy shares with the capacity rule of
:mod:`povsim.budget.capacity` (shares = money / unit cost, at most the optional hard cap
``capacity``). From ``delay_months`` after funding the household receives ``unit_cost ×
dividend_rate`` a year (plus ``collective_dividend`` in a designated poor village) as a monthly
income flow, for as long as the asset pays: every January a paying asset fails with probability
``failure_rate`` (independently per household: a simulated household stands for many real ones
in different schemes) and pays nothing from then on. A household keeps its shares after it
exits (摘帽不摘政策, seed (二十三)); a failed share is not replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway
from povsim.scenario.schema import at

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["AssetIncomePathway", "dividend"]

#: codes of ``asset_status``
NEVER, FUNDED, PAYING, FAILED = 0, 1, 2, 3


def dividend(unit_cost: float, dividend_rate: float, collective_dividend: float,
             in_poor_village: np.ndarray) -> np.ndarray:
    """Yearly dividend of one household's shares (yuan per household per year).

    Parameters
    ----------
    unit_cost
        Fiscal money quantified to the household as shares (yuan).
    dividend_rate
        Guaranteed yearly return of the shares (fraction of ``unit_cost``).
    collective_dividend
        Dividend on the village's collective assets and pooled land (yuan per household per
        year), paid in designated poor villages only.
    in_poor_village
        One flag per household: it lives in a designated poor village.

    Returns
    -------
    numpy.ndarray
        ``unit_cost × dividend_rate + collective_dividend × in_poor_village`` (float64).

    Examples
    --------
    >>> dividend(22500.0, 0.08, 200.0, np.array([True, False])).tolist()
    [2000.0, 1800.0]
    """
    flag = np.asarray(in_poor_village, dtype=np.float64)
    return unit_cost * dividend_rate + collective_dividend * flag


class AssetIncomePathway(Pathway):
    """Preferred shares, entrusted funds and pooled collective assets for poor households."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("asset_status", np.int8, "code",
               "0 never a shareholder, 1 shares funded, 2 dividend paid, 3 asset failed",
               "asset_income"),
        Column("asset_gain", np.float32, "yuan/year", "dividend received from the shares",
               "asset_income"),
    )
    modifies: ClassVar[tuple[str, ...]] = ("monthly_income",)
    reads: ClassVar[tuple[str, ...]] = ("registered", "n_labour")
    #: the yearly income: the dividend paid (yuan/year)
    income_columns = (("asset_gain", 1),)
    #: the common checks (povsim.testing): the order matters only when several households of
    #: a county compete for scarce shares, so every registered household is reached
    check_settings: ClassVar[dict[str, Any]] = {
        "priority": {"value": "random", "overrides": {
            "pathways.asset_income.takeup": 1.0, "pathways.asset_income.capacity": 200_000}},
    }

    def start_year(self, ctx: Context, year: int) -> None:
        if not self.enabled:
            return
        hh = ctx.households
        #: whether a scheme reaches the household this year: the same uniform every year,
        #: against this year's take-up (only the flag is kept)
        self._year = year
        self._reached = ctx.draws("asset_income.takeup") < at(self.config.takeup, year)
        paying = np.flatnonzero(hh.asset_status == PAYING)
        if paying.size:
            u = ctx.draws("asset_income.failure", year)[paying]
            failed = paying[u < self.config.failure_rate]
            # the income flow is recomputed from ``income`` after the January planning
            hh.asset_status[failed] = FAILED
            hh.asset_gain[failed] = 0.0

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        """Registered households a scheme reaches, never shareholders; with labour unless
        ``entrusted`` (households without labour get entrusted funds)."""
        hh = ctx.households
        mask = hh.registered & (hh.asset_status == NEVER)
        if year != self._year:
            raise RuntimeError(f"asset_income: eligibility asked for {year} in {self._year}")
        mask &= self._reached
        if not self.config.entrusted:
            mask &= hh.n_labour > 0
        return mask

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        return np.full(len(idx), float(self.config.unit_cost))

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Buy shares with the capacity rule of :mod:`povsim.budget.capacity`
        (:meth:`Context.buy`): shares bought = money / unit cost, at most ``capacity``."""
        return ctx.buy(idx, cost, units=units, credit=credit)

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        ctx.households.asset_status[idx] = FUNDED
        self.schedule(ctx, idx, month)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        cfg = self.config
        poor = ctx.places.village_poor[hh.village[idx]]
        gain = dividend(cfg.unit_cost, cfg.dividend_rate, cfg.collective_dividend, poor)
        hh.asset_gain[idx] = gain
        hh.asset_status[idx] = PAYING
        ctx.add_income(idx, hh.asset_gain[idx].astype(np.float64))
