"""医疗救助扶持一批 — medical aid for the registered poor (seed (八)).

Each January the registered poor and dibao households are enrolled: the pathway pays their
individual insurance premium (so they are insured). When an enrolled person is hospitalised, the
layers apply in order to the bill: basic insurance (everyone insured, ``base_reimbursement``),
the poor's uplift, critical-illness insurance above the deductible, medical assistance on what
remains (up to the yearly cap), and Sichuan's out-of-pocket cap for in-county stays. The
pathway pays everything beyond basic insurance out of the county's medical envelope; when the
envelope is empty the household pays the rest itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["MedicalPathway", "out_of_pocket_uninsured"]


def out_of_pocket_uninsured(bill: np.ndarray, insured: np.ndarray, base_reimbursement: float
                            ) -> np.ndarray:
    """What a household pays without medical aid: the bill less basic insurance (yuan)."""
    return bill * np.where(insured, 1.0 - base_reimbursement, 1.0)


class MedicalPathway(Pathway):
    """Premium subsidies and layered reimbursement for poor patients.

    Each January the county enrols the households it covers (registered, dibao and, with
    ``cover_exited``, exited households) in the pathway's ``priority`` order, paying their
    premium until the envelope or the ``capacity`` (households or persons a year) runs out;
    cover starts ``delay_months`` later. It answers the ``hospital_stay`` event of the illness
    shock with what the household pays.
    """

    event_driven = True
    owns = (
        Column("med_enrolled", np.bool_, "flag", "covered by medical aid this year", "medical"),
        Column("med_paid_ytd", np.float32, "yuan",
               "medical aid paid this year (for the yearly assistance cap)", "medical"),
    )
    modifies = ("insured",)
    reads = ("registered", "size", "exit_year", "dibao_enrolled", "pc_assessed")
    handles = {"hospital_stay": "out_of_pocket"}
    #: how the common checks (povsim.testing) exercise the settings that need a context:
    #: a capacity far below the ~2 million households covered, and a priority that matters
    #: once that capacity binds
    check_settings = {
        "capacity": {"value": 100_000},
        "capacity_unit": {"value": "persons",
                          "overrides": {"pathways.medical.capacity": 1_000_000}},
        "priority": {"value": "random", "overrides": {"pathways.medical.capacity": 300_000}},
        # the yearly cap binds only for a low cap in a small scenario
        "assistance_cap": {"value": 500.0},
    }

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        ill = ctx.params.shocks.illness
        mean_bill = ill.cost_median * np.exp(ill.cost_sigma**2 / 2)
        share = max(1.0 - self.config.base_reimbursement - self.config.oop_cap_share, 0.0)
        per_person = ill.rate * mean_bill * share + self.config.premium_subsidy
        people = ctx.county_sum(hh.size * hh.registered, dtype=np.int64) * ctx.weight
        return people * per_person

    def start_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        hh.med_enrolled[:] = False
        hh.med_paid_ytd[:] = 0.0

    def step(self, ctx: Context, month: int) -> None:
        if month % 12 != 0 or not self.enabled:
            return
        hh = ctx.households
        want = hh.registered.copy()
        if self.config.cover_exited:
            want |= hh.exit_year >= 0
        if "dibao_enrolled" in hh:
            want |= hh.dibao_enrolled
        idx = np.flatnonzero(want)
        idx = idx[ctx.order(idx, self.priority)]
        cost = self.config.premium_subsidy * hh.size[idx].astype(np.float64) * ctx.weight
        chosen, _ = ctx.ration(idx, cost)
        ctx.mark(served=idx[chosen], waiting=idx[~chosen])
        self.schedule(ctx, idx[chosen], month)

    def relief(self, ctx: Context) -> np.ndarray:
        return ctx.households.med_paid_ytd.astype(np.float64)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        hh.med_enrolled[idx] = True
        hh.insured[idx] = True

    def out_of_pocket(self, ctx: Context, idx: np.ndarray, bill: np.ndarray) -> np.ndarray:
        """What households ``idx`` pay for ``bill`` after all layers and available money."""
        hh = ctx.households
        cfg = self.config
        oop0 = out_of_pocket_uninsured(bill, hh.insured[idx], cfg.base_reimbursement)
        if not self.enabled:
            return oop0
        enrolled = hh.med_enrolled[idx]
        if not enrolled.any():
            return oop0
        uplift = bill * cfg.poor_uplift
        cii = np.maximum(bill - cfg.cii_deductible, 0.0) * cfg.cii_rate
        rem = np.maximum(oop0 - uplift - cii, 0.0)
        room = np.maximum(cfg.assistance_cap - hh.med_paid_ytd[idx], 0.0)
        assist = np.minimum(rem * cfg.assistance_rate, room)
        rem2 = rem - assist
        capped = np.minimum(rem2, cfg.oop_cap_share * bill)
        rem3 = cfg.in_county_share * capped + (1 - cfg.in_county_share) * rem2
        aid = np.where(enrolled, oop0 - rem3, 0.0)
        # pay from county envelopes; an empty envelope leaves the household to pay
        counties = hh.county[idx]
        need_c = np.bincount(counties, weights=aid * ctx.weight,
                             minlength=ctx.places.n_counties)
        paid = ctx.spend(need_c)
        frac = np.divide(paid, need_c, out=np.ones_like(need_c), where=need_c > 0)
        aid = aid * frac[counties]
        hh.med_paid_ytd[idx] += aid
        ctx.mark(served=idx[aid > 0])
        return oop0 - aid
