"""Year-end assessment: household exits and returns, new poor, village and county exits.

domain.md §5. A registered household exits when its per-capita net income is at or above the
line (plus ``exits.household.income_margin``) and its 两不愁三保障 hold. An exited household whose
income falls below the line again is found by return monitoring (``return_detection_rate``) and
re-registered: a *return*. A poor household never registered is found with probability
``population.targeting.identification_rate``: *new poor*. In the review year the register is
cleaned (wrongly included households removed, counted among exits and in ``exited_by_review``)
and a larger share of the missed poor is found. Where a village task force works
(``run.forces``, :mod:`povsim.pathways.task_forces`) the identification and return-detection
rates are at least the force's, and the force's yearly re-check removes wrongly included
households (counted among exits and in ``exited_by_recheck``).

Dynamic management (seed (四) 动态化管理, ``exits.household.intake``): with ``next_year`` (the
default) the households found at a year-end review are registered the next January
(:func:`intake`), before the counties plan, so the pathways serve them that year; they are that
year's returns and new poor, and they are in its year-end stock only if they have not exited by
its assessment. With ``year_end`` they are registered at once and counted in the year-end stock
of the year they were found. Households found and awaiting registration are not omissions.

The register therefore obeys, every year and in every county,
``registered(t) = registered(t-1) - exited + returned + new_poor`` (people), where the returns
and new poor of year ``t`` are the households that entered the register during ``t``.

Villages exit when their incidence is below ``exits.village.max_incidence`` and their required
services are present; counties when incidence, wrong-exit rate and omission rate are below the
limits. Exited places stay exited ("摘帽不摘政策").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.budget.rationing import segment_cumsum
from povsim.context import PlaceState
from povsim.households import Households, segment_sums
from povsim.kernels import segment_argsort, use_compiled
from povsim.population.places import Places
from povsim.scenario.schema import at

if TYPE_CHECKING:
    from povsim.context import RunState

__all__ = ["TOL", "assess", "exit_threshold", "guarantees", "initial_state", "intake"]

TOL = 0.5  # yuan per person: incomes are compared with the line to within half a yuan
_TOL = TOL
#: rows per block of the block-wise temporaries (assumption: 1 Mi rows, 8 MB of float64, small
#: against the table at full scale yet long enough to keep numpy's per-call overhead negligible)
_BLOCK = 1 << 20


def exit_threshold(line: float, income_margin: float) -> float:
    """Per-capita net income at or above which a registered household passes the income test
    (yuan/person/year): the line plus ``exits.household.income_margin``, less :data:`TOL`."""
    return line * (1.0 + income_margin) - TOL


def guarantees(run: RunState) -> dict[str, np.ndarray]:
    """The 两不愁三保障 (plus safe water) of every household as boolean arrays."""
    hh = run.households
    water_village = run.places.services.get("water")
    water = hh.water_household.copy()
    if water_village is not None:
        water |= run.village_below(hh.service_draw, water_village)
    return {
        "food_clothing": hh.pc_income >= run.poverty_line - _TOL,
        "schooling": hh.schooling_ok.copy(),
        "medical": hh.insured.copy(),
        "housing": ~(hh.house_dangerous | hh.hazard_zone | (hh.house_damage > 0)),
        "water": water,
    }


def stable_income(run: RunState, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """This year's household net income with the transitory factor on market income set to 1
    (yuan/year): what verification reads as the household's stable income; of the households
    ``lo:hi`` (default: all; :func:`stable_at_least` passes blocks, so that the temporaries
    are a block's, not all households')."""
    hh = run.households
    hi = hh.n if hi is None else hi
    out = hh.income_ytd[lo:hi] - hh.oop_ytd[lo:hi]
    out -= hh.loss_ytd[lo:hi]
    market = np.add(hh.wage_base[lo:hi], hh.farm_base[lo:hi], dtype=np.float64)
    market *= 1.0 - hh.transitory[lo:hi]
    out += market
    if "dibao_floor" in hh:
        # an income floor that held this year holds whatever the transitory luck (the dibao
        # settlement pays the shortfall): the stable income is at least the floor
        rows = lo + np.flatnonzero(hh.dibao_floor[lo:hi] > 0)
        if rows.size:
            size = hh.size[rows].astype(np.float64)
            floor = hh.dibao_floor[rows] * size
            actual = hh.income_ytd[rows] - hh.oop_ytd[rows] - hh.loss_ytd[rows]
            met = actual >= floor - TOL * size
            mine = rows - lo
            out[mine] = np.where(met, np.maximum(out[mine], floor), out[mine])
    return out


def stable_at_least(run: RunState, threshold: float) -> np.ndarray:
    """Whether each household's stable per-capita income (:func:`stable_income` / size) is at
    least ``threshold`` (yuan/person/year), computed block by block: no float64 temporary over
    all households (8 bytes a household at the year-end peak of a full-scale run)."""
    hh = run.households
    ok = np.empty(hh.n, dtype=bool)
    for lo in range(0, hh.n, _BLOCK):
        hi = min(lo + _BLOCK, hh.n)
        pc = stable_income(run, lo, hi)
        pc /= hh.size[lo:hi]
        np.greater_equal(pc, threshold, out=ok[lo:hi])
    return ok


def intake(run: RunState, year: int) -> None:
    """Register, in January of ``year``, the households found at the last year-end review.

    With ``exits.household.intake: next_year`` :func:`assess` keeps the households it finds
    (returns and new poor) in ``run.found``; this registers them before the counties plan and
    keeps them in ``run.entered`` as the year's returns and new poor.
    """
    hh = run.households
    found = run.found
    run.entered = found
    run.found = {}
    for mask in found.values():
        hh.registered[mask] = True
        hh.registered_year[mask] = year


def initial_state(households: Households, places: Places, weight: float) -> PlaceState:
    """Per-place state at the start: which places exist, none exited yet."""
    P = places
    hh = households
    village_people = np.bincount(hh.village, weights=hh.size.astype(np.float64),
                                 minlength=P.n_villages) * weight
    # unsimulated people of truncated groups count in the denominators of their county
    county_people = (
        np.bincount(hh.county, weights=hh.size.astype(np.float64), minlength=P.n_counties)
        * weight + P.county_unsimulated
    )
    v_sim = np.bincount(P.village_county, weights=village_people, minlength=P.n_counties)
    share = np.divide(village_people, v_sim[P.village_county],
                      out=np.zeros(P.n_villages), where=v_sim[P.village_county] > 0)
    return PlaceState(
        village_exited=np.zeros(P.n_villages),  # share of the represented villages exited
        county_exit_year=np.full(P.n_counties, -1, dtype=np.int16),
        village_people=village_people,
        county_people=county_people,
        village_population=village_people + share * P.county_unsimulated[P.village_county],
    )


def assess(run: RunState, year: int) -> None:
    """Assess households, villages and counties at the end of ``year``; store the flows."""
    hh = run.households
    scn = run.params
    rules = scn.exits
    line = run.poverty_line
    size = hh.size  # int8: divisions and bincount weights convert it to float64 exactly
    # in place, in the same order of operations: no float64 temporaries over all households
    np.subtract(hh.income_ytd, hh.oop_ytd, out=hh.pc_income)
    hh.pc_income -= hh.loss_ytd
    hh.pc_income /= size
    np.subtract(hh.income_ytd, hh.benefit_ytd, out=hh.pc_assessed)
    hh.pc_assessed /= size
    g = guarantees(run)
    ok = np.ones(hh.n, dtype=bool)
    for name in rules.household.require:
        ok &= g[name]
    del g  # full-length temporaries: at 1:1 each is 7.7 MB (bool) to 61 MB (float)
    income_ok = hh.pc_income >= exit_threshold(line, rules.household.income_margin)
    stable_ok = np.ones(hh.n, dtype=bool)
    stable_poor = np.ones(hh.n, dtype=bool)
    if rules.household.require_stable:
        stable_ok = stable_at_least(run, line - _TOL)
        stable_poor = ~stable_ok
    reg = hh.registered
    exiting = reg & income_ok & stable_ok & ok
    del ok, income_ok, stable_ok  # full-length flags: freed before the year-end peak below

    quota = rules.quota
    if quota is not None:
        exiting = _apply_quota(run, reg, exiting, at(quota, year))
    plans = scn.plans
    task = (run.plan.county or {}).get("task")
    if plans.verify_within_task and task is not None:
        exiting = within_task(hh.county, hh.size, hh.pc_income, exiting,
                              task * (1.0 + plans.task_slack), run.weight)

    review = scn.population.targeting.review_year == year
    forces = run.forces
    covered = forces.get("covered")
    removed = np.zeros(hh.n, dtype=bool)
    recheck = np.zeros(hh.n, dtype=bool)
    if review or covered is not None:
        wrongly = reg & ~exiting & hh.wrongly_included & (hh.pc_income >= line - _TOL)
        u = run.draws("targeting.review", year)
        if review:
            removed = wrongly & (u < scn.population.targeting.review_removal_rate)
        if covered is not None:
            # a village's task force re-checks its register every year (识真贫): removed at
            # the force's rate where it is above the review's (one draw decides both)
            recheck = wrongly & covered & ~removed & (u < forces["removal"])
        exiting |= removed | recheck
        del wrongly, u

    # returns and new poor among households off the register (before this year's exits)
    poor_now = (hh.pc_income < line - _TOL) & stable_poor
    off = ~reg
    ever_exited = hh.exit_year >= 0
    u_find = run.draws("targeting.identification", year)
    ident = (
        scn.population.targeting.review_identification_rate
        if review
        else at(scn.population.targeting.identification_rate, year)
    )
    returning = off & poor_now & ever_exited & (u_find < rules.household.return_detection_rate)
    new_poor = off & poor_now & ~ever_exited & (u_find < ident)
    if covered is not None:
        # where a task force works the rates are at least the force's (the same draw)
        near = off & poor_now & covered
        returning |= near & ever_exited & (u_find < forces["return_detection"])
        new_poor |= near & ~ever_exited & (u_find < forces["identification"])
        del near

    hh.registered[exiting] = False
    hh.exit_year[exiting] = year
    hh.wrongly_included[exiting] = False
    if rules.household.intake == "next_year":
        # found now, registered next January (intake); this year's inflow entered in January
        run.found = {"returned": returning, "new_poor": new_poor}
        none = np.zeros(hh.n, dtype=bool)
        returning = run.entered.get("returned", none)
        new_poor = run.entered.get("new_poor", none)
        run.entered = {}
    else:
        hh.registered[returning | new_poor] = True
        hh.registered_year[returning | new_poor] = year
    run.flows = {
        "exited": exiting,
        "exited_by_review": removed,
        "exited_by_recheck": recheck,
        "returned": returning,
        "new_poor": new_poor,
    }
    del u_find
    _assess_places(run, year, size, stable_poor)


def within_task(county: np.ndarray, size: np.ndarray, pc_income: np.ndarray,
                exiting: np.ndarray, cap: np.ndarray, weight: float) -> np.ndarray:
    """The households each county declares out: at most its cap of people, richest first.

    Parameters
    ----------
    county, size, pc_income
        Every household's county, persons and per-capita income (yuan/person/year).
    exiting
        Households that pass the exit test.
    cap
        People each county may declare out this year (its task × (1 + ``plans.task_slack``),
        real persons).
    weight
        Real households per simulated household.

    Returns
    -------
    numpy.ndarray
        The subset of ``exiting`` declared out: in each county, by per-capita income from the
        highest, every household whose people before it are still below the cap (so a county
        may end up to one household over it, never more).
    """
    cand = np.flatnonzero(exiting)
    if cand.size == 0:
        return exiting
    c = np.asarray(county)[cand]
    # richest first within each county, ties in row order: np.lexsort((cand, -pc, c))
    order = segment_argsort(-np.asarray(pc_income)[cand], c,
                            compiled=use_compiled(np.size(county)))
    cand, c = cand[order], c[order]
    people = np.asarray(size)[cand].astype(np.float64) * weight
    before = segment_cumsum(people, c, np.asarray(cap).size) - people
    out = np.zeros(exiting.shape, dtype=bool)
    out[cand[before < np.asarray(cap, dtype=np.float64)[c] - 1e-9]] = True
    return out


def _apply_quota(
    run: RunState, reg: np.ndarray, exiting: np.ndarray, quota: float
) -> np.ndarray:
    """Exactly ``quota`` people exit (as near as households allow), richest first."""
    hh = run.households
    w = run.weight
    cand = np.flatnonzero(reg)
    # households meeting the rule first, then the rest, each by income, highest first
    order = np.lexsort((-hh.pc_income[cand], ~exiting[cand]))
    cand = cand[order]
    people = np.cumsum(hh.size[cand].astype(np.float64) * w)
    k = int(np.searchsorted(people, quota - 1e-9, side="left")) + 1
    k = min(k, cand.size) if quota > 0 else 0
    out = np.zeros(hh.n, dtype=bool)
    out[cand[:k]] = True
    return out


def _people(persons: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Persons per place (float64) from persons per household (small integers), summed exactly
    over each place's rows: the same numbers as a weighted ``bincount``, without float64
    temporaries over all households."""
    return segment_sums(persons, start, stop, dtype=np.int64).astype(np.float64)


def _assess_places(
    run: RunState, year: int, size: np.ndarray, stable_poor: np.ndarray
) -> None:
    """Village and county exits; ``size`` (household sizes) and the persistent-poverty mask
    are the ones :func:`assess` used."""
    hh = run.households
    P = run.places
    rules = run.params.exits
    w = run.weight
    # people are small integers: summed exactly as integers over each place's contiguous rows
    reg_size = size * hh.registered  # int8: at most the largest household size
    reg_people_v = _people(reg_size, P.village_start, P.village_stop) * w
    inc_v = np.divide(reg_people_v, run.place.village_population,
                      out=np.zeros(P.n_villages), where=run.place.village_population > 0)
    # share of the represented villages with every required service (all of them at scale 1)
    services_ok = np.ones(P.n_villages)
    for item in rules.village.require_services:
        have = P.services.get(item)
        if have is not None:
            services_ok = np.minimum(services_ok, have)
    can = P.village_poor & (inc_v < rules.village.max_incidence)
    run.place.village_exited = np.where(can, np.maximum(run.place.village_exited, services_ok),
                                    run.place.village_exited)

    line = run.poverty_line
    reg_people_c = _people(reg_size, P.county_start, P.county_stop) * w
    del reg_size
    inc_c = reg_people_c / np.maximum(run.place.county_people, 1.0)
    poor = hh.pc_income < line - _TOL
    if rules.household.require_stable:
        # assessors judge wrong exits and omissions by persistent, not passing, poverty
        poor &= stable_poor
    exited_ever = (~hh.registered) & (hh.exit_year >= 0)
    cs, ce = P.county_start, P.county_stop
    wrong_exit = _people(size * (exited_ever & poor), cs, ce)
    exited_people = _people(size * exited_ever, cs, ce)
    wrong_rate = np.divide(wrong_exit, exited_people, out=np.zeros(P.n_counties),
                           where=exited_people > 0)
    missed = poor & ~hh.registered
    for mask in run.found.values():  # found at this review, registered next January
        missed &= ~mask
    omitted = _people(size * missed, cs, ce) * w
    omission_rate = omitted / np.maximum(run.place.county_people, 1.0)
    ok = inc_c < rules.county.max_incidence
    if rules.county.max_wrong_exit_rate is not None:
        ok &= wrong_rate <= rules.county.max_wrong_exit_rate
    if rules.county.max_omission_rate is not None:
        ok &= omission_rate <= rules.county.max_omission_rate
    for item in rules.county.require_services:
        have = P.services.get(item)
        if have is not None:
            share = np.bincount(P.village_county,
                                weights=P.village_weight * (have >= 1.0) * P.village_poor,
                                minlength=P.n_counties)
            total = np.bincount(P.village_county, weights=P.village_weight * P.village_poor,
                                minlength=P.n_counties)
            ok &= share >= total - 1e-9
    c_new = P.county_poor & (run.place.county_exit_year < 0) & ok
    run.place.county_exit_year[c_new] = year
    run.place.county_stats = {
        "incidence": inc_c,
        "wrong_exit_rate": wrong_rate,
        "omission_rate": omission_rate,
    }
