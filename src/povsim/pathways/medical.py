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
    from povsim.model import PovertyModel

__all__ = ["MedicalPathway", "out_of_pocket_uninsured"]


def out_of_pocket_uninsured(bill: np.ndarray, insured: np.ndarray, base_reimbursement: float
                            ) -> np.ndarray:
    """What a household pays without medical aid: the bill less basic insurance (yuan)."""
    return bill * np.where(insured, 1.0 - base_reimbursement, 1.0)


class MedicalPathway(Pathway):
    """Premium subsidies and layered reimbursement for poor patients."""

    event_driven = True
    owns = (
        Column("med_enrolled", np.bool_, "flag", "covered by medical aid this year", "medical"),
        Column("med_paid_ytd", np.float32, "yuan",
               "medical aid paid this year (for the yearly assistance cap)", "medical"),
    )
    modifies = ("insured",)
    reads = ("registered", "size")

    def expected_need(self, model: PovertyModel, year: int) -> np.ndarray:
        hh = model.households
        ill = model.params.shocks.illness
        mean_bill = ill.cost_median * np.exp(ill.cost_sigma**2 / 2)
        share = max(1.0 - self.config.base_reimbursement - self.config.oop_cap_share, 0.0)
        per_person = ill.rate * mean_bill * share + self.config.premium_subsidy
        people = model.county_sum(hh.size * hh.registered, dtype=np.int64) * model.weight
        return people * per_person

    def start_year(self, model: PovertyModel, year: int) -> None:
        hh = model.households
        hh.med_enrolled[:] = False
        hh.med_paid_ytd[:] = 0.0

    def step(self, model: PovertyModel, month: int) -> None:
        if month % 12 != 0 or not self.enabled:
            return
        hh = model.households
        want = hh.registered.copy()
        if self.config.cover_exited:
            want |= hh.exit_year >= 0
        if "dibao_enrolled" in hh:
            want |= hh.dibao_enrolled
        p_i = model.ledger.pathway_index(self.name)
        premium = self.config.premium_subsidy
        P = model.places
        for c in range(P.n_counties):
            sl = P.county_slice(c)
            idx = np.flatnonzero(want[sl]) + sl.start
            if idx.size == 0:
                continue
            cost = premium * hh.size[idx].astype(np.float64) * model.weight
            left = model.ledger.remaining(c, p_i)
            k = int(np.searchsorted(np.cumsum(cost), left + 1e-6, side="right"))
            if k:
                model.ledger.draw(c, p_i, float(cost[:k].sum()))
            chosen = idx[:k]
            hh.med_enrolled[chosen] = True
            hh.insured[chosen] = True
            model.served[self.name][chosen] = True
            model.waiting_mask[self.name][idx[k:]] = True

    def out_of_pocket(self, model: PovertyModel, idx: np.ndarray, bill: np.ndarray) -> np.ndarray:
        """What households ``idx`` pay for ``bill`` after all layers and available money."""
        hh = model.households
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
        need_c = np.bincount(counties, weights=aid * model.weight,
                             minlength=model.places.n_counties)
        frac = np.ones(model.places.n_counties)
        p_i = model.ledger.pathway_index(self.name)
        for c in np.flatnonzero(need_c > 0):
            paid = model.ledger.draw(int(c), p_i, float(need_c[c]))
            frac[c] = paid / need_c[c]
        aid = aid * frac[counties]
        hh.med_paid_ytd[idx] += aid
        model.served[self.name][idx[aid > 0]] = True
        return oop0 - aid
