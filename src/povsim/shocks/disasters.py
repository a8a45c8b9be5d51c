"""Natural disasters: a county-level hazard catalogue and replayed historical events.

Each month, for each hazard (earthquake, flood, landslide) each county is struck with
probability ``annual_probability[region] / len(months)`` in the hazard's months (stream
``disaster.catalogue``, keyed by the month). A strike is spatially correlated: it affects a
``share_of_villages`` of the county's villages (all households in them) and destroys or damages
houses with the hazard's probabilities; affected households lose ``income_loss`` of their farm
and local income for ``income_loss_months`` (fewer with reconstruction aid). Replayed events
(``events:``) strike named counties or regions in a given year and month.

Damaged or destroyed houses break the housing guarantee until rebuilt (by the reconstruction
pathway, or by the household itself at ``pathways.reconstruction.self_rebuild_rate`` a year, at its
own cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.components import Component
from povsim.errors import PovsimError

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["HAZARDS", "DisasterShock"]

HAZARDS: tuple[str, ...] = ("earthquake", "flood", "landslide")


class DisasterShock(Component):
    """Earthquakes, floods and landslides striking counties and villages."""

    modifies = ("house_damage", "income_ytd", "loss_ytd")
    reads = ("farm_base", "wage_base", "transitory")
    #: ``houses_broken(idx, month) -> (aided, recovery_months)`` (the broken houses of all the
    #: counties one hazard or replayed event strikes in a month, by row) and
    #: ``rebuild_pending(idx) -> waits for aid`` (answered by reconstruction)
    emits = ("houses_broken", "rebuild_pending")
    #: the common checks (povsim.testing): a replayed event to add
    check_settings = {
        "events": {"value": [{"name": "check", "kind": "flood", "year": 2016, "month": 7,
                              "regions": ["liangshan_yi"], "share_of_villages": 1.0}]},
    }

    def setup(self, ctx: Context) -> None:
        P = ctx.places
        self.events = []
        for i, ev in enumerate(self.config.events):
            counties = []
            for name in ev.counties:
                try:
                    counties.append(P.county_index(name))
                except KeyError:
                    raise PovsimError(
                        f"shocks.disasters.events.{i}.counties: unknown county {name!r} "
                        f"(expected a name from calibration/counties.csv, e.g. 九寨沟县)"
                    ) from None
            for region in ev.regions:
                counties.extend(int(c) for c in P.counties_in_region(region))
            self.events.append((ev, sorted(set(counties))))
        C, R = P.n_counties, P.n_regions
        self.hit_households = np.zeros((C, len(HAZARDS)))
        self.county_events = np.zeros((C, len(HAZARDS)))
        self.destroyed = np.zeros(C)
        self.damaged = np.zeros(C)
        self._R = R
        # the villages of each county (ascending ids), and a village lookup reused by _strike
        self._villages = [np.flatnonzero(P.village_county == c) for c in range(C)]
        self._hit_village = np.zeros(P.n_villages, dtype=bool)

    def start_year(self, ctx: Context, year: int) -> None:
        self.hit_households[:] = 0
        self.county_events[:] = 0
        self.destroyed[:] = 0
        self.damaged[:] = 0

    def step(self, ctx: Context, month: int) -> None:
        if not self.config.enabled:
            return
        P = ctx.places
        year = ctx.calendar.start_year + month // 12
        moy = month % 12 + 1
        u = ctx.streams.get("disaster.catalogue", month).random((len(HAZARDS), P.n_counties))
        for h, name in enumerate(HAZARDS):
            hz = getattr(self.config, name)
            if moy not in hz.months:
                continue
            p = np.array([hz.annual_probability.get(r, 0.0) for r in P.region_names])
            p_month = p[P.county_region] / len(hz.months)
            self._strike(ctx, month, np.flatnonzero(u[h] < p_month).tolist(), h,
                         hz.share_of_villages, hz.destroyed, hz.damaged, hz.income_loss)
        for ev, counties in self.events:
            if ev.year == year and ev.month == moy:
                h = HAZARDS.index(ev.kind)
                self._strike(ctx, month, counties, h, ev.share_of_villages, ev.destroyed,
                             ev.damaged, ev.income_loss)

    def _strike(self, ctx: Context, month: int, counties: list[int], h: int, share: float,
                p_destroyed: float, p_damaged: float, income_loss: float) -> None:
        """Strike ``counties`` (ascending) with hazard ``h`` (or a replayed event) this month.

        Each county's hit villages and damage come from its own streams (keyed by the month,
        the county and the hazard); the broken houses of all the counties struck are then
        raised in one ``houses_broken`` event (aid is rationed county by county, so this is
        what one event per county would give, with one rationing instead of many).
        """
        P = ctx.places
        hh = ctx.households
        struck: list[int] = []
        rows: list[np.ndarray] = []
        levels: list[np.ndarray] = []
        hit_village = self._hit_village
        for c in counties:
            villages = self._villages[c]
            if villages.size == 0:
                continue
            uv = ctx.streams.get("disaster.villages", month, c, h).random(villages.size)
            hit_v = villages[uv < share]
            if hit_v.size == 0:
                continue
            sl = P.county_slice(c)
            ud = ctx.streams.get("disaster.damage", month, c, h).random(sl.stop - sl.start)
            hit_village[hit_v] = True  # np.isin(hh.village[sl], hit_v), by lookup
            in_hit = hit_village[hh.village[sl]]
            hit_village[hit_v] = False
            ud = ud[in_hit]
            destroyed = ud < p_destroyed
            damaged = (~destroyed) & (ud < p_destroyed + p_damaged)
            struck.append(c)
            rows.append(np.flatnonzero(in_hit) + sl.start)
            levels.append(np.where(destroyed, 2, np.where(damaged, 1, 0)).astype(np.int8))
        if not struck:
            return
        idx = np.concatenate(rows)
        level = np.concatenate(levels)
        county = np.repeat(np.array(struck, dtype=np.intp), [r.size for r in rows])
        hh.house_damage[idx] = np.maximum(hh.house_damage[idx], level)
        is_broken = level > 0
        broken = idx[is_broken]
        aided = np.zeros(idx.size, dtype=bool)
        recovery = 0
        answer = ctx.emit("houses_broken", broken, month) if broken.size else None
        if answer is not None:
            got, recovery = answer
            aided[is_broken] = got
        months = np.where(aided, recovery, self.config.income_loss_months)
        local = (hh.farm_base[idx].astype(np.float64)
                 + self.config.local_wage_share * hh.wage_base[idx]
                 ) * hh.transitory[idx]
        hh.income_ytd[idx] -= local * income_loss * months / 12.0
        w = ctx.weight
        C = P.n_counties
        self.hit_households[:, h] += np.bincount(county, minlength=C) * w
        self.county_events[struck, h] += 1
        self.destroyed += np.bincount(county[level == 2], minlength=C) * w
        self.damaged += np.bincount(county[level == 1], minlength=C) * w

    def end_year(self, ctx: Context, year: int) -> None:
        hh = ctx.households
        cfg = ctx.params.pathways.reconstruction
        broken = hh.house_damage > 0
        cand = np.flatnonzero(broken)
        # households waiting for (or served by) reconstruction aid do not rebuild on their own
        pending = ctx.emit("rebuild_pending", cand) if cand.size else None
        if pending is not None:
            broken[cand[pending]] = False
        u = ctx.draws("disaster.self_rebuild", year)
        fix = np.flatnonzero(broken & (u < cfg.self_rebuild_rate))
        cost = np.where(hh.house_damage[fix] == 2, cfg.rebuild_subsidy, cfg.repair_subsidy)
        hh.loss_ytd[fix] += cost
        hh.house_damage[fix] = 0

    def record(self, ctx: Context, year: int, flows: bool) -> dict[str, Any]:
        R = ctx.places.n_regions
        if flows:
            hit = ctx.by_region(self.hit_households)
            ev = ctx.by_region(self.county_events)
            des = ctx.by_region(self.destroyed)
            dam = ctx.by_region(self.damaged)
        else:
            hit = np.full((R, len(HAZARDS)), np.nan)
            ev = hit.copy()
            des = np.full(R, np.nan)
            dam = des.copy()
        return {
            "disaster_households_hit": (("region", "hazard"), hit,
                                        {"units": "households",
                                         "description": "households in villages struck"}),
            "disaster_county_events": (("region", "hazard"), ev,
                                       {"units": "events",
                                        "description": "county-level disaster strikes"}),
            "houses_destroyed": (("region",), des, {"units": "houses",
                                                   "description": "houses destroyed"}),
            "houses_damaged": (("region",), dam, {"units": "houses",
                                                 "description": "houses damaged"}),
        }

    def coords(self, ctx: Context) -> dict[str, Any]:
        return {"hazard": ("hazard", list(HAZARDS))}
