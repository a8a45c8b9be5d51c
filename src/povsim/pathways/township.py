"""Schools and township services — seed (三), (十四), (十五).

Two parts, paid from one envelope (``budget.sources.education_health_programmes``):

*Township facilities* (seed (三) 乡乡有标准中心校、有达标卫生院、有便民服务中心). Every county has
``county_people / township_population`` townships (real units, so the same at any scale); a
share ``facilities.<f>.initial_coverage`` of a poor county's townships has each standard
facility at the start (elsewhere ``nonpoor_initial_bonus`` of the rest too).
Each January, after the households of the pathway are paid for, the county spends what is left
of its envelope building what is missing, facility by facility in the order of the seed
(school, health centre, service centre); the first facility the money does not stretch to is
built in part (a county's coverage is a share of its townships). A facility acts from
``build_years`` Januaries after it is paid for. Which households a county's coverage reaches
is fixed per household (one uniform, ``ts_draw``, shifted per facility), so coverage that
grows reaches the same households first in every scenario. Effects act only where the
campaign brought the facility (households reached now but not at the start): the starting
state is in the calibrated rates.

* a standard central school: an out-of-school child returns with probability
  ``schooling_fix_rate`` each year (the compulsory-schooling guarantee of 三保障), on top of
  the education drive of the services programme;
* a standard health centre with its general practitioners, where the household's village also
  has a (standardised) clinic (the ``clinic`` of the services programme): ``stay_reduction``
  fewer hospital stays (primary care treats what would become a costly stay); the chance of a
  stay is lowered after the illness shock sets it each January;
* a service centre: counted toward the services target of seed (三); no household effect is
  modelled.

*15-year free education and "9+3"* (seed (十四)) in the ethnic areas (``free_education``: the
autonomous prefectures and counties). A registered poor household there with school-age
children has a child finishing compulsory school in a year with probability
``children / compulsory_years``; such a leaver enters free "9+3" vocational school with
probability ``takeup`` (one uniform per household and year, stream ``township.leaver``).
Places for those eligible are bought (``unit_cost`` a student, the whole course) with the
capacity rule (:meth:`~povsim.context.Context.buy`: places = money / cost) in the pathway's
priority order; after ``delay_months`` (three school years) the graduate finds work with
probability ``employment_rate`` and adds ``income_gain`` a year to the household's income, an
income flow that the attribution of exits counts for this pathway. A household sends one child
in the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.budget import ration
from povsim.households import Column
from povsim.kernels import below
from povsim.pathways.base import Pathway
from povsim.scenario.schema import TOWNSHIP_FACILITIES

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = [
    "TownshipServicesPathway",
    "ethnic_counties",
    "facility_access",
    "initial_coverage",
    "township_counts",
]

#: shift of the household's uniform per facility (the golden-ratio fraction: three facilities
#: reach different, weakly related households of a partly covered county)
_SHIFT = 0.6180339887498949


def township_counts(county_people: np.ndarray, township_population: float) -> np.ndarray:
    """Real townships of each county.

    Parameters
    ----------
    county_people
        Rural population of each county, unsimulated people included (persons).
    township_population
        Rural persons per township (``township_population``).

    Returns
    -------
    numpy.ndarray
        ``county_people / township_population`` (townships, fractional).
    """
    return np.asarray(county_people, dtype=np.float64) / township_population


def initial_coverage(initial: float, county_poor: np.ndarray, nonpoor_bonus: float
                     ) -> np.ndarray:
    """Share of each county's townships with a facility at the start.

    ``initial`` in the poor counties; elsewhere ``initial + (1 - initial) × nonpoor_bonus``.
    """
    poor = np.asarray(county_poor, dtype=bool)
    return np.where(poor, initial, initial + (1.0 - initial) * nonpoor_bonus)


def facility_access(draw: np.ndarray, county: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Which households a county coverage of each facility reaches.

    Parameters
    ----------
    draw
        One uniform per household (``ts_draw``).
    county
        County of each household.
    coverage
        Facilities × counties: share of each county's townships with the facility.

    Returns
    -------
    numpy.ndarray
        Facilities × households (bool): facility ``f`` reaches a household when
        ``(draw + f × 0.618...) mod 1`` is below its county's coverage.
    """
    out = np.empty((coverage.shape[0], draw.size), dtype=bool)
    for f in range(coverage.shape[0]):
        out[f] = _access_one(draw, county, coverage[f], f)
    return out


def _access_one(draw: np.ndarray, county: np.ndarray, coverage: np.ndarray, f: int
                ) -> np.ndarray:
    """Row ``f`` of :func:`facility_access`: households reached by facility ``f`` (bool)."""
    # float32 draws: at full scale a float64 copy is 61 MB (the pathway itself compares county
    # by county: Context.county_below, the same flags)
    return below(np.asarray(draw, dtype=np.float32), coverage[county], f * _SHIFT)


def ethnic_counties(names: np.ndarray, prefectures: np.ndarray, chosen: list[str],
                    autonomous: bool) -> np.ndarray:
    """The counties with 15-year free education (seed (十四) 民族自治州和自治县).

    Parameters
    ----------
    names, prefectures
        County names and their prefectures (``places.county_name``, ``county_prefecture``).
    chosen
        Prefectures whose every county is included (``free_education.prefectures``).
    autonomous
        Also include the autonomous counties (names ending in 自治县) elsewhere.

    Returns
    -------
    numpy.ndarray
        One flag per county.
    """
    pref = np.isin(np.asarray(prefectures).astype(str), list(chosen))
    if autonomous:
        pref |= np.char.endswith(np.asarray(names).astype(str), "自治县")
    return pref


class TownshipServicesPathway(Pathway):
    """Township schools, health centres and service centres; '9+3' free vocational school."""

    owns = (
        Column("ts_draw", np.float32, "1",
               "uniform deciding which households a county's township facilities reach",
               "township_services"),
        Column("ts_status", np.int8, "code",
               "0 never, 1 a child in free '9+3' vocational school, 2 graduated",
               "township_services"),
        Column("ts_gain", np.float32, "yuan/year",
               "income from a working '9+3' graduate", "township_services"),
    )
    modifies = ("schooling_ok", "illness_p", "monthly_income")
    reads = ("registered", "n_children", "service_draw", "village_services", "place_exits")
    #: the yearly income: the gain from the township services (yuan/year)
    income_columns = (("ts_gain", 1),)
    #: how the common checks exercise the component (povsim.testing): at their small scale
    #: (about 800 households) few children leave school into 9+3 a year, so every leaver
    #: enters it; a capacity of a few hundred households binds; few households lack
    #: schooling, so the gap is widened; a list of prefectures has no generic change
    check_scenario = {"pathways.township_services.free_education.takeup": 1.0}
    check_settings = {
        "capacity": {"value": 300},
        "capacity_unit": {"value": "persons",
                          "overrides": {"pathways.township_services.capacity": 1500}},
        # the order matters only in a county with several leavers: a finer population where
        # every child leaves school this year
        "priority": {"value": "random",
                     "overrides": {"pathways.township_services.capacity": 3000,
                                   "population.scale": 2000,
                                   "pathways.township_services.free_education.compulsory_years":
                                       1}},
        # no child returns through the school (the calibrated baseline has few out of school:
        # widen the gap)
        "schooling_fix_rate": {"value": 0.0,
                               "overrides": {"population.schooling_gap_share": 0.5}},
        # only the Liangshan households: visible when every child leaves school this year
        "free_education.prefectures": {
            "value": ["凉山州"],
            "overrides": {"pathways.township_services.free_education.compulsory_years": 1}},
        # every child a leaver this year: visible among the checks' few households
        "free_education.compulsory_years": {"value": 1},
    }

    # -- setup -----------------------------------------------------------------------------
    def setup(self, ctx: Context) -> None:
        cfg = self.config
        P = ctx.places
        hh = ctx.households
        self.names = [f for f in TOWNSHIP_FACILITIES if f in cfg.facilities]
        self.townships = township_counts(ctx.place.county_people, cfg.township_population)
        init = np.ones((len(self.names), P.n_counties))
        for i, f in enumerate(self.names):
            init[i] = initial_coverage(cfg.facilities[f].initial_coverage, P.county_poor,
                                       cfg.nonpoor_initial_bonus)
        self.initial = init
        self.coverage = init.copy()
        #: coverage at the end of each year's building (year -> facilities x counties)
        self.built: dict[int, np.ndarray] = {}
        fe = cfg.free_education
        self.ethnic = ethnic_counties(P.county_name, P.county_prefecture, fe.prefectures,
                                      fe.autonomous_counties)
        self._clinic0: np.ndarray | None = None
        #: facility index -> households reached at the start (computed once, when first needed)
        self._start: dict[int, np.ndarray] = {}
        self.enrolled = np.zeros(P.n_counties)
        hh.ts_draw[:] = ctx.streams.get("township.draw").random(hh.n, dtype=np.float32)

    # -- effects of the facilities ----------------------------------------------------------
    def operating(self, year: int) -> np.ndarray:
        """Facilities × counties: coverage acting in ``year`` (paid ``build_years`` before)."""
        past = [y for y in self.built if y <= year - self.config.build_years]
        return self.built[max(past)] if past else self.initial

    def _clinic(self, ctx: Context) -> np.ndarray:
        """Households whose village has a clinic now (the first call keeps the villages'
        clinics at the start, before any building)."""
        hh = ctx.households
        have = ctx.places.services.get("clinic")
        if have is None:
            return np.ones(hh.n, dtype=bool)
        if self._clinic0 is None:
            self._clinic0 = have.copy()
        return ctx.village_below(hh.service_draw, have)

    def start_year(self, ctx: Context, year: int) -> None:
        self._u_leaver = ctx.draws("township.leaver", year)
        if not self.enabled or not self.names:
            return
        hh = ctx.households
        cfg = self.config
        operating = self.operating(year)

        def now(i: int) -> np.ndarray:
            # only the facilities with an effect on households are evaluated
            if operating is self.initial:
                return start(i)
            return ctx.county_below(hh.ts_draw, operating[i], i * _SHIFT)

        def start(i: int) -> np.ndarray:
            # the access at the start never changes (fixed draws, counties and coverage)
            if i not in self._start:
                self._start[i] = ctx.county_below(hh.ts_draw, self.initial[i], i * _SHIFT)
            return self._start[i]

        clinic = self._clinic(ctx)
        clinic0 = (ctx.village_below(hh.service_draw, self._clinic0)
                   if self._clinic0 is not None
                   else np.ones(hh.n, dtype=bool))
        if "school" in self.names:
            i = self.names.index("school")
            gained = now(i) & ~start(i) & ~hh.schooling_ok
            u = ctx.draws("township.schooling", year)
            hh.schooling_ok[gained & (u < cfg.schooling_fix_rate)] = True
            del gained, u  # a float32 draw over all households: freed before the next facility
        if "health_centre" in self.names:
            i = self.names.index("health_centre")
            # the illness shock set this year's chance of a stay in its own start_year (shocks
            # come before pathways); primary care brought by the campaign lowers it
            primary = now(i) & clinic
            gained = primary & ~(start(i) & clinic0)
            hh.illness_p[gained] *= np.float32(1.0 - cfg.stay_reduction)

    # -- 9+3 at planning --------------------------------------------------------------------
    def leaving(self, ctx: Context, idx: Any = slice(None)) -> np.ndarray:
        """Households ``idx`` with a child leaving compulsory school into '9+3' this year."""
        hh = ctx.households
        fe = self.config.free_education
        p = np.minimum(hh.n_children[idx] / fe.compulsory_years, 1.0) * fe.takeup
        return self._u_leaver[idx] < p

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        """Registered poor households of the ethnic areas with a child entering '9+3'."""
        hh = ctx.households
        out = (hh.registered & self.ethnic[hh.county] & (hh.n_children > 0)
               & (hh.ts_status == 0))
        rows = np.flatnonzero(out)  # the leaving draw is read for these households only
        out[rows] = self.leaving(ctx, rows)
        return out

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        return np.full(len(idx), self.config.free_education.unit_cost)

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Buy school places with the capacity rule of :mod:`povsim.budget.capacity`
        (:meth:`Context.buy`): places = money / cost per place, at most the optional hard cap
        ``capacity``; the marginal place is filled with the probability of the money left."""
        return ctx.buy(idx, cost, units=units, credit=credit)

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        hh = ctx.households
        hh.ts_status[idx] = 1
        self.enrolled += np.bincount(hh.county[idx], minlength=ctx.places.n_counties) * ctx.weight
        self.schedule(ctx, idx, month)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        fe = self.config.free_education
        u = ctx.streams.get("township.employment", month).random(hh.n, dtype=np.float32)[idx]
        gain = (u < fe.employment_rate) * fe.income_gain
        hh.ts_status[idx] = 2
        hh.ts_gain[idx] += gain
        ctx.add_income(idx, gain)

    # -- facilities at planning -------------------------------------------------------------
    def _missing(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (county, facility) with something missing: counties, facilities, cost."""
        cfg = self.config
        counties, items, cost = [], [], []
        for i, f in enumerate(self.names):
            c = np.flatnonzero((self.coverage[i] < 1.0) & (self.townships > 0))
            counties.append(c)
            items.append(np.full(c.size, i))
            cost.append(cfg.facilities[f].unit_cost * self.townships[c]
                        * (1.0 - self.coverage[i][c]))
        if not counties:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        return np.concatenate(counties), np.concatenate(items), np.concatenate(cost)

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        """Cost of every missing facility, by county (yuan): what the county plans to build."""
        if not self.enabled:
            return np.zeros(ctx.places.n_counties)
        c, _, cost = self._missing()
        return np.bincount(c, weights=cost, minlength=ctx.places.n_counties)

    def build(self, ctx: Context, year: int) -> None:
        """Spend what is left of every county's envelope on missing facilities, in order."""
        c, item, cost = self._missing()
        if c.size:
            order = np.lexsort((item, c))
            c, item, cost = c[order], item[order], cost[order]
            res = ration(c, cost, ctx.money_left(), partial=True)
            ctx.bound(res.binding)
            part = res.share
            cur = self.coverage[item, c]
            self.coverage[item, c] = np.where(part >= 1.0, 1.0, cur + (1.0 - cur) * part)
            if res.spent.any():
                ctx.spend(res.spent)
        self.built[year] = self.coverage.copy()

    def step(self, ctx: Context, month: int) -> None:
        if month % 12 != 0 or not self.enabled:
            return
        self.build(ctx, ctx.year)

    # -- results ----------------------------------------------------------------------------
    def record(self, ctx: Context, year: int, flows: bool) -> dict[str, Any]:
        w = self.townships * ctx.places.county_poor
        cov = np.ones(len(TOWNSHIP_FACILITIES))
        for i, f in enumerate(self.names):
            cov[TOWNSHIP_FACILITIES.index(f)] = float((self.coverage[i] * w).sum()
                                                      / max(w.sum(), 1e-9))
        enrolled = ctx.by_region(self.enrolled) if flows else np.full(ctx.places.n_regions,
                                                                      np.nan)
        self.enrolled = np.zeros(ctx.places.n_counties)
        return {
            "township_coverage": (
                ("facility",), cov,
                {"units": "1", "description": "share of the poor counties' townships with the "
                 "standard facility (built by the year end)"}),
            "vocational_enrolments": (
                ("region",), enrolled,
                {"units": "households",
                 "description": "households sending a child to free '9+3' vocational school "
                                "this year"}),
        }

    def coords(self, ctx: Context) -> dict[str, Any]:
        return {"facility": ("facility", list(TOWNSHIP_FACILITIES))}
