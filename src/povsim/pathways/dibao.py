"""低保政策兜底一批 — the dibao safety net with the line merge and the disability top-up (seed (七)).

Each January households without labour capacity whose per-capita income (before means-tested
transfers, last year) is below the dibao line are enrolled, registered poor first, and receive
the gap, ``(dibao_line - income) × size`` a year, paid monthly. The dibao line follows the
"两线合一" merge schedule (:func:`povsim.lines.dibao_line`). Registered poor households with
disabled members also receive, per disabled member, the gap between their per-capita income
(after dibao) and the national poverty line, plus the monthly living subsidy.

**A floor, not a payment fixed in January** (seed (七) 政策性兜底, 据实发放差额补助). Every
``settle_months`` months, and once more at the year end, each enrolled household's income so
far this year — net of what it paid for hospital stays after medical aid (``covers_medical``) —
is compared with the floor, ``dibao_line × (1 + floor_margin) × size × months / 12``, and the
shortfall is paid from the county's dibao envelope. With money in the envelope a bill or a bad
month no longer pushes an enrolled household below the floor; the year-end settlement makes the
year's income reach it. Verification reads the floor as part of the household's stable income
(column ``dibao_floor``).

**Monitoring** (seed (四) 动态化管理, (二十三) 保持扶贫政策不变). From ``monitor_from``
(2020, when the national monitoring of households at risk began) exited households off the
register whose last per-capita net income was below ``(1 + monitor_band) × poverty line``
(and, with ``monitor_years``, that exited at most that many years ago) are monitored: at the
same settlements they are paid the shortfall to the poverty line (temporary assistance from the
dibao envelope), so that they are helped before they fall back rather than re-counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["DibaoPathway"]


class DibaoPathway(Pathway):
    """Minimum living guarantee as a floor, disability subsidies, and the monitoring of exited
    households near the line."""

    owns = (
        Column("dibao_enrolled", np.bool_, "flag", "receives dibao or the disability top-up "
               "this year", "dibao"),
        Column("dibao_payment", np.float64, "yuan/year", "dibao gap payment this year", "dibao"),
        Column("disability_payment", np.float64, "yuan/year",
               "disability top-up and living subsidy this year", "dibao"),
        Column("dibao_floor", np.float64, "yuan/person/year",
               "income floor guaranteed this year (dibao line for enrolled households, poverty "
               "line for monitored exited households; 0: none)", "dibao"),
        Column("dibao_topup", np.float64, "yuan",
               "floor settlements and temporary assistance paid so far this year", "dibao"),
    )
    modifies = ("benefit_ytd", "income_ytd")
    reads = ("registered", "n_labour", "n_disabled", "size", "pc_assessed", "oop_ytd",
             "exit_year", "pc_income")
    #: the yearly income: dibao payment plus disability top-up (yuan/year)
    income_columns = (("dibao_payment", 1), ("disability_payment", 1))
    #: how the common checks exercise settings whose effect needs a context
    check_settings = {
        "monitor_years": {"value": 1},
    }

    def setup(self, ctx: Context) -> None:
        #: floor settlements paid last year by county (yuan): the expected need of this year's
        self.settled = np.zeros(ctx.places.n_counties)
        #: (year, rows with a floor, their counties, floor × size): see :meth:`settle`
        self._floors: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        """Settlements expected this year by county (yuan): last year's, or, if larger, the
        gap of the monitored households' last income (before means-tested transfers) to the
        poverty line; at least one yuan in a county with monitored households, so that a
        source paying only for dibao reaches it even when nobody there is enrolled."""
        hh = ctx.households
        C = ctx.places.n_counties
        if self.config.settle_months is None:
            return np.zeros(C)
        mon = self.monitored(ctx)
        expect = ctx.county_gap(hh.pc_assessed, ctx.poverty_line, mon) * ctx.weight
        some = ctx.county_sum(mon, dtype=np.int64) > 0
        return np.maximum(np.maximum(self.settled, expect), some * 1.0)

    def start_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        self._floors = None  # found again at this year's first settlement
        hh.dibao_enrolled[:] = False
        hh.dibao_payment[:] = 0.0
        hh.disability_payment[:] = 0.0
        hh.dibao_floor[:] = 0.0
        hh.dibao_topup[:] = 0.0

    @property
    def _floor(self) -> float:
        """The floor as a multiple of the dibao line."""
        return 1.0 + float(self.config.floor_margin)

    def _dibao_eligible(self, ctx: Context) -> np.ndarray:
        hh = ctx.households
        reach = hh.registered if not self.config.include_unregistered else True
        return (hh.n_labour == 0) & (hh.pc_assessed < ctx.dibao_line) & reach

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        mask = self._dibao_eligible(ctx)
        if self.config.disability_top_up:
            mask = mask | (hh.registered & (hh.n_disabled > 0))
        return mask

    def _payments(self, ctx: Context, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hh = ctx.households
        pc = hh.pc_assessed[idx]
        size = hh.size[idx].astype(np.float64)
        dib = self._dibao_eligible(ctx)[idx]
        floor = ctx.dibao_line * self._floor
        gap = np.where(dib, np.maximum(floor - pc, 0.0) * size, 0.0)
        disab = np.zeros(len(idx))
        if self.config.disability_top_up:
            after = np.where(dib, np.maximum(pc, floor), pc)
            n_dis = np.where(hh.registered[idx], hh.n_disabled[idx], 0).astype(np.float64)
            disab = n_dis * (np.maximum(ctx.poverty_line - after, 0.0)
                             + 12.0 * self.config.living_subsidy_monthly)
        return gap, disab

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        gap, disab = self._payments(ctx, idx)
        if self.delay:  # planned in January: the year's payments after the delay
            return (gap + disab) * (max(12 - self.delay, 0) / 12.0)
        return gap + disab

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        hh = ctx.households
        gap, disab = self._payments(ctx, idx)
        # payments start ``delay_months`` after enrolment (seed (七): in the month itself)
        months_left = max(12 - month % 12 - self.delay, 0)
        hh.dibao_enrolled[idx] = True
        hh.dibao_payment[idx] = gap * months_left / 12.0
        hh.disability_payment[idx] = disab * months_left / 12.0
        if self.config.settle_months is not None:  # no settlement: no floor
            dib = idx[self._dibao_eligible(ctx)[idx]]
            hh.dibao_floor[dib] = ctx.dibao_line * self._floor

    # -- the floor and the monitoring ----------------------------------------------------
    def monitored(self, ctx: Context) -> np.ndarray:
        """Exited households off the register that are monitored this year (a mask).

        Monitored, from the year ``monitor_from``: exited (``exit_year >= 0``), not registered,
        last assessed per-capita net income below ``(1 + monitor_band) × poverty line`` and, with ``monitor_years``, exited
        at most that many years ago.
        """
        hh = ctx.households
        cfg = self.config
        if cfg.monitor_from is None or ctx.year < cfg.monitor_from:
            return np.zeros(hh.n, dtype=bool)
        mask = (~hh.registered) & (hh.exit_year >= 0)
        mask &= hh.pc_income < ctx.poverty_line * (1.0 + cfg.monitor_band)
        if cfg.monitor_years is not None:
            # year - exit_year <= monitor_years, in the column's own integer type
            mask &= hh.exit_year >= ctx.year - cfg.monitor_years
        return mask

    def settle(self, ctx: Context, months: int) -> None:
        """Pay every floor household the shortfall of its income so far this year.

        A household with a floor ``f`` (yuan/person/year) is owed
        ``max(f × size × months / 12 - (income so far - out-of-pocket medical spending), 0)``
        (without ``covers_medical`` the medical spending is not deducted). Enrolled dibao
        households have the floor ``dibao_line × (1 + floor_margin)``; monitored exited
        households (:meth:`monitored`) the poverty line. What is owed is paid from each
        county's dibao envelope (in proportion when the envelope runs short) into the
        household's income this year.

        Parameters
        ----------
        months
            Months of the year elapsed (12 at the year-end settlement).
        """
        hh = ctx.households
        if self._floors is None or self._floors[0] != ctx.year:
            # who has a floor is fixed for the year after its first settlement: the floors
            # are set at enrolment (January) and here, and the monitored households depend
            # on the register, exit years and incomes, which change only at the assessment
            mon = np.flatnonzero(self.monitored(ctx))
            if mon.size:
                hh.dibao_floor[mon] = np.maximum(hh.dibao_floor[mon], ctx.poverty_line)
            rows = np.flatnonzero(hh.dibao_floor > 0)
            self._floors = (ctx.year, rows, hh.county[rows],
                            hh.dibao_floor[rows] * hh.size[rows])
        _, rows, county, floor_people = self._floors
        if rows.size == 0:
            return
        have = hh.income_ytd[rows].copy()
        if self.config.covers_medical:
            have -= hh.oop_ytd[rows]
        target = floor_people * (months / 12.0)
        due = np.maximum(target - have, 0.0)
        need_c = np.bincount(county, weights=due * ctx.weight, minlength=ctx.places.n_counties)
        paid_c = ctx.spend(need_c)
        share = np.divide(paid_c, need_c, out=np.ones_like(need_c), where=need_c > 0)
        due *= share[county]
        hh.income_ytd[rows] += due
        hh.dibao_topup[rows] += due
        ctx.mark(served=rows[due > 0])

    def step(self, ctx: Context, month: int) -> None:
        k = month % 12
        period = self.config.settle_months
        if not self.enabled or period is None or k == 0 or k % int(period):
            return
        self.settle(ctx, k)

    def relief(self, ctx: Context) -> np.ndarray:
        return ctx.households.dibao_topup.copy()

    def relief_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        return ctx.households.dibao_topup[rows]

    def end_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        if self.enabled and self.config.settle_months is not None:
            self.settle(ctx, 12)
            self.settled = ctx.county_sum(hh.dibao_topup, dtype=np.float64) * ctx.weight
        hh.benefit_ytd += hh.dibao_payment + hh.disability_payment + hh.dibao_topup
