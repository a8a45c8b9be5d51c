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
    from povsim.model import PovertyModel

__all__ = ["HousingRenovationPathway"]


class HousingRenovationPathway(Pathway):
    """Renovating dangerous houses in place."""

    owns = (Column("reno_status", np.int8, "code", "0 never, 1 enrolled, 2 done",
                   "housing_renovation"),)
    modifies = ("house_dangerous", "hazard_zone")
    reads = ("registered", "willing_to_move", "relocated")

    def eligible(self, model: PovertyModel, year: int) -> np.ndarray:
        hh = model.households
        return (hh.registered & (hh.reno_status == 0) & ~hh.relocated
                & (hh.house_dangerous | (hh.hazard_zone & ~hh.willing_to_move)))

    def cost(self, model: PovertyModel, idx: np.ndarray, year: int) -> np.ndarray:
        hh = model.households
        return np.where(hh.hazard_zone[idx], self.config.hazard_unit_cost, self.config.unit_cost)

    def enrol(self, model: PovertyModel, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        model.households.reno_status[idx] = 1
        self.schedule(model, idx, month)

    def activate(self, model: PovertyModel, idx: np.ndarray, month: int) -> None:
        hh = model.households
        hh.house_dangerous[idx] = False
        hh.hazard_zone[idx] = False
        hh.reno_status[idx] = 2
