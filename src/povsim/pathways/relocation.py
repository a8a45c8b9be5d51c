"""移民搬迁安置一批 — relocation (seed (六)).

Registered households in harsh, remote or hazard zones who are willing move to a resettlement
site after ``delay_months``. The pathway pays ``unit_cost`` per person (capacity is counted in
persons); the household pays its ``household_contribution`` and loses part of its farm income
for ``transition_months``. After the move its housing is safe, it is out of the hazard zone, it
has safe water, it keeps ``farm_income_kept`` of its farm income and, with labour, gains
``wage_gain`` from job access at the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["RelocationPathway"]


class RelocationPathway(Pathway):
    """Moving willing registered households out of hazard and remote zones."""

    owns = (
        Column("reloc_status", np.int8, "code", "0 never, 1 enrolled, 2 moved", "relocation"),
        Column("reloc_gain", np.float32, "yuan/year", "wage income gained at the site",
               "relocation"),
    )
    modifies = ("hazard_zone", "house_dangerous", "farm_base", "relocated", "water_household",
                "loss_ytd", "monthly_income")
    reads = ("registered", "willing_to_move", "size", "n_labour", "transitory")

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        return (hh.registered & hh.hazard_zone & hh.willing_to_move & (hh.reloc_status == 0)
                & ~hh.relocated)

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        return self.config.unit_cost * ctx.households.size[idx].astype(np.float64)

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        ctx.households.reloc_status[idx] = 1
        self.schedule(ctx, idx, month)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        cfg = self.config
        hh = ctx.households
        farm = hh.farm_base[idx].astype(np.float64) * hh.transitory[idx]
        hh.loss_ytd[idx] += (farm * cfg.transition_income_loss * cfg.transition_months / 12.0
                             + cfg.household_contribution)
        lost = farm * (1.0 - cfg.farm_income_kept)
        hh.farm_base[idx] *= np.float32(cfg.farm_income_kept)
        gain = np.where(hh.n_labour[idx] > 0, cfg.wage_gain, 0.0)
        hh.reloc_gain[idx] = gain
        ctx.add_income(idx, gain - lost)
        hh.relocated[idx] = True
        hh.hazard_zone[idx] = False
        hh.house_dangerous[idx] = False
        hh.water_household[idx] = True
        hh.reloc_status[idx] = 2

    def income(self, ctx: Context) -> np.ndarray:
        return self.income_at(ctx, slice(None))

    def income_at(self, ctx: Context, rows: Any) -> np.ndarray:
        return ctx.households.reloc_gain[rows].astype(np.float64)

    def housing_secured(self, ctx: Context) -> np.ndarray:
        return ctx.households.reloc_status == 2
