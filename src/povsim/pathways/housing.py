"""危房改造 — dangerous-house renovation of the registered poor (seed (十)).

Registered households in a dangerous house are renovated in place for ``unit_cost``. Households
in a hazard zone that will not move have their house reinforced where it stands, with hazard
works, for ``hazard_unit_cost``. Willing hazard-zone households are left to relocation (if
relocation is switched off they stay unsafe: renovation does not remove a hazard they would
have moved away from). The housing guarantee holds from ``delay_months`` later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["HousingRenovationPathway"]


class HousingRenovationPathway(Pathway):
    """Renovating dangerous houses in place."""

    owns = (Column("reno_status", np.int8, "code", "0 never, 1 enrolled, 2 done",
                   "housing_renovation"),)
    modifies = ("house_dangerous", "hazard_zone")
    reads = ("registered", "willing_to_move", "relocated")
    #: the common checks (povsim.testing): a delay past December moves the year of the effect
    check_settings = {"delay_months": {"value": 14}}

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        return (hh.registered & (hh.reno_status == 0) & ~hh.relocated
                & (hh.house_dangerous | (hh.hazard_zone & ~hh.willing_to_move)))

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        hh = ctx.households
        return np.where(hh.hazard_zone[idx], self.config.hazard_unit_cost, self.config.unit_cost)

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        ctx.households.reno_status[idx] = 1
        self.schedule(ctx, idx, month)

    def housing_secured(self, ctx: Context) -> np.ndarray:
        return ctx.households.reno_status == 2

    def housing_secured_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        return ctx.households.reno_status[rows] == 2

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        hh.house_dangerous[idx] = False
        hh.hazard_zone[idx] = False
        hh.reno_status[idx] = 2
