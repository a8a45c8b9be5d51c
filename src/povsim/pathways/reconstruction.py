"""灾后重建帮扶一批 — post-disaster reconstruction (seed (九)).

When a disaster damages or destroys the house of a registered (or near-poor) household, the
county pays the repair or rebuilding subsidy from its reconstruction envelope in the pathway's
``priority`` order (registered households first by default) while the money and the
``capacity`` (households or persons aided a year) last; the house is safe again
``delay_months`` later and production restarts after ``income_recovery_months`` instead of the unaided ``shocks.disasters.income_loss_months``.
Households the money does not reach wait for next year's envelope; households outside the
pathway rebuild on their own (``self_rebuild_rate`` a year) and pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["ReconstructionPathway"]


class ReconstructionPathway(Pathway):
    """Rebuilding houses and restarting production after disasters.

    Answers two events of the disaster shock: ``houses_broken`` (pay for damaged households
    now; returns who was aided and the months of income they lose) and ``rebuild_pending``
    (which households wait for this pathway's money rather than rebuild on their own).
    """

    event_driven = True
    owns = (Column("recon_status", np.int8, "code",
                   "0 none, 1 waiting for aid, 2 aided (rebuilding)", "reconstruction"),)
    modifies = ("house_damage",)
    reads = ("registered", "pc_assessed")
    handles = {"houses_broken": "aid", "rebuild_pending": "pending"}
    #: the common checks (povsim.testing) need disasters that break many houses, and a
    #: binding capacity for the priority and the capacity unit to matter
    check_scenario = {
        "shocks.disasters.flood.share_of_villages": 0.5,
        "shocks.disasters.flood.damaged": 0.2,
        "shocks.disasters.flood.destroyed": 0.05,
    }
    check_settings = {
        "capacity": {"value": 3_000},
        "capacity_unit": {"value": "persons",
                          "overrides": {"pathways.reconstruction.capacity": 100_000}},
        # at 1:10000 the calibrated baseline's few aided households are the same whatever the
        # order; at 1:1000 the order shows
        "priority": {"value": "random",
                     "overrides": {"pathways.reconstruction.capacity": 200_000,
                                   "population.scale": 1000}},
        # a wait past the year end, so the exit test sees the house still unsafe
        "delay_months": {"value": 30},
        # at the checks' 1:10000 nobody in the check scenario is aided at the moment of the
        # shock (who is aided then is who the recovery months apply to); at 1:1000 some are
        "income_recovery_months": {"value": 36, "overrides": {"population.scale": 1000}},
    }

    def setup(self, ctx: Context) -> None:
        self.spent_last = np.zeros(ctx.places.n_counties)
        self.spent_year = np.zeros(ctx.places.n_counties)

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        waiting = hh.recon_status == 1
        cost = np.where(hh.house_damage == 2, self.config.rebuild_subsidy,
                        self.config.repair_subsidy) * waiting
        pending = ctx.county_sum(cost, dtype=np.float64)
        return pending * ctx.weight + self.spent_last

    def eligible_now(self, ctx: Context, idx: np.ndarray) -> np.ndarray:
        """Which damaged households ``idx`` the pathway serves."""
        hh = ctx.households
        near = ctx.params.population.near_poor_multiple * ctx.poverty_line
        return hh.registered[idx] | (hh.pc_assessed[idx] < near)

    def pending(self, ctx: Context, idx: np.ndarray) -> np.ndarray:
        """Which broken houses ``idx`` wait for this pathway (aid pending or eligible)."""
        hh = ctx.households
        if not self.enabled:
            return hh.recon_status[idx] > 0
        return (hh.recon_status[idx] > 0) | self.eligible_now(ctx, idx)

    def aid(self, ctx: Context, idx: np.ndarray, month: int) -> tuple[np.ndarray, int]:
        """Pay for damaged households ``idx``; returns who was aided and their months of lost
        income (``income_recovery_months``)."""
        hh = ctx.households
        aided = np.zeros(len(idx), dtype=bool)
        months = int(self.config.income_recovery_months)
        if not self.enabled or idx.size == 0:
            return aided, months
        elig = np.flatnonzero(self.eligible_now(ctx, idx))
        pos = elig[ctx.order(idx[elig], self.priority)]
        rows = idx[pos]
        cost = np.where(hh.house_damage[rows] == 2, self.config.rebuild_subsidy,
                        self.config.repair_subsidy) * ctx.weight
        chosen, _ = ctx.ration(rows, cost)
        self.spent_year += np.bincount(hh.county[rows], weights=cost * chosen,
                                       minlength=ctx.places.n_counties)
        aided[pos[chosen]] = True
        hh.recon_status[rows[chosen]] = 2
        hh.recon_status[rows[~chosen]] = 1
        ctx.mark(served=rows[chosen], waiting=rows[~chosen])
        self.schedule(ctx, rows[chosen], month)
        return aided, months

    def start_year(self, ctx: Context, year: int) -> None:
        self.spent_year = np.zeros(ctx.places.n_counties)

    def step(self, ctx: Context, month: int) -> None:
        if month % 12 == 0 and self.enabled:
            waiting = np.flatnonzero(ctx.households.recon_status == 1)
            self.aid(ctx, waiting, month)

    def housing_secured(self, ctx: Context) -> np.ndarray:
        return ctx.households.recon_status == 2

    def housing_secured_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        return ctx.households.recon_status[rows] == 2

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        hh.house_damage[idx] = 0
        hh.recon_status[idx] = 0

    def end_year(self, ctx: Context, year: int) -> None:
        self.spent_last = self.spent_year.copy()
