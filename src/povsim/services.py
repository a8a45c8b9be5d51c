"""Village services built by the sectoral programmes (seed (十一)-(十六)).

Poor villages start with part of the services the seed requires (hardened road, safe water,
power, broadband, clinic, culture room); each year every county spends its share of the
``sectoral_programmes`` money building what is missing: first the villages due to exit this
year under the county plan (``plans.concentrate``, :func:`povsim.planning.villages_due`; the
services their exit requires first), then the other poor villages with the highest incidence
first. Services matter twice: a village exits only with its required services, and a
household's safe-water guarantee comes from its village. The education drive (控辍保学) brings
out-of-school children back at ``schooling_fix_rate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.budget import ration
from povsim.components import Component
from povsim.households import Column
from povsim.scenario.schema import SERVICE_ITEMS

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["ServicesProgramme"]


class ServicesProgramme(Component):
    """Builds village services with the ``services`` envelope of each county."""

    owns = (Column("service_draw", np.float32, "1",
                   "uniform deciding access in a partly covered simulated village", "services"),)
    modifies = ("schooling_ok", "village_services")
    reads = ("registered", "size", "place_exits", "plan")
    #: how the common checks exercise settings whose effect needs a context: at the check's
    #: small scale few households lack schooling, so the gap is widened there
    check_settings = {
        "schooling_fix_rate": {"value": 1.0,
                               "overrides": {"population.schooling_gap_share": 0.5}},
    }

    @property
    def enabled(self) -> bool:
        """Whether the scenario builds services at all."""
        return bool(self.config.enabled)

    def setup(self, ctx: Context) -> None:
        P = ctx.places
        items = self.config.items
        self.items = [k for k in SERVICE_ITEMS if k in items]
        u = ctx.streams.get("services.initial").random((len(SERVICE_ITEMS), P.n_villages))
        single = P.village_weight <= 1.0 + 1e-9
        for i, name in enumerate(SERVICE_ITEMS):
            cov = items[name].initial_coverage if name in items else 1.0
            cov_v = np.where(P.village_poor, cov, cov + (1 - cov) * self.config.nonpoor_initial_bonus)
            # a simulated village standing for several real ones holds the covered fraction
            P.services[name] = np.where(single, (u[i] < cov_v).astype(float), cov_v)
        # which households of a partly covered village have the service (fixed per household)
        ctx.households.service_draw[:] = ctx.streams.get("services.household").random(
            ctx.households.n, dtype=np.float32)

    def _missing(self, ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every missing (village, item) of every county, item by item: villages, items, cost."""
        P = ctx.places
        vs, items, cost = [], [], []
        for i, name in enumerate(self.items):
            have = P.services[name]
            miss = np.flatnonzero(have < 1.0)
            vs.append(miss)
            items.append(np.full(miss.size, i))
            cost.append(self.config.items[name].unit_cost * P.village_weight[miss]
                        * (1.0 - have[miss]))
        if not vs:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        return np.concatenate(vs), np.concatenate(items), np.concatenate(cost)

    def need(self, ctx: Context) -> np.ndarray:
        """Cost of everything missing, by county (yuan)."""
        v, _, cost = self._missing(ctx)
        return np.bincount(ctx.places.village_county[v], weights=cost,
                           minlength=ctx.places.n_counties)

    def build(self, ctx: Context) -> None:
        """Spend every county's services envelope on missing items, neediest villages first."""
        v, item, cost = self._missing(ctx)
        if v.size == 0:
            return
        P = ctx.places
        hh = ctx.households
        reg = ctx.village_sum(hh.size * hh.registered, dtype=np.float64)
        inc = reg[v] * ctx.weight / np.maximum(ctx.place.village_population[v], 1.0)
        # the villages due to exit under the county plan first, the services their exit
        # requires first; then safe water everywhere (households' guarantee depends on it),
        # then the rest, poor villages with the highest incidence first
        names = np.array(self.items)[item]
        water_first = names != "water"
        plan = ctx.plan
        due_v = plan.village_due
        if ctx.params.plans.concentrate and due_v is not None:
            later = ~due_v[v]
            required = np.isin(names, ctx.params.exits.village.require_services)
        else:
            later = np.zeros(v.size, dtype=bool)
            required = np.ones(v.size, dtype=bool)
        county = P.village_county[v]
        order = np.lexsort((item, -inc, ~P.village_poor[v], water_first,
                            later | ~required, later, county))
        v, item, cost, county = v[order], item[order], cost[order], county[order]
        # the first item money does not stretch to is built in part (a simulated village
        # stands for village_weight real ones)
        res = ration(county, cost, ctx.money_left(), partial=True)
        ctx.bound(res.binding)
        for i, name in enumerate(self.items):
            sel = (item == i) & (res.share > 0)
            cur = P.services[name][v[sel]]
            part = res.share[sel]
            P.services[name][v[sel]] = np.where(part >= 1.0, 1.0, cur + (1.0 - cur) * part)
        if res.spent.any():
            ctx.spend(res.spent)

    def start_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        if year > ctx.calendar.start_year:
            u = ctx.draws("services.schooling", year)
            hh.schooling_ok |= u < self.config.schooling_fix_rate

    def record(self, ctx: Context, year: int, flows: bool) -> dict[str, Any]:
        P = ctx.places
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

    def coords(self, ctx: Context) -> dict[str, Any]:
        return {"service": ("service", list(SERVICE_ITEMS))}
