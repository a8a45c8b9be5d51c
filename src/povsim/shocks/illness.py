"""Illness: hospital stays per person, a heavy-tailed bill, lost work and chronic illness.

Every month each household draws one uniform ``u`` (stream ``illness``, keyed by the month: common
random numbers). The household has a stay when ``u < p`` with
``p = 1 - exp(-rate × (size + (chronic_multiplier - 1) × chronic) / 12)``; then ``v = u / p`` is
itself uniform and sets the bill's quantile (log-normal with median ``cost_median`` and log-sd
``cost_sigma``), so the same household meets the same bill in every scenario. The household
pays the out-of-pocket part (after insurance and, if enrolled, medical aid), an earning patient
loses ``labour_months_lost`` months of one worker's wage, and the most severe ``chronic_onset``
share of stays leave a chronic condition that removes that worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtri

from povsim.components import Component
from povsim.households import Column
from povsim.kernels import LazyKernel, use_compiled
from povsim.pathways.medical import out_of_pocket_uninsured

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["IllnessShock"]


class IllnessShock(Component):
    """Hospital stays that cost money and labour."""

    owns = (Column("illness_p", np.float32, "probability", "chance of a hospital stay this month",
                   "illness"),)
    modifies = ("oop_ytd", "income_ytd", "n_chronic", "n_labour", "wage_base", "monthly_income")
    reads = ("size", "transitory", "insured")
    #: ``hospital_stay(idx, bill) -> out-of-pocket`` (answered by medical aid)
    emits = ("hospital_stay",)

    def setup(self, ctx: Context) -> None:
        C = ctx.places.n_counties
        self.stays = np.zeros(C)
        self.oop = np.zeros(C)
        self.bills = np.zeros(C)
        self.chronic_onsets = np.zeros(C)

    def start_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        cfg = self.config
        # the chance depends on (size, chronic) only: evaluate it once per pair (int8 columns,
        # so at most 128 x 128 pairs) and look it up, instead of expm1 over every household
        size_i, chronic_i = np.meshgrid(np.arange(128, dtype=np.int8),
                                        np.arange(128, dtype=np.int8), indexing="ij")
        persons = size_i + (cfg.chronic_multiplier - 1.0) * chronic_i
        table = (-np.expm1(-cfg.rate * persons / 12.0)).astype(np.float32).ravel()
        key = hh.size.astype(np.int16) * np.int16(128)
        key += hh.n_chronic
        np.take(table, key, out=hh.illness_p)
        self.stays[:] = 0
        self.oop[:] = 0
        self.bills[:] = 0
        self.chronic_onsets[:] = 0

    def step(self, ctx: Context, month: int) -> None:
        if not self.config.enabled:
            return
        cfg = self.config
        hh = ctx.households
        u = ctx.draws("illness", month)
        idx = np.flatnonzero(u < hh.illness_p)
        if idx.size == 0:
            return
        v = np.clip(u[idx].astype(np.float64) / hh.illness_p[idx], 1e-9, 1 - 1e-9)
        bill = cfg.cost_median * np.exp(cfg.cost_sigma * ndtri(v))
        oop = ctx.emit("hospital_stay", idx, bill)
        if oop is None:  # nobody handles hospital stays: no insurance layers at all
            oop = out_of_pocket_uninsured(bill, hh.insured[idx], 0.0)
        w = ctx.weight
        C = ctx.places.n_counties
        if use_compiled(hh.n):
            # the same updates as below, fused into one pass over the stays (full scale)
            stays, oop_c, bills_c, onsets = _apply_stays(
                idx, np.ascontiguousarray(oop, dtype=np.float64), bill, v,
                1.0 - cfg.chronic_onset, float(cfg.labour_months_lost), hh.county,
                hh.n_labour, hh.n_chronic, hh.wage_base, hh.transitory, hh.oop_ytd,
                hh.income_ytd, hh.monthly_income, C)
            self.stays += stays * w
            self.oop += oop_c * w
            self.bills += bills_c * w
            self.chronic_onsets += onsets * w
            return
        hh.oop_ytd[idx] += oop
        # lost work
        workers = hh.n_labour[idx].astype(np.float64)
        has = workers > 0
        per_worker = np.where(has, hh.wage_base[idx] * hh.transitory[idx]
                              / np.maximum(workers, 1), 0.0)
        hh.income_ytd[idx] -= per_worker * cfg.labour_months_lost / 12.0
        # the most severe stays leave a chronic condition; an earning patient stops working
        onset = v > 1.0 - cfg.chronic_onset
        on = idx[onset]
        hh.n_chronic[on] += 1
        lose = on[hh.n_labour[on] > 0]
        if lose.size:
            w_old = hh.n_labour[lose].astype(np.float32)
            keep = (w_old - 1) / w_old
            lost = hh.wage_base[lose] * (1 - keep) * hh.transitory[lose]
            hh.wage_base[lose] *= keep
            hh.n_labour[lose] -= 1
            hh.monthly_income[lose] -= lost / 12.0
        c = hh.county[idx]
        self.stays += np.bincount(c, minlength=C) * w
        self.oop += np.bincount(c, weights=oop, minlength=C) * w
        self.bills += np.bincount(c, weights=bill, minlength=C) * w
        self.chronic_onsets += np.bincount(hh.county[on], minlength=C) * w

    def record(self, ctx: Context, year: int, flows: bool) -> dict[str, Any]:
        nan = np.full(ctx.places.n_regions, np.nan)

        def reg(x: np.ndarray) -> np.ndarray:
            return ctx.by_region(x) if flows else nan
        return {
            "illness_stays": (("region",), reg(self.stays),
                              {"units": "stays", "description": "hospital stays (illness shocks)"}),
            "medical_bills": (("region",), reg(self.bills),
                              {"units": "yuan", "description": "total hospital bills"}),
            "medical_oop": (("region",), reg(self.oop),
                            {"units": "yuan", "description": "out-of-pocket spending on stays"}),
            "chronic_onsets": (("region",), reg(self.chronic_onsets),
                               {"units": "persons",
                                "description": "stays that left a chronic condition"}),
        }


def _apply_stays_loop(idx, oop, bill, v, onset_cut, months_lost, county, n_labour,  # type: ignore[no-untyped-def]
                      n_chronic, wage_base, transitory, oop_ytd, income_ytd, monthly_income,
                      n_counties):
    """:meth:`IllnessShock.step`'s updates after the bills, one stay at a time (compiled).

    The arithmetic repeats the NumPy code operation for operation and in the same types
    (float32 wages, float64 money), so the results are the same bit for bit; the county totals
    are added in the order of ``idx``, as ``np.bincount`` adds them.
    """
    stays = np.zeros(n_counties, dtype=np.int64)
    oop_c = np.zeros(n_counties)
    bills_c = np.zeros(n_counties)
    onsets = np.zeros(n_counties, dtype=np.int64)
    one = np.float32(1.0)
    twelve = np.float32(12.0)
    for k in range(idx.size):
        i = idx[k]
        c = county[i]
        oop_ytd[i] += oop[k]
        workers = np.float64(n_labour[i])
        per_worker = 0.0
        if workers > 0:
            per_worker = np.float64(wage_base[i] * transitory[i]) / max(workers, 1.0)
        income_ytd[i] -= per_worker * months_lost / 12.0
        if v[k] > onset_cut:
            n_chronic[i] += 1
            onsets[c] += 1
            if n_labour[i] > 0:
                w_old = np.float32(n_labour[i])
                keep = (w_old - one) / w_old
                lost = wage_base[i] * (one - keep) * transitory[i]
                wage_base[i] *= keep
                n_labour[i] -= 1
                monthly_income[i] -= np.float64(lost / twelve)
        stays[c] += 1
        oop_c[c] += oop[k]
        bills_c[c] += bill[k]
    return stays, oop_c, bills_c, onsets


_apply_stays = LazyKernel(_apply_stays_loop)
