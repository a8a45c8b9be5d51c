"""January planning: the province splits the money, every county rations it, pathways enrol.

All counties plan at once (seed (十九): each county integrates its funds):

1. each pathway says who is eligible; an event-driven pathway gives its expected need instead;
   capacities (``pathways.*.capacity``, per year) are split across counties in proportion to
   the eligible units (event-driven pathways: to the registered poor people);
2. the province splits every source across counties (:func:`povsim.budget.county_split`);
3. every county splits each source across pathways by need or by shares
   (:func:`povsim.budget.envelope_weights`);
4. every pathway's eligible households are rationed in its priority order by its
   :meth:`~povsim.pathways.base.Pathway.ration` (:meth:`povsim.context.Context.ration`, the one
   rule of :mod:`povsim.budget.rationing`, or the capacity money buys,
   :meth:`povsim.context.Context.buy`);
   the services programme builds with its envelope;
5. each pathway enrols the households paid for, once for all counties (county by county, each
   in priority order): enrolment acts on each household separately.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from povsim.budget import county_split, envelope_weights, source_amounts
from povsim.context import PlanState, RunState
from povsim.scenario.schema import at

__all__ = ["allocate", "plan_year", "source_pathways"]


def allocate(run: RunState, year: int) -> np.ndarray:
    """Split the year's money of every source across counties (counties × sources, yuan)."""
    hh = run.households
    w = run.weight
    reg = hh.registered
    people = run.county_sum(hh.size * reg, dtype=np.int64) * w
    gap_pc = np.maximum(run.poverty_line - hh.pc_assessed, 0.0)
    gap = np.bincount(hh.county, weights=gap_pc * hh.size * reg * w,
                      minlength=run.places.n_counties)
    b = run.params.budget
    share = county_split(b.county_rule, people, gap, run.places.county_poor,
                         b.poor_county_min_share)
    return share[:, None] * source_amounts(run.params, year)[None, :]


def source_pathways(run: RunState) -> np.ndarray:
    """Pathways × sources: whether each source may pay for each pathway."""
    names = run.ledger.pathways
    mat = np.zeros((len(names), len(run.ledger.sources)), dtype=bool)
    for s, src in enumerate(run.params.budget.sources.values()):
        allowed = set(src.pathways) if src.pathways is not None else set(names)
        for p, pname in enumerate(names):
            mat[p, s] = pname in allowed
    return mat


def _split_capacity(run: RunState, total: float, county: np.ndarray,
                    units: np.ndarray) -> np.ndarray:
    """A yearly capacity split across counties in proportion to ``units`` (by ``county``)."""
    C = run.places.n_counties
    per = np.bincount(county, weights=units, minlength=C)
    share = per / per.sum() if per.sum() > 0 else np.zeros(C)
    return share * total


def plan_year(run: RunState, pathways: list[Any], services: Any, year: int) -> None:
    """Plan ``year`` for every county (see the module docstring); sets ``run.plan``."""
    hh = run.households
    C = run.places.n_counties
    w = run.weight
    plan = run.plan = PlanState()
    eligible: dict[str, np.ndarray] = {}
    for pw in pathways:
        plan.served[pw.name] = np.zeros(hh.n, dtype=bool)
        plan.waiting[pw.name] = np.zeros(hh.n, dtype=bool)
        if not pw.enabled:
            plan.capacity[pw.name] = np.zeros(C)
            continue
        cap = getattr(pw.config, "capacity", None)
        ctx = run.contexts[pw.name]
        if pw.event_driven:
            plan.need[pw.name] = run.call(pw, "expected_need", year)
            if cap is not None:
                idx = np.flatnonzero(hh.registered)
                plan.capacity[pw.name] = _split_capacity(
                    run, at(cap, year), hh.county[idx], pw.units(ctx, idx) * w)
            continue
        idx = np.flatnonzero(run.call(pw, "eligible", year))
        eligible[pw.name] = idx
        if cap is not None:
            plan.capacity[pw.name] = _split_capacity(
                run, at(cap, year), hh.county[idx], pw.units(ctx, idx) * w)
    run.ledger.open_year(year, allocate(run, year))

    names = run.ledger.pathways
    need = np.zeros((C, len(names)))
    candidates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for p_i, pw in enumerate(pathways):
        if not pw.enabled:
            continue
        if pw.event_driven:
            need[:, p_i] = plan.need[pw.name]
            continue
        # spending expected during the year besides enrolment (dibao's floor settlements)
        need[:, p_i] = run.call(pw, "expected_need", year)
        idx = eligible.get(pw.name)
        if idx is None or idx.size == 0:
            continue
        cost = run.call(pw, "cost", idx, year) * w
        credit = run.call(pw, "credit", idx, year) * w
        need[:, p_i] += np.bincount(hh.county[idx], weights=cost, minlength=C)
        candidates[pw.name] = (idx, cost, credit)
    s_idx = names.index("services")
    if services.enabled:
        need[:, s_idx] = run.call(services, "need")
    b = run.params.budget
    if b.pathway_rule == "shares":
        base = np.broadcast_to(
            np.array([(b.pathway_shares or {}).get(n, 0.0) for n in names]), need.shape)
    else:
        base = need
    enabled = np.array([p.enabled for p in pathways] + [services.enabled], dtype=bool)
    run.ledger.set_envelopes(envelope_weights(source_pathways(run), enabled, base))

    chosen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for pw in pathways:
        if pw.name not in candidates:
            continue
        ctx = run.contexts[pw.name]
        idx, cost, credit = candidates[pw.name]
        order = ctx.order(idx, pw.priority)
        idx, cost, credit = idx[order], cost[order], credit[order]
        units = pw.units(ctx, idx) * w if pw.name in plan.capacity else None
        paid, credit_ok = run.call(pw, "ration", idx, cost, credit, units, year)
        plan.served[pw.name][idx[paid]] = True
        plan.waiting[pw.name][idx[~paid]] = True
        if paid.any():
            chosen[pw.name] = (idx[paid], credit_ok[paid])
    if services.enabled:
        run.call(services, "build")
    for pw in pathways:
        if pw.name in chosen:
            idx, ok = chosen[pw.name]
            run.call(pw, "enrol", idx, year, run.month, ok)
