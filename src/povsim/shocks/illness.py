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
from povsim.kernels import flatnonzero_less
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
        idx = flatnonzero_less(u, hh.illness_p)
        if idx.size == 0:
            return
        v = np.clip(u[idx].astype(np.float64) / hh.illness_p[idx], 1e-9, 1 - 1e-9)
        bill = cfg.cost_median * np.exp(cfg.cost_sigma * ndtri(v))
        oop = ctx.emit("hospital_stay", idx, bill)
        if oop is None:  # nobody handles hospital stays: no insurance layers at all
            oop = out_of_pocket_uninsured(bill, hh.insured[idx], 0.0)
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
        w = ctx.weight
        C = ctx.places.n_counties
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
