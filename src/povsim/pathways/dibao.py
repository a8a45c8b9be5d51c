"""低保政策兜底一批 — the dibao safety net with the line merge and the disability top-up (seed (七)).

Each January households without labour capacity whose per-capita income (before means-tested
transfers, last year) is below the dibao line are enrolled, registered poor first, and receive
exactly the gap, ``(dibao_line - income) × size`` a year, paid monthly. The dibao line follows
the "两线合一" merge schedule (:func:`povsim.lines.dibao_line`). Registered poor households with
disabled members also receive, per disabled member, the gap between their per-capita income
(after dibao) and the national poverty line, plus the monthly living subsidy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["DibaoPathway"]


class DibaoPathway(Pathway):
    """Minimum living guarantee and disability subsidies."""

    owns = (
        Column("dibao_enrolled", np.bool_, "flag", "receives dibao or the disability top-up "
               "this year", "dibao"),
        Column("dibao_payment", np.float64, "yuan/year", "dibao gap payment this year", "dibao"),
        Column("disability_payment", np.float64, "yuan/year",
               "disability top-up and living subsidy this year", "dibao"),
    )
    modifies = ("benefit_ytd",)
    reads = ("registered", "n_labour", "n_disabled", "size", "pc_assessed")

    def start_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        hh.dibao_enrolled[:] = False
        hh.dibao_payment[:] = 0.0
        hh.disability_payment[:] = 0.0

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
        gap = np.where(dib, np.maximum(ctx.dibao_line - pc, 0.0) * size, 0.0)
        disab = np.zeros(len(idx))
        if self.config.disability_top_up:
            after = np.where(dib, np.maximum(pc, ctx.dibao_line), pc)
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

    def income(self, ctx: Context) -> np.ndarray:
        return self.income_at(ctx, slice(None))

    def income_at(self, ctx: Context, rows: Any) -> np.ndarray:
        hh = ctx.households
        return hh.dibao_payment[rows] + hh.disability_payment[rows]

    def end_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        hh.benefit_ytd += hh.dibao_payment + hh.disability_payment
