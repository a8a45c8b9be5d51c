"""The simulation: :class:`PovertyModel`, a :class:`mesa.Model` stepping one month at a time.

Households are columns of numpy arrays (:mod:`povsim.households`); the province, the county
governments and each county's village task forces are Mesa agents. The state of a run lives in one :class:`~povsim.context.RunState`;
components see it only through their :class:`~povsim.context.Context`. One year runs as:

1. **January** — the province sets the lines, grows incomes and splits the year's money across
   counties; all counties split their money across pathways and pay for eligible households in
   priority order until money or capacity runs out (the rest wait); the pathways then enrol
   the chosen households (:mod:`povsim.planning`).
2. **Every month** — shocks strike (illness, disasters), delayed pathway effects begin, incomes
   accrue.
3. **December** — households are assessed (:mod:`povsim.exits`): registered households whose
   per-capita income is above the line and whose 两不愁三保障 hold exit; exited households that
   fell back return; poor households off the register are found (new poor); villages and
   counties exit by the rule; exits are attributed to pathways (:mod:`povsim.assessment`);
   the year is recorded.
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections import defaultdict
from pathlib import Path
from typing import Any

import mesa
import numpy as np

import povsim.pathways
import povsim.shocks  # noqa: F401 - registers the built-in shocks
from povsim import exits as exits_mod
from povsim.allocator import large_arrays
from povsim.assessment import Attribution, target_variables
from povsim.budget import Ledger
from povsim.components import Component
from povsim.context import STATE, RunState, checked_default
from povsim.errors import ModelBuildError, PovsimError
from povsim.households import Households
from povsim.kernels import COMPILED_FROM
from povsim.lines import dibao_line, poverty_line
from povsim.pathways.base import Pathway
from povsim.planning import allocate, plan_record, plan_year
from povsim.population.synthesis import synthesize
from povsim.registry import PATHWAYS, SHOCKS
from povsim.results import Recorder
from povsim.rng import Streams
from povsim.scenario.schema import Scenario, at
from povsim.services import ServicesProgramme

__all__ = ["CountyGovernment", "CountyTaskForces", "PovertyModel", "ProvinceGovernment"]

ENGINE = "engine"


class _AgentCounters(weakref.WeakKeyDictionary):
    """Mesa's per-model ``unique_id`` counters, held by weak reference to the model.

    Mesa 3.3 keeps them in ``mesa.Agent._ids``, a class-level ``defaultdict`` keyed by the
    model: every model that ever created an agent stays alive with all its household arrays
    (about 25 MB a run at 1:100), so a long-lived process that runs many models (a dask worker
    of ``povsim calibrate``: ~10 GB after ~400 runs, when dask paused it and the fit hung)
    grows without bound. Same counting (from 1 per model), without keeping the model alive.
    """

    def __getitem__(self, model: Any) -> Any:
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = itertools.count(1)
            self[model] = counter
            return counter


def _weak_agent_counters() -> None:
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, defaultdict):
        weak = _AgentCounters()
        for model, counter in ids.items():
            weak[model] = counter
        mesa.Agent._ids = weak


_weak_agent_counters()


class ProvinceGovernment(mesa.Agent):
    """The province: sets the lines, splits each source across counties, assesses exits."""

    def allocate(self, year: int) -> np.ndarray:
        """Split the year's money of every source across counties (counties × sources, yuan)."""
        return allocate(self.model.run_state, year)  # type: ignore[attr-defined]


class CountyGovernment(mesa.Agent):
    """A county government (seed (十九)); all counties plan together (:mod:`povsim.planning`).

    Parameters
    ----------
    model
        The model.
    county
        Index of the county in ``model.places``.
    """

    def __init__(self, model: PovertyModel, county: int) -> None:
        super().__init__(model)
        self.county = county
        self.name = str(model.places.county_name[county])
        self.slice = model.places.county_slice(county)


class CountyTaskForces(mesa.Agent):
    """The village task forces of one county (seed (二十六)): a view of the forces it staffs.

    All counties staff their forces together each January in one pass over the villages
    (:meth:`povsim.pathways.task_forces.TaskForcesPathway.organise`); this agent reads its
    county's part.

    Parameters
    ----------
    model
        The model.
    county
        Index of the county in ``model.places``.
    forces
        The run's task-force pathway.
    """

    def __init__(self, model: PovertyModel, county: int, forces: Any) -> None:
        super().__init__(model)
        self.county = county
        self.forces = forces
        self.villages = np.flatnonzero(model.places.village_county == county)

    @property
    def staffed(self) -> float:
        """Real poor villages of the county with a force this year."""
        P = self.model.places  # type: ignore[attr-defined]
        return float((self.forces.staffed[self.villages] * P.village_weight[self.villages]).sum())

    @property
    def cadres(self) -> float:
        """Cadres resident in the county's poor villages this year (persons)."""
        return self.staffed * float(self.forces.config.cadres_per_force)


class PovertyModel(mesa.Model):
    """The povsim model of a scenario.

    Parameters
    ----------
    scenario
        A validated :class:`~povsim.scenario.schema.Scenario`.
    seed
        Root seed; defaults to ``scenario.seed``.
    base_dir
        Directory against which relative data paths of the scenario are resolved.

    Attributes
    ----------
    params : Scenario
        The scenario being run (not ``scenario``: Mesa 3.5 reserves that name).
    households : Households
        The household table (one row per simulated household).
    places : Places
        Regions, counties and villages.
    weight : float
        Real households represented by each simulated household (``population.scale``).
    ledger : Ledger
        Money available and spent.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        base_dir: str | Path | None = None,
        checked: bool | None = None,
    ) -> None:
        self.params = scenario
        raw_seed = scenario.seed if seed is None else seed
        if isinstance(raw_seed, bool) or not isinstance(raw_seed, (int, np.integer)) or raw_seed < 0:
            raise PovsimError(f"seed must be a non-negative integer, got {raw_seed!r}")
        self.seed_value = int(raw_seed)
        streams = Streams(self.seed_value)
        # Mesa gets a generator of its own; povsim's processes draw only from named streams
        super().__init__(rng=streams.get("mesa"))
        t0 = time.perf_counter()
        pop = synthesize(scenario, streams, base_dir)
        self.timing: dict[str, float] = {"population": time.perf_counter() - t0}
        t0 = time.perf_counter()
        self.calendar = scenario.calendar
        self.n_steps = self.calendar.n_steps
        hh = pop.households
        self._declare_engine_columns(hh)
        self.pathways: dict[str, Pathway] = {}
        for name, cfg in scenario.pathways.all().items():
            spec = PATHWAYS.get(name)
            if spec is None:
                raise ModelBuildError(f"pathway {name!r} is not registered")
            self.pathways[name] = spec.component(name, cfg)
        self.pathway_list: list[Pathway] = list(self.pathways.values())
        self.shocks: dict[str, Component] = {}
        for name, cfg in (
            [("illness", scenario.shocks.illness), ("disasters", scenario.shocks.disasters)]
            + list(scenario.shocks.user().items())
        ):
            spec = SHOCKS.get(name)
            if spec is None:
                raise ModelBuildError(f"shock {name!r} is not registered")
            self.shocks[name] = spec.component(name, cfg)
        self.services = ServicesProgramme("services", scenario.services)
        self.components: list[Component] = [*self.shocks.values(), *self.pathway_list,
                                            self.services]
        self._check_declarations(hh)
        for comp in self.components:
            for col in comp.owns:
                hh.declare(col)

        src = scenario.budget.sources
        ledger = Ledger(
            list(src), [s.kind for s in src.values()],
            [p.name for p in self.pathway_list] + ["services"],
            pop.places.n_counties, scenario.budget.carry_over,
        )
        weight = float(pop.scale)
        self.run_state = run = RunState(
            households=hh, places=pop.places, weight=weight, params=scenario, streams=streams,
            ledger=ledger, place=exits_mod.initial_state(hh, pop.places, weight),
            checked=checked_default() if checked is None else bool(checked),
            seed_value=self.seed_value, month=0, year=self.calendar.base_year,
            poverty_line=poverty_line(scenario, self.calendar.base_year),
            dibao_line=dibao_line(scenario, self.calendar.base_year),
        )
        run.attach(self.components)
        for comp in self.components:
            run.call(comp, "setup")
        self.attribution = Attribution(run, self.pathway_list)

        self.province = ProvinceGovernment(self)
        self.counties = [CountyGovernment(self, c) for c in range(self.places.n_counties)]
        forces = self.pathways.get("task_forces")
        self.task_forces = ([CountyTaskForces(self, c, forces)
                             for c in range(self.places.n_counties)]
                            if forces is not None and forces.enabled else [])
        self.recorder = Recorder(run)
        self.recorder.extra.append(self.attribution.record)
        self.recorder.extra.append(lambda flows: plan_record(run, flows))
        self.recorder.extra_coords["attribution"] = ("attribution", self.attribution.labels)
        self.recorder.record_start()
        self.timing["setup"] = time.perf_counter() - t0
        self.running = True

    # ---------------------------------------------------------------------------------------
    # the run's state, for users and tests
    # ---------------------------------------------------------------------------------------
    @property
    def households(self) -> Households:
        """The household table (one row per simulated household)."""
        return self.run_state.households

    @property
    def places(self) -> Any:
        """Regions, counties and villages."""
        return self.run_state.places

    @property
    def weight(self) -> float:
        """Real households represented by each simulated household (``population.scale``)."""
        return self.run_state.weight

    @property
    def ledger(self) -> Ledger:
        """Money available and spent."""
        return self.run_state.ledger

    @property
    def streams(self) -> Streams:
        """The named random streams of the run."""
        return self.run_state.streams

    @property
    def month(self) -> int:
        """Months simulated so far."""
        return self.run_state.month

    @property
    def year(self) -> int:
        """The current year."""
        return self.run_state.year

    @property
    def poverty_line(self) -> float:
        """This year's poverty line."""
        return self.run_state.poverty_line

    @property
    def dibao_line(self) -> float:
        """This year's dibao line."""
        return self.run_state.dibao_line

    # ---------------------------------------------------------------------------------------
    # build
    # ---------------------------------------------------------------------------------------
    def _declare_engine_columns(self, hh: Households) -> None:
        add = hh.add
        add("income_ytd", np.float64, "yuan", "household income received so far this year", ENGINE)
        add("monthly_income", np.float64, "yuan/month", "income received each month", ENGINE)
        add("oop_ytd", np.float64, "yuan", "out-of-pocket medical spending this year", ENGINE)
        add("loss_ytd", np.float64, "yuan", "uninsured disaster losses and moving costs this year",
            ENGINE)
        add("pc_income", np.float64, "yuan/person/year",
            "per-capita net income of the last assessed year (income - out-of-pocket - losses)",
            ENGINE, values=hh.initial_pc_income.astype(np.float64))
        add("pc_assessed", np.float64, "yuan/person/year",
            "per-capita income before means-tested transfers, last assessed year", ENGINE,
            values=hh.initial_pc_income.astype(np.float64))
        add("benefit_ytd", np.float64, "yuan",
            "means-tested benefits (dibao, disability top-up) received this year", ENGINE)
        add("exit_year", np.int16, "year", "year the household last exited (-1: never)", ENGINE,
            fill=-1)
        add("registered_year", np.int16, "year", "year the household was last registered", ENGINE,
            values=np.where(hh.registered, self.calendar.base_year, -1))
        add("wrongly_included", np.bool_, "flag",
            "registered at the start although income was above the base-year line", ENGINE,
            values=hh.registered & (hh.initial_pc_income >= poverty_line(
                self.params, self.calendar.base_year)))
        add("house_damage", np.int8, "code", "0 intact, 1 damaged, 2 destroyed by a disaster",
            ENGINE)
        add("relocated", np.bool_, "flag", "moved by the relocation pathway", ENGINE)
        add("water_household", np.bool_, "flag", "safe water secured for the household itself",
            ENGINE)

    @staticmethod
    def _check_income_columns(comp: Component, owners: dict[str, str]) -> None:
        """``income_columns``: touched columns, signs ±1 (the first +1), and not together
        with an own ``income`` (the two could disagree)."""
        cols = comp.income_columns
        if not cols:
            return
        where = f"component {comp.name!r} declares income_columns {cols!r}"
        if type(comp).income is not Component.income or \
                type(comp).income_at is not Component.income_at:
            raise ModelBuildError(f"{where} and overrides income or income_at; declare one "
                                  "or the other")
        for i, item in enumerate(cols):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                    and item[1] in ((1, -1) if i else (1,))):
                raise ModelBuildError(f"{where}: expected (column, sign) pairs with sign +1 or "
                                      "-1, the first +1")
            if item[0] not in comp.touches() or item[0] not in owners:
                raise ModelBuildError(f"{where}: {item[0]!r} is not a household column it "
                                      "owns, modifies or reads")

    def _check_declarations(self, hh: Households) -> None:
        owners: dict[str, str] = {name: col.owner for name, col in hh.columns.items()}
        for comp in self.components:
            for col in comp.owns:
                if col.name in owners:
                    raise ModelBuildError(
                        f"household column {col.name!r} is declared by both {owners[col.name]!r} "
                        f"and {comp.name!r}; one variable may have only one owner"
                    )
                owners[col.name] = comp.name
        for comp in self.components:
            for name in (*comp.modifies, *comp.reads):
                if name not in owners and name not in STATE:
                    raise ModelBuildError(
                        f"component {comp.name!r} uses household column {name!r}, which no "
                        f"component declares (state names: {', '.join(STATE)})"
                    )
            self._check_income_columns(comp, owners)

    # ---------------------------------------------------------------------------------------
    # the yearly cycle
    # ---------------------------------------------------------------------------------------
    def county_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-county sums of one value per household (see :meth:`RunState.county_sum`)."""
        return self.run_state.county_sum(values, dtype=dtype)

    def draws(self, name: str, *keys: int, dtype: Any = np.float32) -> np.ndarray:
        """One uniform per household for process ``name`` at ``keys`` (common random numbers)."""
        return self.run_state.draws(name, *keys, dtype=dtype)

    def _base_income(self, out: np.ndarray | None = None) -> np.ndarray:
        """Yearly income before pathways: market income, property, transfers and pensions.

        Parameters
        ----------
        out
            Optional float64 array (one value per household) to write into, which avoids
            allocating temporaries over all households.

        Returns
        -------
        numpy.ndarray
            ``(wage_base + farm_base) × transitory + property_income + other_transfers +
            n_elderly × pension`` in yuan per year, summed in that order in float64.
        """
        hh = self.households
        pension = at(self.params.population.pension_monthly, self.year) * 12.0
        if out is None:
            out = np.empty(hh.n, dtype=np.float64)
        np.add(hh.wage_base, hh.farm_base, out=out, dtype=np.float64)
        out *= hh.transitory
        out += hh.property_income
        out += hh.other_transfers
        out += hh.n_elderly * pension
        return out

    def _grow_incomes(self, year: int) -> None:
        hh = self.households
        pop = self.params.population
        g = at(pop.income_growth, year)
        off = pop.regional_growth
        offsets = np.array([getattr(off, r) for r in self.places.region_names])
        # all offsets 0 (the default): one scalar, no float32 factor over all households
        if offsets.any():
            # each region's households grow by income_growth + its offset (log growth)
            by_county = np.exp(g + offsets[self.places.county_region]).astype(np.float32)
            factor = by_county[hh.county]
        else:
            factor = np.float32(np.exp(g))
        hh.wage_base *= factor
        hh.farm_base *= factor
        hh.property_income *= factor
        hh.other_transfers *= factor
        sigma_t = min(pop.income_volatility / np.sqrt(2.0), 0.9 * pop.income_sigma)
        z = self.streams.get("income.transitory", year).standard_normal(hh.n, dtype=np.float32)
        # exp in the dtype of sigma_t * z (float64 when sigma_t is a numpy float), written
        # straight into the float32 column: one temporary over all households fewer
        np.exp(sigma_t * z, out=hh.transitory)

    def _start_year(self, year: int) -> None:
        run = self.run_state
        hh = self.households
        run.year = year
        scn = self.params
        run.poverty_line = poverty_line(scn, year)
        run.dibao_line = dibao_line(scn, year)
        self._grow_incomes(year)
        for comp in self.components:
            run.call(comp, "start_year", year)
        hh.income_ytd[:] = 0.0
        hh.oop_ytd[:] = 0.0
        hh.loss_ytd[:] = 0.0
        hh.benefit_ytd[:] = 0.0
        exits_mod.intake(run, year)  # households found at the last review (dynamic management)
        t0 = time.perf_counter()
        plan_year(run, self.pathway_list, self.services, year)
        self.timing["planning"] = self.timing.get("planning", 0.0) + time.perf_counter() - t0
        self._set_monthly_income()

    def _set_monthly_income(self) -> None:
        """Set every household's monthly income: (base income + components' income) / 12."""
        hh = self.households
        self._base_income(out=hh.monthly_income)
        for comp in self.components:
            self.run_state.accumulate_income(comp, hh.monthly_income)
        hh.monthly_income /= 12.0

    def _end_year(self, year: int) -> None:
        run = self.run_state
        for comp in self.components:
            run.call(comp, "end_year", year)
        t0 = time.perf_counter()
        exits_mod.assess(run, year)
        self.attribution.attribute()
        t1 = time.perf_counter()
        self.ledger.close_year()
        self.recorder.record_year(year)
        self.timing["assessment"] = self.timing.get("assessment", 0.0) + t1 - t0
        self.timing["recording"] = self.timing.get("recording", 0.0) + time.perf_counter() - t1

    def step(self) -> None:
        """Advance one month: plan (January), shocks, due effects, income, assess (December)."""
        if self.month >= self.n_steps:
            self.running = False
            return
        m = self.month
        year = self.calendar.start_year + m // 12
        if m % 12 == 0:
            self._start_year(year)
        run = self.run_state
        for comp in self.components:
            run.call(comp, "step", m)
        run.run_due(m)
        hh = self.households
        hh.income_ytd += hh.monthly_income
        self.attribution.after_month(m)
        if m % 12 == 11:
            self._end_year(year)
        run.month += 1
        if run.month >= self.n_steps:
            self.running = False

    def run(self, progress: bool | None = None) -> Any:
        """Run every remaining step and return the results Dataset.

        Parameters
        ----------
        progress
            Show a progress bar (default: only when writing to a terminal).
        """
        import sys

        from povsim.progress import tqdm_class

        tqdm = tqdm_class()

        if progress is None:
            progress = sys.stderr.isatty()
        t0 = time.perf_counter()
        with large_arrays(self.households.n >= COMPILED_FROM), \
                tqdm(total=self.n_steps, initial=self.month, disable=not progress,
                     unit="month", desc=self.params.name) as bar:
            while self.running and self.month < self.n_steps:
                self.step()
                bar.update(1)
        self.timing["simulation"] = time.perf_counter() - t0
        return self.results()

    def results(self) -> Any:
        """The results so far as an :class:`xarray.Dataset` (completed years only), with the
        targets of domain.md §1 (``target_held``, ``target_year_met``, ``target_shortfall``)."""
        t0 = time.perf_counter()
        ds = self.recorder.dataset()
        ds = ds.assign(target_variables(ds, self.params))
        self.timing["dataset"] = time.perf_counter() - t0
        return ds
