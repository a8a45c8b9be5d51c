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
from povsim.kernels import LazyKernel, use_compiled
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

    def relief_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        return ctx.households.med_paid_ytd[rows].astype(np.float64)

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
        if use_compiled(hh.n):
            # the same arithmetic as below, fused into two passes over the stays (full scale)
            args = (cfg.poor_uplift, cfg.cii_deductible, cfg.cii_rate, cfg.assistance_cap,
                    cfg.assistance_rate, cfg.oop_cap_share, cfg.in_county_share,
                    1 - cfg.in_county_share)
            aid, need_c = _aid_kernel(idx, bill, oop0, enrolled, hh.med_paid_ytd, hh.county,
                                      *(float(a) for a in args), float(ctx.weight),
                                      ctx.places.n_counties)
            paid = ctx.spend(need_c)
            frac = np.divide(paid, need_c, out=np.ones_like(need_c), where=need_c > 0)
            served = _pay_kernel(idx, aid, frac, hh.county, hh.med_paid_ytd)
            ctx.mark(served=idx[served])
            return oop0 - aid
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


def _aid_loop(idx, bill, oop0, enrolled, paid_ytd, county, poor_uplift, cii_deductible,  # type: ignore[no-untyped-def]
              cii_rate, assistance_cap, assistance_rate, oop_cap_share, in_county_share,
              out_county_share, weight, n_counties):
    """:meth:`MedicalPathway.out_of_pocket`'s aid per stay and its county totals (compiled).

    Operation for operation and type for type the NumPy code (``paid_ytd`` is float32, so
    the room under the cap is float32 as there), so the results are equal bit for bit.
    """
    aid = np.zeros(idx.size)
    need_c = np.zeros(n_counties)
    cap32 = np.float32(assistance_cap)
    zero32 = np.float32(0.0)
    for k in range(idx.size):
        i = idx[k]
        b = bill[k]
        a = 0.0
        if enrolled[k]:
            # np.maximum(x, y) is x if x >= y (or x is NaN) else y; np.minimum likewise
            uplift = b * poor_uplift
            x = b - cii_deductible
            cii = (x if (x >= 0.0 or x != x) else 0.0) * cii_rate
            x = oop0[k] - uplift - cii
            rem = x if (x >= 0.0 or x != x) else 0.0
            r32 = cap32 - paid_ytd[i]
            room = np.float64(r32 if (r32 >= zero32 or r32 != r32) else zero32)
            x = rem * assistance_rate
            assist = x if (x <= room or x != x) else room
            rem2 = rem - assist
            y = oop_cap_share * b
            capped = rem2 if (rem2 <= y or rem2 != rem2) else y
            rem3 = in_county_share * capped + out_county_share * rem2
            a = oop0[k] - rem3
        aid[k] = a
        need_c[county[i]] += a * weight
    return aid, need_c


def _pay_loop(idx, aid, frac, county, paid_ytd):  # type: ignore[no-untyped-def]
    """Scale the aid to what the envelopes paid and add it to the year's aid (compiled)."""
    served = np.zeros(idx.size, dtype=np.bool_)
    for k in range(idx.size):
        i = idx[k]
        a = aid[k] * frac[county[i]]
        aid[k] = a
        paid_ytd[i] = np.float32(np.float64(paid_ytd[i]) + a)
        served[k] = a > 0
    return served


_aid_kernel = LazyKernel(_aid_loop)
_pay_kernel = LazyKernel(_pay_loop)
