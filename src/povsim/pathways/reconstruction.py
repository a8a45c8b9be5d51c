"""灾后重建帮扶一批 — post-disaster reconstruction (seed (九)).

When a disaster damages or destroys the house of a registered (or near-poor) household, the
county pays the repair or rebuilding subsidy from its reconstruction envelope, registered
households first; the house is safe again ``delay_months`` later and production restarts after
``income_recovery_months`` instead of the unaided ``shocks.disasters.income_loss_months``.
Households the money does not reach wait for next year's envelope; households outside the
pathway rebuild on their own (``self_rebuild_rate`` a year) and pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.model import PovertyModel

__all__ = ["ReconstructionPathway"]


class ReconstructionPathway(Pathway):
    """Rebuilding houses and restarting production after disasters."""

    event_driven = True
    owns = (Column("recon_status", np.int8, "code",
                   "0 none, 1 waiting for aid, 2 aided (rebuilding)", "reconstruction"),)
    modifies = ("house_damage",)
    reads = ("registered", "pc_assessed")

    def setup(self, model: PovertyModel) -> None:
        self.spent_last = np.zeros(model.places.n_counties)

    def expected_need(self, model: PovertyModel, year: int) -> np.ndarray:
        hh = model.households
        waiting = hh.recon_status == 1
        cost = np.where(hh.house_damage == 2, self.config.rebuild_subsidy,
                        self.config.repair_subsidy) * waiting
        pending = np.bincount(hh.county, weights=cost, minlength=model.places.n_counties)
        return pending * model.weight + self.spent_last

    def eligible_now(self, model: PovertyModel, idx: np.ndarray) -> np.ndarray:
        """Which damaged households ``idx`` the pathway serves."""
        hh = model.households
        near = model.params.population.near_poor_multiple * model.poverty_line
        return hh.registered[idx] | (hh.pc_assessed[idx] < near)

    def aid(self, model: PovertyModel, idx: np.ndarray, month: int) -> np.ndarray:
        """Pay for damaged households ``idx`` (county by county); returns who was aided."""
        hh = model.households
        aided = np.zeros(len(idx), dtype=bool)
        if not self.enabled or idx.size == 0:
            return aided
        elig = self.eligible_now(model, idx)
        p_i = model.ledger.pathway_index(self.name)
        cost = np.where(hh.house_damage[idx] == 2, self.config.rebuild_subsidy,
                        self.config.repair_subsidy) * model.weight
        counties = hh.county[idx]
        for c in np.unique(counties[elig]):
            pos = np.flatnonzero(elig & (counties == c))
            order = np.lexsort((hh.pc_assessed[idx[pos]], ~hh.registered[idx[pos]]))
            pos = pos[order]
            left = model.ledger.remaining(int(c), p_i)
            k = int(np.searchsorted(np.cumsum(cost[pos]), left + 1e-6, side="right"))
            if k:
                paid = model.ledger.draw(int(c), p_i, float(cost[pos[:k]].sum()))
                self.spent_year[c] += paid
            aided[pos[:k]] = True
        hh.recon_status[idx[aided]] = 2
        hh.recon_status[idx[elig & ~aided]] = 1
        model.served[self.name][idx[aided]] = True
        model.waiting_mask[self.name][idx[elig & ~aided]] = True
        self.schedule(model, idx[aided], month)
        return aided

    def start_year(self, model: PovertyModel, year: int) -> None:
        self.spent_year = np.zeros(model.places.n_counties)

    def step(self, model: PovertyModel, month: int) -> None:
        if month % 12 == 0 and self.enabled:
            waiting = np.flatnonzero(model.households.recon_status == 1)
            self.aid(model, waiting, month)

    def activate(self, model: PovertyModel, idx: np.ndarray, month: int) -> None:
        hh = model.households
        hh.house_damage[idx] = 0
        hh.recon_status[idx] = 0

    def end_year(self, model: PovertyModel, year: int) -> None:
        self.spent_last = self.spent_year.copy()
