"""Village services built by the sectoral programmes (seed (十一)-(十六)).

Poor villages start with part of the services the seed requires (hardened road, safe water,
power, broadband, clinic, culture room); each year every county spends its share of the
``sectoral_programmes`` money building what is missing, poor villages with the highest
incidence first. Services matter twice: a village exits only with its required services, and a
household's safe-water guarantee comes from its village. The education drive (控辍保学) brings
out-of-school children back at ``schooling_fix_rate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.components import Component
from povsim.scenario.schema import SERVICE_ITEMS

if TYPE_CHECKING:
    from povsim.model import PovertyModel

__all__ = ["ServicesProgramme"]


class ServicesProgramme(Component):
    """Builds village services with the ``services`` envelope of each county."""

    modifies = ("schooling_ok",)

    @property
    def enabled(self) -> bool:
        """Whether the scenario builds services at all."""
        return bool(self.config.enabled)

    def setup(self, model: PovertyModel) -> None:
        P = model.places
        items = self.config.items
        self.items = [k for k in SERVICE_ITEMS if k in items]
        u = model.streams.get("services.initial").random((len(SERVICE_ITEMS), P.n_villages))
        single = P.village_weight <= 1.0 + 1e-9
        for i, name in enumerate(SERVICE_ITEMS):
            cov = items[name].initial_coverage if name in items else 1.0
            cov_v = np.where(P.village_poor, cov, cov + (1 - cov) * self.config.nonpoor_initial_bonus)
            # a simulated village standing for several real ones holds the covered fraction
            P.services[name] = np.where(single, (u[i] < cov_v).astype(float), cov_v)
        # which households of a partly covered village have the service (fixed per household)
        model.households.add("service_draw", np.float32, "1",
                             "uniform deciding access in a partly covered simulated village",
                             "services",
                             values=model.streams.get("services.household").random(
                                 model.households.n, dtype=np.float32))

    def _missing(self, model: PovertyModel, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        P = model.places
        villages = np.flatnonzero(P.village_county == c)
        vs, items, cost = [], [], []
        for i, name in enumerate(self.items):
            have = P.services[name][villages]
            miss = villages[have < 1.0]
            vs.append(miss)
            items.append(np.full(miss.size, i))
            cost.append(self.config.items[name].unit_cost * P.village_weight[miss]
                        * (1.0 - P.services[name][miss]))
        if not vs:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        return np.concatenate(vs), np.concatenate(items), np.concatenate(cost)

    def need(self, model: PovertyModel, c: int) -> float:
        """Cost of everything missing in county ``c`` (yuan)."""
        return float(self._missing(model, c)[2].sum())

    def build(self, model: PovertyModel, c: int, ledger_index: int) -> None:
        """Spend county ``c``'s services envelope on missing items, neediest villages first."""
        v, item, cost = self._missing(model, c)
        if v.size == 0:
            return
        P = model.places
        hh = model.households
        # registered people per village, over this county's households only (its villages)
        sl = P.county_slice(c)
        reg = np.bincount(hh.village[sl], weights=hh.size[sl] * hh.registered[sl],
                          minlength=P.n_villages)
        inc = reg[v] * model.weight / np.maximum(model.village_population[v], 1.0)
        # safe water first everywhere (households' guarantee depends on it), then the rest,
        # poor villages with the highest incidence first
        water_first = np.array(self.items)[item] != "water"
        order = np.lexsort((item, -inc, ~P.village_poor[v], water_first))
        v, item, cost = v[order], item[order], cost[order]
        left = model.ledger.remaining(c, ledger_index, "grant")
        # in priority order; the first item money does not stretch to is built in part (a
        # simulated village stands for village_weight real ones)
        spent = 0.0
        for j in range(v.size):
            if left <= 1e-6:
                break
            name = self.items[item[j]]
            part = min(1.0, left / cost[j])
            cur = P.services[name][v[j]]
            P.services[name][v[j]] = 1.0 if part >= 1.0 else cur + (1.0 - cur) * part
            spent += cost[j] * part
            left -= cost[j] * part
        if spent > 0:
            model.ledger.draw(c, ledger_index, spent, "grant")

    def start_year(self, model: PovertyModel, year: int) -> None:
        hh = model.households
        if year > model.calendar.start_year:
            u = model.draws("services.schooling", year)
            hh.schooling_ok |= u < self.config.schooling_fix_rate

    def record(self, model: PovertyModel, year: int, flows: bool) -> dict[str, Any]:
        P = model.places
        w = P.village_weight * P.village_poor
        cov = np.array([
            float((P.services[name] * w).sum() / max(w.sum(), 1e-9)) for name in SERVICE_ITEMS
        ])
        return {
            "services_coverage": (
                ("service",), cov,
                {"units": "1", "description": "share of poor villages with the service"},
            )
        }

    def coords(self, model: PovertyModel) -> dict[str, Any]:
        return {"service": ("service", list(SERVICE_ITEMS))}
