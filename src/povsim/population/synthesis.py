"""Building the synthetic population from the calibration tables.

For each county the rural population is split into a poor-village group and a non-poor-village
group. In each group per-capita income is log-normal (a permanent level times a transitory
factor), with the location chosen so the share of people below the base-year poverty line
matches the group's registered poor adjusted for targeting errors. Registration then picks
households: a share ``1 - inclusion_error`` of the registered people from below the line and the
rest from just above it, so the register starts with both kinds of error. Totals are exact: the
weighted registered-poor stock equals ``population.registered_poor`` within rounding (exactly, in
people, at scale 1).

Counties of a region differ (``population.county_heterogeneity``, :func:`county_totals`): a
county's rural population and registered poor come from the sources where they give them
(``registered_poor`` of calibration/counties.csv), else from log-normal draws of the
``population.counties`` stream; the region's poor villages follow its registered poor.

Outside the 88 poor counties only households below ``near_poor_multiple`` times the line are
simulated; the rest are counted in ``Places.county_unsimulated``.

Randomness: every county draws from its own named streams (``population.size``,
``population.income``, ``population.registration``, ``population.composition``,
``population.housing``; the county totals from ``population.counties``, one per region), so changing, say, the targeting error changes registration only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from povsim.households import CAUSES, Households
from povsim.kernels import helper_threads
from povsim.population.data import InputTables, check_inputs, resolve_data_path
from povsim.population.places import Places
from povsim.rng import Streams
from povsim.scenario.schema import REGIONS, Scenario, at

__all__ = ["MAX_COUNTY_INCIDENCE", "SyntheticPopulation", "county_totals", "synthesize"]

OWNER = "population"
# the assumptions of household composition are in the scenario: population.composition


@dataclass
class SyntheticPopulation:
    """A built population: the household table, the places and the scale."""

    households: Households
    places: Places
    scale: int
    registered_target: int

    @property
    def weight(self) -> float:
        """Real households represented by one simulated household."""
        return float(self.scale)


def _stochastic_round(x: float, rng: np.random.Generator) -> int:
    base = int(np.floor(x))
    return base + int(rng.random() < (x - base))


def _largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``values`` summing exactly to ``total``."""
    values = np.asarray(values, dtype=float)
    if values.sum() <= 0:
        out = np.zeros(len(values), dtype=np.int64)
        if total and len(values):
            out[0] = total
        return out
    raw = values / values.sum() * total
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:short]] += 1
    return out


@dataclass
class _Group:
    """A village group (poor or non-poor villages of one county) before households exist."""

    county: int
    poor_villages: bool
    people: float  # real persons
    registered: float  # real registered persons
    real_villages: float
    sim_villages: int
    truncate: bool  # simulate only the low-income band


#: assumption: no county has more than half of its rural people on the register (the highest
#: sourced area incidence is 25.4 %, Yi+Tibetan 2013, sichuan_poor_population.csv); a county
#: drawn above it gets more people instead
MAX_COUNTY_INCIDENCE = 0.5


def county_totals(
    people_total: float,
    registered_total: float,
    sourced: np.ndarray,
    z_people: np.ndarray,
    z_incidence: np.ndarray,
    sigma_people: float,
    sigma_incidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Rural people and registered poor of a region's counties.

    Parameters
    ----------
    people_total, registered_total
        The region's rural population and registered poor (persons).
    sourced
        Each county's sourced registered poor (persons; ``NaN``: not in the sources).
    z_people, z_incidence
        Standard normal draws, one per county.
    sigma_people, sigma_incidence
        Log-sd of the county's population share and of its incidence relative to the
        region's (``population.county_heterogeneity``).

    Returns
    -------
    people, registered
        Per county; each sums to the region's total (the registered poor exactly unless the
        sourced counties alone exceed it). Population shares are log-normal; the registered
        poor of a county without a sourced figure are its people times a log-normal incidence
        factor, scaled so the unsourced counties share what the sourced ones leave; a county
        above :data:`MAX_COUNTY_INCIDENCE` gets the people that bring it to the limit, taken
        from the others in proportion.
    """
    sourced = np.asarray(sourced, dtype=float)
    pw = np.exp(sigma_people * np.asarray(z_people, dtype=float))
    people = people_total * pw / pw.sum()
    fixed = np.isfinite(sourced)
    raw = people * np.exp(sigma_incidence * np.asarray(z_incidence, dtype=float))
    rest = max(registered_total - sourced[fixed].sum(), 0.0)
    free = raw * ~fixed
    share = rest * free / free.sum() if free.sum() > 0 else np.zeros_like(free)
    reg = np.where(fixed, sourced, share)
    need = reg / MAX_COUNTY_INCIDENCE
    over = need > people
    if over.any() and (~over).any():
        extra = (need - people)[over].sum()
        people = np.where(over, need, people * (1.0 - extra / people[~over].sum()))
    return people, reg


def _plan_groups(scn: Scenario, counties, regions,
                 streams: Streams) -> tuple[list[_Group], np.ndarray, np.ndarray]:
    pop = scn.population
    comp = pop.composition
    het = pop.county_heterogeneity
    K = pop.scale
    groups: list[_Group] = []
    county_people = np.zeros(len(counties))
    county_registered = np.zeros(len(counties))
    for r in REGIONS:
        idx = [i for i, c in enumerate(counties) if c.region == r]
        if not idx:
            continue
        ratio = pop.registered_poor / 4_976_500
        reg_total = regions.get("registered_poor", r) * ratio
        people_total = regions.get("rural_population", r)
        villages_total = regions.get("poor_villages", r)
        sourced = np.array([np.nan if counties[i].registered_poor is None
                            else counties[i].registered_poor * ratio for i in idx])
        z = streams.get("population.counties", REGIONS.index(r)).standard_normal((2, len(idx)))
        people_c, reg_c = county_totals(people_total, reg_total, sourced, z[0], z[1],
                                        het.people_sigma, het.incidence_sigma)
        villages_c = _largest_remainder(np.maximum(reg_c, 1e-9), int(round(villages_total)))
        for j, ci in enumerate(idx):
            county_people[ci] = people_c[j]
            county_registered[ci] = reg_c[j]
            vp = min(pop.village_population,
                     comp.poor_village_people_cap * people_c[j] / max(villages_c[j], 1))
            pv_people = villages_c[j] * vp
            pv_reg = min(pop.share_poor_in_poor_villages * reg_c[j],
                         comp.poor_village_registered_cap * pv_people)
            npv_people = people_c[j] - pv_people
            npv_reg = reg_c[j] - pv_reg
            npv_villages = max(1.0, round(npv_people / pop.village_population))
            truncate = not counties[ci].poor
            if villages_c[j] > 0:
                groups.append(
                    _Group(ci, True, pv_people, pv_reg, float(villages_c[j]),
                           max(1, int(round(villages_c[j] / K))), truncate)
                )
            groups.append(
                _Group(ci, False, npv_people, npv_reg, npv_villages,
                       max(1, int(round(npv_villages / K))), truncate)
            )
    return groups, county_people, county_registered


#: household columns the population owns, in table order: name, dtype, units, description
COLUMNS: tuple[tuple[str, Any, str, str], ...] = (
    ("county", np.int16, "index", "county of residence (index into places)"),
    ("village", np.int32, "index", "village of registration (index into places)"),
    ("region", np.int8, "index", "region (index into places.region_names)"),
    ("size", np.int8, "persons", "household members"),
    ("n_labour", np.int8, "persons", "able working-age members"),
    ("n_elderly", np.int8, "persons", "members aged 60 and over"),
    ("n_children", np.int8, "persons", "school-age members"),
    ("n_disabled", np.int8, "persons", "disabled members"),
    ("n_chronic", np.int8, "persons", "chronically ill members"),
    ("cause", np.int8, "code", "primary cause of poverty at registration (-1: none); "
     + ", ".join(f"{i}={c}" for i, c in enumerate(CAUSES))),
    ("wage_base", np.float32, "yuan/year", "permanent level of wage income"),
    ("farm_base", np.float32, "yuan/year", "permanent level of farm and business income"),
    ("transitory", np.float32, "ratio", "this year's transitory factor on market income"),
    ("property_income", np.float32, "yuan/year", "dividends and rents"),
    ("other_transfers", np.float32, "yuan/year", "subsidies other than pension and dibao"),
    ("hazard_zone", np.bool_, "flag", "lives in a harsh, remote or hazard zone"),
    ("willing_to_move", np.bool_, "flag", "would accept relocation"),
    ("house_dangerous", np.bool_, "flag", "lives in a dangerous (危房) house"),
    ("schooling_ok", np.bool_, "flag", "every school-age child in compulsory school"),
    ("insured", np.bool_, "flag", "enrolled in basic medical insurance"),
    ("registered", np.bool_, "flag", "on the poverty register (建档立卡)"),
    ("initial_pc_income", np.float32, "yuan/person/year", "per-capita income in the base year"),
)
#: columns derived from the place rows rather than drawn group by group
_DERIVED = ("village", "region")


@dataclass
class _GroupPlan:
    """How many households a group gets, decided before any household is drawn."""

    group: _Group
    key: tuple[int, int]  # (county, group index within the county): keys of the group's streams
    n: int  # simulated households
    target: int  # registered people (simulated scale)
    mu: float  # location of the log per-capita income
    frac: float  # share of the group simulated (below the truncation cut)
    size_mean: float
    hazard_share: float
    rng_size: np.random.Generator  # drawn from again for household sizes
    #: the group's income, registration, composition and housing streams
    rngs: tuple[np.random.Generator, ...]


def synthesize(scn: Scenario, streams: Streams, base_dir: str | Path | None = None) -> SyntheticPopulation:
    """Build the population of a scenario.

    Parameters
    ----------
    scn
        The scenario (its ``population`` and ``lines`` sections are used).
    streams
        Random streams of the run (the ``population.*`` streams are used).
    base_dir
        Directory that relative data-file paths in the scenario are resolved against.

    Returns
    -------
    SyntheticPopulation

    Notes
    -----
    Two passes over the village groups: the first fixes each group's number of households, the
    second draws the households of each group (vectorised within the group, from the group's
    own streams) straight into columns allocated once at their final dtypes, so that building
    millions of households needs little more memory than the table itself.

    The synthesis is deterministic in the seed and the population inputs, so a process keeps
    small built populations (:data:`CACHE_BYTES`) and hands each run its own copy: a sweep's
    runs of several experiments with the same replicate seed synthesise once per worker.
    """
    tables = check_inputs(scn, base_dir)
    key = _cache_key(scn, streams, base_dir)
    with _CACHE_LOCK:  # runs on a threaded dask cluster share the process's cache
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
    if cached is not None:
        return _copy_population(cached)
    built = _build(scn, streams, tables)
    nbytes = built.households.nbytes()
    if 0 < nbytes <= CACHE_BYTES:
        kept = _copy_population(built)
        with _CACHE_LOCK:
            _CACHE[key] = kept
            while sum(p.households.nbytes() for p in _CACHE.values()) > CACHE_BYTES:
                _CACHE.popitem(last=False)
    return built


#: Bytes of household tables kept by the per-process population cache (assumption: 256 MiB
#: holds two 1:10 or many 1:100 populations, and a full-scale table (~1 GB) is never kept, so a
#: single large run costs no extra memory). ``POVSIM_POPULATION_CACHE=0`` turns the cache off.
CACHE_BYTES = int(os.environ.get("POVSIM_POPULATION_CACHE", 256 * 2**20))

#: built populations by (population inputs, seed), least recently used first
_CACHE: OrderedDict[str, SyntheticPopulation] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _cache_key(scn: Scenario, streams: Streams, base_dir: str | Path | None) -> str:
    """Everything a population depends on: the ``population`` section, the base-year poverty
    line, the base year, the data files (path, size, modification time) and the root seed."""
    pop = scn.population
    files = []
    for name in (pop.regions_file, pop.counties_file):
        path = resolve_data_path(name, base_dir)
        st = path.stat()
        files.append([str(path), st.st_size, st.st_mtime_ns])
    blob = json.dumps({
        "population": pop.model_dump(mode="json"),
        "line": at(scn.lines.poverty, scn.calendar.base_year),
        "base_year": scn.calendar.base_year,
        "files": files,
        "seed": streams.seed,
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _copy_population(pop: SyntheticPopulation) -> SyntheticPopulation:
    """An independent copy: a run changes its household columns and places in place."""
    src = pop.households
    hh = Households(src.n)
    for name, col in src.columns.items():
        hh.declare(col, src[name].copy())
    return SyntheticPopulation(hh, copy.deepcopy(pop.places), pop.scale, pop.registered_target)


def _build(scn: Scenario, streams: Streams, tables: InputTables) -> SyntheticPopulation:
    """Synthesise the population of ``scn`` from the checked input tables (no cache)."""
    pop = scn.population
    K = pop.scale
    regions, counties = tables.regions, tables.counties
    base_year = scn.calendar.base_year
    line = at(scn.lines.poverty, base_year)
    sigma = pop.income_sigma
    e_in = pop.targeting.inclusion_error
    e_out = pop.targeting.exclusion_error

    groups, county_people, _ = _plan_groups(scn, counties, regions, streams)
    target_total = int(round(pop.registered_poor / K))
    group_targets = _largest_remainder(np.array([g.registered for g in groups]), target_total)

    # pass 1: households per group
    plans: list[_GroupPlan] = []
    county_unsim = np.zeros(len(counties))
    n_group_in_county: dict[int, int] = {}
    keys: list[tuple[int, int]] = []  # (county, group within the county): the streams' keys
    for g in groups:
        k = n_group_in_county.get(g.county, 0)
        n_group_in_county[g.county] = k + 1
        keys.append((g.county, k))
    # every group's streams made together (the same generators as one by one, faster)
    sizes, *others = (streams.get_many(f"population.{what}", keys) for what in
                      ("size", "income", "registration", "composition", "housing"))
    for gi, g in enumerate(groups):
        region = counties[g.county].region
        size_mean = regions.get("household_size", region)
        key = keys[gi]
        rng_size = sizes[gi]

        real_households = g.people / size_mean
        reg_share = g.registered / max(g.people, 1.0)
        poor_share = float(np.clip(reg_share * (1 - e_in) / max(1 - e_out, 1e-9), 1e-4, 0.95))
        mu = np.log(line) - sigma * ndtri(poor_share)
        if g.truncate:
            cut = np.log(pop.near_poor_multiple * line)
            frac = float(ndtr((cut - mu) / sigma))  # the normal CDF
        else:
            frac = 1.0
        n = _stochastic_round(real_households * frac / K, rng_size)
        t_people = int(group_targets[gi])
        if t_people > 0:
            n = max(n, 1)
        county_unsim[g.county] += g.people * (1.0 - frac)
        plans.append(_GroupPlan(g, key, n, t_people, mu, frac, size_mean,
                                regions.get("hazard_zone_share", region), rng_size,
                                tuple(o[gi] for o in others)))

    # pass 2: draw each block of groups' households into the columns
    n_total = sum(p.n for p in plans)
    cols = {name: np.empty(n_total, dtype=dtype)
            for name, dtype, _, _ in COLUMNS if name not in _DERIVED}

    def fill(start: int, stop: int, members: list[_GroupPlan]) -> None:
        for name, values in _derive(scn, [_draw_group(scn, p) for p in members]).items():
            cols[name][start:stop] = values

    _run_blocks(fill, _blocks(plans), threads=_synthesis_threads(n_total))
    village_rows: list[tuple[int, bool, float, int]] = []  # county, poor, weight, n_households
    for plan in plans:
        # villages: split the group's households evenly over its simulated villages
        g, n, m = plan.group, plan.n, plan.group.sim_villages
        counts = np.full(m, n // m)
        counts[: n % m] += 1
        for cnt in counts:
            village_rows.append((g.county, g.poor_villages, g.real_villages / m, int(cnt)))

    # village index from the village rows (households were generated village by village)
    v_counts = np.array([r[3] for r in village_rows], dtype=np.int64)
    region_of_county = np.array([REGIONS.index(c.region) for c in counties], dtype=np.int8)
    cols["village"] = np.repeat(np.arange(len(village_rows), dtype=np.int32), v_counts)
    cols["region"] = region_of_county[cols["county"]]
    hh = Households(n_total)
    for name, dtype, units, description in COLUMNS:
        hh.add(name, dtype, units, description, OWNER, cols.pop(name))

    # places
    v_arr = np.array([(r[0], r[1], r[2]) for r in village_rows], dtype=float).reshape(-1, 3)
    v_stop = np.cumsum(v_counts)
    v_start = v_stop - v_counts
    c_counts = np.bincount(hh.county, minlength=len(counties))
    c_stop = np.cumsum(c_counts)
    places = Places(
        region_names=REGIONS,
        county_name=np.array([c.name for c in counties], dtype=object),
        county_prefecture=np.array([c.prefecture for c in counties], dtype=object),
        county_region=region_of_county,
        county_poor=np.array([c.poor for c in counties], dtype=bool),
        county_start=c_stop - c_counts,
        county_stop=c_stop,
        county_population=county_people,
        county_unsimulated=county_unsim,
        village_county=v_arr[:, 0].astype(np.int32),
        village_poor=v_arr[:, 1].astype(bool),
        village_weight=v_arr[:, 2],
        village_start=v_start,
        village_stop=v_stop,
    )
    return SyntheticPopulation(hh, places, K, target_total)


def hazard_probability(share: float | np.ndarray, disaster_share: float, disaster: np.ndarray
                       ) -> np.ndarray:
    """Probability that a registered household lives in a hazard zone, disaster cause first.

    Disaster-cause households fill the region's hazard-zone ``share`` first; the rest of the
    share goes to the other registered households. Over the register the expected hazard-zone
    share is exactly ``share``.

    Parameters
    ----------
    share
        The region's hazard-zone share of registered households (``hazard_zone_share``): one
        value, or one per household.
    disaster_share
        Share of registered households whose primary cause is disaster
        (``population.disaster_cause_share``).
    disaster
        One flag per household: primary cause disaster.

    Returns
    -------
    numpy.ndarray
        ``min(1, share / d)`` for disaster-cause households and ``max(0, share - d) / (1 - d)``
        for the others, with ``d = disaster_share``.

    Examples
    --------
    >>> hazard_probability(0.3, 0.1, np.array([True, False])).round(4).tolist()
    [1.0, 0.2222]
    """
    d = float(disaster_share)
    share_ = np.asarray(share, dtype=np.float64)  # one share, or one per household
    p_dis = np.minimum(1.0, share_ / d) if d > 0 else np.ones_like(share_)
    p_other = np.maximum(share_ - d, 0.0) / (1.0 - d) if d < 1 else np.zeros_like(share_)
    return np.where(disaster, p_dis, p_other)


#: Rows of consecutive groups whose columns are computed together (assumption: blocks of at
#: least 16 Ki rows take the per-group Python overhead out of small groups (a 1:100 population
#: is about five blocks) while the temporaries stay of a group's size, as before: with 1 Mi-row
#: blocks the ~200 MB of block temporaries raised the run's peak memory at 1:2 by ~17 MiB)
_BLOCK_ROWS = 1 << 14


#: Households from which the blocks of pass 2 are drawn in several threads (assumption: numpy's
#: generators and ufuncs release the interpreter lock, so two threads draw a full-scale
#: population's groups nearly twice as fast; below ~a million rows a run is small and a sweep's
#: workers already use every core, so threads would only compete)
THREADED_FROM = 1 << 20


def _synthesis_threads(n_rows: int) -> int:
    """Threads drawing the population: 1 below :data:`THREADED_FROM` rows, else
    :func:`povsim.kernels.helper_threads`."""
    return 1 if n_rows < THREADED_FROM else helper_threads()


def _blocks(plans: list[_GroupPlan]) -> list[tuple[int, int, list[_GroupPlan]]]:
    """Consecutive groups in blocks of at least :data:`_BLOCK_ROWS` rows (the last may be
    smaller): ``(first row, end row, groups)``."""
    out: list[tuple[int, int, list[_GroupPlan]]] = []
    start = rows = 0
    members: list[_GroupPlan] = []
    for i, plan in enumerate(plans):
        members.append(plan)
        rows += plan.n
        if rows >= _BLOCK_ROWS or i == len(plans) - 1:
            out.append((start, start + rows, members))
            start, rows, members = start + rows, 0, []
    return out


def _run_blocks(fill: Any, blocks: list[tuple[int, int, list[_GroupPlan]]],
                threads: int) -> None:
    """Call ``fill(start, stop, groups)`` for every block, in ``threads`` threads.

    Each block draws only from its own groups' streams and writes only its own rows, so the
    columns are the same whatever the number of threads and the order the blocks finish in.
    An error or Ctrl-C cancels the blocks not yet started.
    """
    if threads <= 1 or len(blocks) <= 1:
        for block in blocks:
            fill(*block)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="povsim-population")
    try:
        for future in [pool.submit(fill, *block) for block in blocks]:
            future.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _draw_group(scn: Scenario, plan: _GroupPlan) -> dict[str, np.ndarray]:
    """Draw the households of one group from its streams (the group's sequential part).

    Parameters
    ----------
    scn
        The scenario.
    plan
        The group, its number of households (from the first pass) and its own
        ``population.*`` streams.

    Returns
    -------
    dict
        What the group's own streams decide, for its ``plan.n`` households: the county, the
        household sizes, incomes and registration, the composition and housing uniforms and
        the numbers of elderly and children; :func:`_derive` computes the columns from them.
    """
    pop = scn.population
    comp = pop.composition
    base_year = scn.calendar.base_year
    line = at(scn.lines.poverty, base_year)
    sigma = pop.income_sigma
    sigma_t = min(pop.income_volatility / np.sqrt(2.0), 0.9 * sigma)
    sigma_b = float(np.sqrt(sigma**2 - sigma_t**2))
    e_in = pop.targeting.inclusion_error
    pension = at(pop.pension_monthly, base_year) * 12.0
    g, n, mu, frac = plan.group, plan.n, plan.mu, plan.frac
    t_people = plan.target
    rng_size = plan.rng_size
    rng_inc, rng_reg, rng_comp, rng_house = plan.rngs

    size = np.clip(1 + rng_size.poisson(max(plan.size_mean - 1.0, 0.01), n), 1,
                   comp.max_household_size).astype(np.int64)
    # income: total log income z = base + transitory
    if g.truncate:
        u = rng_inc.random(n) * frac
        z = mu + sigma * ndtri(np.clip(u, 1e-12, 1 - 1e-12))
        cond_mean = (sigma_t**2 / sigma**2) * (z - mu)
        cond_sd = sigma_t * sigma_b / sigma
        eps_t = cond_mean + cond_sd * rng_inc.standard_normal(n)
        log_base = z - eps_t
    else:
        log_base = mu + sigma_b * rng_inc.standard_normal(n)
        eps_t = sigma_t * rng_inc.standard_normal(n)
        z = log_base + eps_t
    pc_income = np.exp(z)

    # registration: (1 - e_in) of the target people from below the line, the rest above
    registered = np.zeros(n, dtype=bool)
    below = pc_income < line
    near = (~below) & (pc_income < pop.near_poor_multiple * line)
    order_below = rng_reg.permutation(np.flatnonzero(below))
    order_near = rng_reg.permutation(np.flatnonzero(near))
    order_rest = rng_reg.permutation(np.flatnonzero(~below & ~near))
    want_wrong = int(round(e_in * t_people))
    picked: list[np.ndarray] = []
    people = 0

    def take(order: np.ndarray, limit: int) -> None:
        nonlocal people
        need = limit - people
        if need <= 0 or order.size == 0:
            return
        avail = order[~registered[order]]
        if avail.size == 0:
            return
        cs = np.cumsum(size[avail])
        k = min(int(np.searchsorted(cs, need)) + 1, avail.size)
        chosen = avail[:k]
        registered[chosen] = True
        picked.append(chosen)
        people += int(cs[k - 1])

    take(order_near, want_wrong)
    take(order_below, t_people)
    take(order_near, t_people)
    take(order_rest, t_people)
    if people > t_people and picked:
        # shrink the last picked households so the stock is exact in people
        over = people - t_people
        for i in np.concatenate(picked)[::-1]:
            cut_by = min(over, int(size[i]) - 1)
            size[i] -= cut_by
            over -= cut_by
            if over == 0:
                break
    elif people < t_people and picked:
        # too few people in this group's households (coarse scales): enlarge the picked
        # households, one member at a time up to the largest size drawn, so the stock is exact
        short = t_people - people
        chosen_all = np.concatenate(picked)
        while short > 0:
            room = chosen_all[size[chosen_all] < comp.max_household_size]
            if room.size == 0:
                break
            step = room[:short]
            size[step] += 1
            short -= step.size

    # composition: the draws (in the group's stream order); the arithmetic is in _derive
    u_comp = rng_comp.random((n, 6))
    n_elderly = rng_comp.binomial(size, comp.elderly_share)
    n_children = rng_comp.binomial(size - n_elderly, comp.child_share)
    u_house = rng_house.random((n, 3))
    return {
        "county": np.full(n, g.county),
        "hazard_share": np.full(n, plan.hazard_share),
        "size": size,
        "registered": registered,
        "log_base": log_base,
        "z": z,
        "eps_t": eps_t,
        "pc_income": pc_income,
        "u_comp": u_comp,
        "n_elderly": n_elderly,
        "n_children": n_children,
        "u_house": u_house,
    }


def _derive(scn: Scenario, groups: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Every column of :data:`COLUMNS` but the derived ones, for consecutive groups at once.

    Parameters
    ----------
    scn
        The scenario.
    groups
        :func:`_draw_group`'s results of consecutive groups (a block of rows).

    Returns
    -------
    dict
        Column name → values for the block's households. The arithmetic is elementwise, so a
        block gives the numbers each group would give on its own.
    """
    pop = scn.population
    comp = pop.composition
    pension = at(pop.pension_monthly, scn.calendar.base_year) * 12.0
    d = {k: (np.concatenate([g[k] for g in groups]) if len(groups) > 1 else groups[0][k])
         for k in groups[0]}
    n = d["size"].size
    size, registered, u_comp, u_house = d["size"], d["registered"], d["u_comp"], d["u_house"]
    n_elderly, n_children = d["n_elderly"], d["n_children"]
    log_base, z, eps_t, pc_income = d["log_base"], d["z"], d["eps_t"], d["pc_income"]
    # composition
    cause = np.full(n, -1, dtype=np.int8)
    cu = u_comp[:, 0]
    c_ill = pop.illness_cause_share
    c_dis = c_ill + pop.disability_cause_share
    c_dst = c_dis + pop.disaster_cause_share
    cause_reg = np.where(
        cu < c_ill, 0, np.where(cu < c_dis, 1, np.where(cu < c_dst, 2, 4))
    ).astype(np.int8)
    no_labour = np.where(registered, u_comp[:, 1] < pop.no_labour_share,
                         u_comp[:, 1] < comp.nonregistered_no_labour)
    cause_reg = np.where(registered & no_labour & (cause_reg == 4), 3, cause_reg)
    cause = np.where(registered, cause_reg, cause).astype(np.int8)
    adults = size - n_elderly - n_children
    # a household with labour needs at least one working-age adult
    fix = (~no_labour) & (adults == 0)
    take_from_children = fix & (n_children > 0)
    n_children = n_children - take_from_children
    take_from_elderly = fix & ~take_from_children
    n_elderly = n_elderly - take_from_elderly
    adults = size - n_elderly - n_children
    chronic = np.where(cause == 0, 1, (u_comp[:, 2] < pop.chronic_share_nonpoor).astype(np.int64))
    disabled = np.where(cause == 1, 1,
                        (u_comp[:, 3] < comp.nonregistered_disabled).astype(np.int64))
    n_labour = np.where(no_labour, 0, np.maximum(1, adults - (chronic + disabled) * (adults > 1)))
    has_children = n_children > 0
    schooling_ok = ~(has_children & (u_comp[:, 4] < pop.schooling_gap_share))
    insured = u_comp[:, 5] >= pop.uninsured_share

    # housing: the registered hazard-zone share is the region's (chosen to match the sourced
    # relocation total); disaster-cause households are drawn first within it, not added on top
    hazard = np.where(
        registered,
        u_house[:, 0] < hazard_probability(d["hazard_share"], pop.disaster_cause_share,
                                           cause == 2),
        u_house[:, 0] < d["hazard_share"] * comp.nonregistered_hazard_factor,
    )
    willing = u_house[:, 1] < pop.willing_to_move
    dangerous = np.where(
        registered & ~hazard,
        u_house[:, 2] < pop.dangerous_house_share,
        u_house[:, 2] < comp.nonregistered_dangerous_house,
    )

    # income by source (yuan per household per year, base-year prices)
    total = pc_income * size
    transfers = n_elderly * pension + comp.other_transfer_share * total
    transfers = np.minimum(transfers, total)
    market = total - transfers
    prop = np.minimum(comp.property_share * total, market)
    market = market - prop
    wage_share = np.where(n_labour > 0, comp.wage_share, 0.0)
    # permanent level relative to this year's income, grossed up by the base year's costs
    # (its net income is after them; the simulated years subtract them again)
    base_scale = np.exp(log_base - z) * (1.0 + comp.base_year_costs)
    wage_base = market * wage_share * base_scale
    farm_base = market * (1 - wage_share) * base_scale
    transitory = np.exp(eps_t)

    return {
        "county": d["county"],
        "size": size,
        "n_labour": n_labour,
        "n_elderly": n_elderly,
        "n_children": n_children,
        "n_disabled": disabled,
        "n_chronic": chronic,
        "cause": cause,
        "wage_base": wage_base,
        "farm_base": farm_base,
        "transitory": transitory,
        "property_income": prop,
        "other_transfers": comp.other_transfer_share * total,
        "hazard_zone": hazard,
        "willing_to_move": willing,
        "house_dangerous": dangerous,
        "schooling_ok": schooling_ok,
        "insured": insured,
        "registered": registered,
        "initial_pc_income": pc_income,
    }
