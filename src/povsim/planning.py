"""January planning: the province splits the money, every county plans and rations it, pathways enrol.

All counties plan at once (seed (十九): each county integrates its funds):

1. each pathway says who is eligible; an event-driven pathway gives its expected need instead;
   capacities (``pathways.*.capacity``, per year) are split across counties in proportion to
   the eligible units (event-driven pathways: to the registered poor people);
2. the province splits every source across counties (:func:`povsim.budget.county_split`; a
   source with ``county_rule: need`` in proportion to the pathways' ``county_need``);
3. every county splits each source across pathways by need or by shares
   (:func:`povsim.budget.envelope_weights`);
3a. every county makes its plan (seed (三) 以县为单位分年度制定到村到户的扶贫脱贫计划, (十九)
   每年…下达减贫任务, :func:`county_plans`): from its registered poor, its rural population,
   its money this year (the grants of sources paying for pathways that lift households,
   :func:`plan_sources`) and the deadline it derives a planned exit year and this year's
   poverty-reduction task, and picks the villages due to exit this year (:func:`villages_due`,
   the nearest to the incidence limit first); with ``plans.concentrate`` the households of the
   villages due come first in every pathway's rationing and the services programme builds for
   them first; at the year end the county is verified against its task (二十三,
   :func:`plan_record`);
3b. pathways that organise before households are served act
   (:meth:`~povsim.pathways.base.Pathway.organise`: the village task forces are staffed with
   their envelope, and with ``enrol_first`` the households they cover come next in every
   pathway's rationing, :func:`concentrate`);
4. every pathway's eligible households are rationed in its priority order by its
   :meth:`~povsim.pathways.base.Pathway.ration` (:meth:`povsim.context.Context.ration`, the one
   rule of :mod:`povsim.budget.rationing`, or the capacity money buys,
   :meth:`povsim.context.Context.buy`);
   the services programme builds with its envelope;
5. each pathway enrols the households paid for, once for all counties (county by county, each
   in priority order): enrolment acts on each household separately.

Every rationing says what held each county back (:data:`povsim.budget.BINDING`); the year's
code per pathway and county is ``binding_constraint`` in the results (:func:`plan_record`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from povsim.budget import BINDING, county_split, envelope_weights, segment_cumsum, source_amounts
from povsim.budget.rationing import ELIGIBILITY, NOBODY_LEFT, NONE
from povsim.context import Marks, PlanState, RunState
from povsim.scenario.schema import at

__all__ = ["allocate", "concentrate", "county_plans", "plan_record", "plan_sources", "plan_year",
           "source_pathways", "villages_due"]


def county_plans(
    registered: np.ndarray,
    people: np.ndarray,
    money: np.ndarray,
    year: int,
    *,
    max_incidence: float,
    deadline: int,
    cost_per_exit: float,
    max_task_share: float,
    exit_year: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every county's exit plan and this year's poverty-reduction task, from its own state.

    Parameters
    ----------
    registered, people
        Registered poor and rural population per county (persons, real scale).
    money
        Grant money the county has this year (yuan).
    year
        The planning year.
    max_incidence
        Incidence below which the county may exit (``exits.county.max_incidence``).
    deadline
        Year by which every county is to exit and every poor person be lifted out
        (``plans.deadline``).
    cost_per_exit
        Money needed to lift one person out (``plans.cost_per_exit``, yuan/person).
    max_task_share
        Largest share of its register a county can lift in one year (``plans.max_task_share``).
    exit_year
        Year each county already exited (-1 or absent: not yet).

    Returns
    -------
    dict
        Per county: ``pace`` (persons the county can lift this year: its money over the cost
        per exit, at most ``max_task_share`` of its register), ``gap`` (persons to lift before
        its incidence is below the limit), ``exit_year`` (this year plus the years the gap
        takes at that pace, less one, no later than the deadline and no earlier than this
        year; a county that exited keeps its year), ``feasible`` (1 if that pace reaches the
        limit by the deadline) and ``task`` (persons to lift this year: the gap spread evenly
        over the years to the planned exit, but at least the register spread evenly over the
        years to the deadline, and at most the register).
    """
    registered = np.asarray(registered, dtype=np.float64)
    people = np.asarray(people, dtype=np.float64)
    money = np.asarray(money, dtype=np.float64)
    years_left = max(deadline - year + 1, 1)
    gap = np.maximum(registered - max_incidence * people, 0.0)
    pace = np.minimum(money / cost_per_exit, max_task_share * registered)
    with np.errstate(over="ignore"):  # a tiny pace gives an infinite need: the deadline caps it
        need = np.ceil(np.divide(gap, pace, out=np.full(gap.shape, np.inf), where=pace > 0))
    need = np.where(gap > 0, need, 1.0)
    feasible = year + need - 1 <= max(deadline, year)
    planned = np.where(feasible, year + need - 1, max(deadline, year)).astype(np.int64)
    if exit_year is not None:
        done = np.asarray(exit_year) >= 0
        planned = np.where(done, np.asarray(exit_year, dtype=np.int64), planned)
    to_exit = np.maximum(planned - year + 1, 1)
    task = np.minimum(registered, np.maximum(gap / to_exit, registered / years_left))
    return {"pace": pace, "gap": gap, "exit_year": planned,
            "feasible": feasible.astype(np.float64), "task": task}


def villages_due(
    village_county: np.ndarray,
    remaining: np.ndarray,
    incidence: np.ndarray,
    n_due: np.ndarray,
) -> np.ndarray:
    """The villages due to exit this year: in each county the nearest to the limit first.

    Parameters
    ----------
    village_county
        County of each village.
    remaining
        Real poor villages each (simulated) village still stands for (not yet exited).
    incidence
        Registered poor / population of each village.
    n_due
        Real villages each county plans to take out this year.

    Returns
    -------
    numpy.ndarray
        One flag per village: its county's plan takes it out this year (the villages with the
        lowest incidence, in that order, until the county's ``n_due`` is reached; a simulated
        village standing for several real ones is due if its first real village is).
    """
    village_county = np.asarray(village_county, dtype=np.intp)
    C = np.asarray(n_due).size
    order = np.lexsort((np.arange(village_county.size), incidence, village_county))
    vc = village_county[order]
    rem = np.asarray(remaining, dtype=np.float64)[order]
    before = segment_cumsum(rem, vc, C) - rem
    due = np.zeros(village_county.size, dtype=bool)
    due[order] = (rem > 0) & (before < np.asarray(n_due, dtype=np.float64)[vc] - 1e-9)
    return due


def plan_sources(run: RunState, pathways: list[Any]) -> np.ndarray:
    """One flag per source: its grants count in the county plans' money (:func:`county_plans`).

    A source counts when it may pay for a pathway that lifts households itself, or for the
    services programme; money only for pathways that do not (``Pathway.lifts`` false: the
    task forces' staffing) is not money per person lifted (``plans.cost_per_exit``).
    """
    lifts = np.array([bool(getattr(pw, "lifts", True)) for pw in pathways] + [True])
    return (source_pathways(run) & lifts[:, None]).any(axis=0)


def _make_plans(run: RunState, year: int, pathways: list[Any]) -> None:
    """The county plans of ``year`` (after the money is allocated): ``run.plan.county`` and
    ``run.plan.village_due``."""
    hh = run.households
    P = run.places
    w = run.weight
    cfg = run.params.plans
    plan = run.plan
    reg_c = run.county_sum(hh.size * hh.registered, dtype=np.int64) * w
    grants = (run.ledger.kinds == "grant") & plan_sources(run, pathways)
    money = run.ledger.available[:, grants].sum(axis=1)
    out = county_plans(
        reg_c, run.place.county_people, money, year,
        max_incidence=run.params.exits.county.max_incidence, deadline=cfg.deadline,
        cost_per_exit=cfg.cost_per_exit, max_task_share=cfg.max_task_share,
        exit_year=run.place.county_exit_year)
    reg_v = run.village_sum(hh.size * hh.registered, dtype=np.float64) * w
    inc_v = np.divide(reg_v, run.place.village_population, out=np.zeros(P.n_villages),
                      where=run.place.village_population > 0)
    remaining = P.village_weight * (1.0 - run.place.village_exited) * P.village_poor
    left_c = np.bincount(P.village_county, weights=remaining, minlength=P.n_counties)
    to_exit = np.maximum(out["exit_year"] - year + 1, 1)
    n_due = np.where(out["exit_year"] >= year, np.ceil(left_c / to_exit - 1e-9), 0.0)
    out["villages_due"] = np.minimum(n_due, left_c)
    plan.county = out
    plan.village_due = villages_due(P.village_county, remaining, inc_v, n_due)


def concentrate(run: RunState, idx: np.ndarray) -> np.ndarray:
    """The stable permutation putting households ``idx`` (sorted by county, in priority
    order) of the villages due to exit first within each county (``plans.concentrate``),
    and within those groups the households of villages with a task force first
    (``pathways.task_forces.enrol_first``, :mod:`povsim.pathways.task_forces`)."""
    due = run.plan.village_due
    use_due = run.params.plans.concentrate and due is not None
    covered = run.forces.get("covered") if run.forces.get("enrol_first") else None
    if (not use_due and covered is None) or idx.size == 0:
        return np.arange(idx.size)
    hh = run.households
    # np.lexsort((~covered, ~due, county)) as one small integer per household,
    # county × 4 + 2 × (not due) + (not covered): a stable sort of 16-bit integers is a radix
    # sort (one pass, the same permutation)
    county = hh.county[idx]
    small = np.int16 if int(county.max()) < 2**13 else np.int64
    key = county.astype(small) * small(4)
    if use_due:
        key += small(2) * ~due[hh.village[idx]]
    if covered is not None:
        key += ~covered[idx]
    return np.argsort(key, kind="stable")


def plan_record(run: RunState, flows: bool) -> dict[str, Any]:
    """The year's plans, their verification and what held every pathway back (results).

    ``county_task_met`` is the verification of seed (二十三): people who exited this year
    against the county's task.
    """
    P = run.places
    C = P.n_counties
    names = run.ledger.pathways
    plan = run.plan
    binding = np.zeros((len(names), C), dtype=np.int8)
    task = np.full(C, np.nan)
    exit_year = np.full(C, np.nan)
    due = np.full(C, np.nan)
    met = np.full(C, np.nan)
    feasible = np.full(C, np.nan)
    if flows:
        for i, name in enumerate(names):
            got = plan.binding.get(name)
            if got is not None:
                binding[i] = got
        if plan.county:
            task = plan.county["task"]
            exit_year = plan.county["exit_year"].astype(np.float64)
            due = plan.county["villages_due"]
            feasible = plan.county["feasible"]
            exited = np.bincount(run.households.county,
                                 weights=run.households.size * run.flows["exited"],
                                 minlength=C) * run.weight
            met = (exited >= task - 0.5).astype(np.float64)
    codes = list(range(len(BINDING)))
    return {
        "binding_constraint": (
            ("pathway", "county"), binding,
            {"units": "1", "flag_values": codes, "flag_meanings": " ".join(BINDING),
             "description": "what held the pathway back in the county this year: money, "
                            "capacity, eligibility (everyone eligible served, some registered "
                            "poor not eligible) or nobody left to serve; none: pathway off or "
                            "base year"}),
        "county_task": (("county",), task, {
            "units": "persons",
            "description": "poverty-reduction task of the county plan this year (seed 十九)"}),
        "county_planned_exit_year": (("county",), exit_year, {
            "units": "year", "description": "exit year of the county plan made this January"}),
        "county_plan_feasible": (("county",), feasible, {
            "units": "1",
            "description": "1 if the county's pace reaches the exit limit by the deadline"}),
        "county_villages_due": (("county",), due, {
            "units": "villages",
            "description": "poor villages the county plan takes out this year"}),
        "county_task_met": (("county",), met, {
            "units": "1",
            "description": "1 if this year's exits reached the county's task (seed 二十三)"}),
    }


def allocate(run: RunState, year: int) -> np.ndarray:
    """Split the year's money of every source across counties (counties × sources, yuan)."""
    hh = run.households
    w = run.weight
    reg = hh.registered
    people = run.county_people(reg) * w
    gap = run.county_gap(hh.pc_assessed, run.poverty_line, reg, w)
    b = run.params.budget
    P = run.places
    amounts = source_amounts(run.params, year)
    out = np.empty((P.n_counties, amounts.size))
    shares: dict[str, np.ndarray] = {}
    villages = None
    need_rule = []
    for s, src in enumerate(b.sources.values()):
        rule = src.county_rule or b.county_rule
        if rule == "need":
            need_rule.append((s, src))
            continue
        if rule not in shares:
            if rule == "poor_villages" and villages is None:
                villages = np.bincount(P.village_county, weights=P.village_poor * P.village_weight,
                                       minlength=P.n_counties)
            shares[rule] = county_split(rule, people, gap, P.county_poor,
                                        b.poor_county_min_share, villages)
        out[:, s] = shares[rule] * amounts[s]
    if need_rule:
        default = shares.get(b.county_rule)
        if default is None:
            default = county_split(b.county_rule, people, gap, P.county_poor,
                                   b.poor_county_min_share)
        for s, src in need_rule:
            out[:, s] = _need_share(run, src, year, default) * amounts[s]
    return out


def _need_share(run: RunState, src: Any, year: int, default: np.ndarray) -> np.ndarray:
    """Shares of the counties in a source with ``county_rule: need``: in proportion to the
    :meth:`~povsim.pathways.base.Pathway.county_need` of the enabled pathways it pays (the
    ``default`` shares of budget.county_rule if they need nothing)."""
    need = np.zeros(run.places.n_counties)
    for comp in run.components:
        paid = src.pathways is None or comp.name in src.pathways
        if paid and comp.name in run.plan.served and getattr(comp, "enabled", False):
            got = run.call(comp, "county_need", year)
            if got is not None:
                need += np.asarray(got, dtype=np.float64)
    total = need.sum()
    return need / total if total > 0 else default


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
    plan = run.plan = PlanState(served=Marks(hh.n), waiting=Marks(hh.n))
    eligible: dict[str, np.ndarray] = {}
    for pw in pathways:
        plan.served.add(pw.name)
        plan.waiting.add(pw.name)
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
    _make_plans(run, year, pathways)
    reg_hh = run.county_sum(hh.registered, dtype=np.int64).astype(np.float64)
    for pw in pathways:
        if not pw.enabled:
            plan.binding[pw.name] = np.full(C, NONE, dtype=np.int8)
            continue
        if pw.event_driven:
            left = reg_hh
        else:
            idx = eligible[pw.name]
            left = np.maximum(reg_hh - np.bincount(hh.county[idx], weights=hh.registered[idx],
                                                   minlength=C), 0.0)
        plan.left[pw.name] = left
        plan.binding[pw.name] = np.where(left > 0, ELIGIBILITY, NOBODY_LEFT).astype(np.int8)
    plan.binding["services"] = np.full(C, NOBODY_LEFT if services.enabled else NONE,
                                       dtype=np.int8)

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
    for pw in pathways:
        if pw.enabled:
            # pathways that staff or buy places before households are served (task forces)
            run.call(pw, "organise", year)

    chosen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for pw in pathways:
        if pw.name not in candidates:
            continue
        ctx = run.contexts[pw.name]
        idx, cost, credit = candidates[pw.name]
        order = ctx.order(idx, pw.priority)
        order = order[concentrate(run, idx[order])]
        idx, cost, credit = idx[order], cost[order], credit[order]
        units = pw.units(ctx, idx) * w if pw.name in plan.capacity else None
        paid, credit_ok = run.call(pw, "ration", idx, cost, credit, units, year)
        plan.served.mark(pw.name, idx[paid])
        plan.waiting.mark(pw.name, idx[~paid])
        if paid.any():
            chosen[pw.name] = (idx[paid], credit_ok[paid])
    if services.enabled:
        run.call(services, "build")
    for pw in pathways:
        if pw.name in chosen:
            idx, ok = chosen[pw.name]
            run.call(pw, "enrol", idx, year, run.month, ok)
