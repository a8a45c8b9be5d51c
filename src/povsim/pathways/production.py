"""扶持生产和就业发展一批 — production and employment, with micro-credit (seed (五), (二十)).

Registered households with labour are enrolled on one of two tracks: *farming support*
(一村一品 projects, paying ``income_gain`` with probability ``success_rate`` after
``delay_months``) or *labour transfer* (training and job matching: one member works away
``months_worked`` months at the migrant wage, of which ``net_share`` counts as household net
income, with probability ``placement_rate``). With probability ``microcredit.takeup`` the
household also takes a micro-loan (credit money) whose interest the pathway pays, and which
yields ``microcredit.income_gain`` unless the project fails.

Places (a trainee's course, a household's project support) are bought with the county's money
by the shared capacity rule (:mod:`povsim.budget.capacity`): places = money / cost per place,
at most the optional hard cap ``capacity``; the marginal place is filled with the probability
of the money left for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway
from povsim.scenario.schema import at

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["ProductionPathway"]


class ProductionPathway(Pathway):
    """Farming support, labour transfer and micro-credit for households with labour."""

    owns = (
        Column("prod_status", np.int8, "code", "0 never, 1 enrolled, 2 effect active", "production"),
        Column("prod_track", np.int8, "code", "0 farming support, 1 labour transfer", "production"),
        Column("prod_pending", np.float32, "yuan/year", "income gain waiting to start", "production"),
        Column("prod_gain", np.float32, "yuan/year", "income gained from the pathway", "production"),
        Column("prod_loan", np.float32, "yuan", "micro-loan principal taken", "production"),
    )
    modifies = ("monthly_income",)
    reads = ("registered", "n_labour", "pc_assessed")
    #: the yearly income: the production or employment gain (yuan/year)
    income_columns = (("prod_gain", 1),)

    def start_year(self, ctx: Context, year: int) -> None:
        # this year's draws decide the track and the loan wish of every household; only the
        # decisions are kept (a flag, not a float32 uniform, per household for the year)
        mc = self.config.microcredit
        self._year = year
        self._transfer = (ctx.draws("production.track", year)
                          < self.config.employment.share)
        self._wants_loan = (ctx.draws("production.loan", year) < at(mc.takeup, year)
                            if mc.enabled else None)

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        """Registered households with labour, not waiting for an effect; served again in a
        later year while their income stays below the line (帮扶到户 until they are out)."""
        hh = ctx.households
        again = (hh.prod_status == 2) & (hh.pc_assessed < ctx.poverty_line)
        return hh.registered & (hh.n_labour > 0) & ((hh.prod_status == 0) | again)

    def _employment(self, idx: np.ndarray) -> np.ndarray:
        return self._transfer[idx]

    def _loan(self, idx: np.ndarray, year: int) -> np.ndarray:
        if self._wants_loan is None:
            return np.zeros(len(idx), dtype=bool)
        if year != self._year:
            raise RuntimeError(f"production: loans asked for {year} in {self._year}")
        return self._wants_loan[idx]

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        cfg = self.config
        base = np.where(self._employment(idx), cfg.employment.unit_cost, cfg.unit_cost)
        mc = cfg.microcredit
        interest = mc.loan * mc.interest_rate * mc.term_years
        return base + self._loan(idx, year) * interest

    def credit(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        return self._loan(idx, year) * self.config.microcredit.loan

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Buy training and support places with the capacity rule of
        :mod:`povsim.budget.capacity` (:meth:`Context.buy`): places bought = money / cost per
        place, at most the optional hard cap ``capacity``."""
        return ctx.buy(idx, cost, units=units, credit=credit)

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        cfg = self.config
        hh = ctx.households
        emp = self._employment(idx)
        # three uniforms and a normal per household (common random numbers), drawn one row of
        # households at a time and kept for ``idx`` only: the same numbers as one (3, n) draw
        # (a generator's stream continues across calls), a third of the temporary memory
        rng_u = ctx.streams.get("production.outcome", year)
        u0, u1, u2 = (rng_u.random(hh.n, dtype=np.float32)[idx] for _ in range(3))
        z = ctx.streams.get("production.gain", year).standard_normal(hh.n, dtype=np.float32)[idx]
        sig = cfg.income_gain_sigma
        farm_gain = (u0 < cfg.success_rate) * cfg.income_gain * np.exp(sig * z - sig**2 / 2)
        e = cfg.employment
        wage = at(e.monthly_wage, year) * e.months_worked * e.net_share
        emp_gain = (u1 < e.placement_rate) * wage
        mc = cfg.microcredit
        loan_ok = self._loan(idx, year) & credit_ok
        loan_gain = loan_ok * (u2 >= mc.failure_rate) * mc.income_gain
        hh.prod_status[idx] = 1
        hh.prod_track[idx] = emp
        hh.prod_pending[idx] = np.where(emp, emp_gain, farm_gain) + loan_gain
        hh.prod_loan[idx] += loan_ok * mc.loan
        ctx.schedule(month + self.config.employment.training_months, idx[emp])
        ctx.schedule(month + self.delay, idx[~emp])

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        gain = hh.prod_pending[idx].astype(np.float64)
        hh.prod_gain[idx] += gain
        hh.prod_pending[idx] = 0
        hh.prod_status[idx] = 2
        ctx.add_income(idx, gain)
