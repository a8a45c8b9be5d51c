"""The simulation: :class:`PovertyModel`, a :class:`mesa.Model` stepping one month at a time.

Households are columns of numpy arrays owned by the model (:mod:`povsim.households`); the
province and the county governments are Mesa agents. One year runs as:

1. **January** — the province sets the lines, grows incomes and splits the year's money across
   counties; each :class:`CountyGovernment` splits its money across pathways and pays for
   eligible households in priority order until money or capacity runs out (the rest wait);
   the model then enrols the chosen households of all counties, pathway by pathway.
2. **Every month** — shocks strike (illness, disasters), delayed pathway effects begin, incomes
   accrue.
3. **December** — households are assessed: registered households whose per-capita income is
   above the line and whose 两不愁三保障 hold exit; exited households that fell back return; poor
   households off the register are found (new poor); villages and counties exit by the rule;
   the year is recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mesa
import numpy as np

import povsim.pathways
import povsim.shocks  # noqa: F401 - registers the built-in shocks
from povsim import exits as exits_mod
from povsim.budget import Ledger, county_split, source_amounts
from povsim.components import Component
from povsim.errors import ModelBuildError, PovsimError
from povsim.households import Households, segment_sums
from povsim.lines import dibao_line, poverty_line
from povsim.pathways.base import Pathway
from povsim.population.synthesis import synthesize
from povsim.registry import PATHWAYS, SHOCKS
from povsim.results import Recorder
from povsim.rng import Streams
from povsim.scenario.schema import Scenario, at
from povsim.services import ServicesProgramme

__all__ = ["CountyGovernment", "PovertyModel", "ProvinceGovernment"]

ENGINE = "engine"


class ProvinceGovernment(mesa.Agent):
    """The province: sets the lines, splits each source across counties, assesses exits."""

    def allocate(self, year: int) -> np.ndarray:
        """Split the year's money of every source across counties (counties × sources, yuan)."""
        m: PovertyModel = self.model  # type: ignore[assignment]
        hh = m.households
        w = m.weight
        reg = hh.registered
        people = m.county_sum(hh.size * reg, dtype=np.int64) * w
        gap_pc = np.maximum(m.poverty_line - m.pc_assessed, 0.0)
        gap = np.bincount(hh.county, weights=gap_pc * hh.size * reg * w,
                          minlength=m.places.n_counties)
        amounts = source_amounts(m.params, year)
        share = county_split(
            m.params.budget.county_rule,
            people,
            gap,
            m.places.county_poor,
            m.params.budget.poor_county_min_share,
        )
        return share[:, None] * amounts[None, :]


class CountyGovernment(mesa.Agent):
    """A county government: integrates its funds and enrols its households (seed (十九)).

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

    def plan(self, year: int, month: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Split this county's money across pathways and choose whom to enrol in ``year``.

        The county pays (from its ledger envelopes) for the eligible households it can afford
        in priority order, marks them served and the rest waiting, and builds village services.
        Enrolment itself is left to the model, which enrols the chosen households of all
        counties pathway by pathway (see :meth:`PovertyModel.enrol_chosen`).

        Parameters
        ----------
        year, month
            The planning year and the month (step) it happens in.

        Returns
        -------
        dict
            Pathway name → ``(idx, credit_ok)``: the households paid for, in priority order, and
            whether the credit each asked for was available. Only pathways with someone chosen
            appear.
        """
        m: PovertyModel = self.model  # type: ignore[assignment]
        ledger = m.ledger
        c = self.county
        pathways = m.pathway_list
        need = np.zeros(len(ledger.pathways))
        candidates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for p_i, pw in enumerate(pathways):
            if not pw.enabled:
                continue
            if pw.event_driven:
                need[p_i] = m.event_need[pw.name][c]
                continue
            cand = m.plan_candidates.get(pw.name)
            if cand is None:
                continue
            idx, cost, credit, lo, hi = cand
            if hi[c] == lo[c]:
                continue
            sel = slice(int(lo[c]), int(hi[c]))
            candidates[pw.name] = (idx[sel], cost[sel], credit[sel])
            need[p_i] = cost[sel].sum()
        s_idx = ledger.pathway_index("services")
        need[s_idx] = m.services.need(m, c) if m.services.enabled else 0.0
        ledger.set_envelopes(c, m.envelope_weights(need))
        chosen_by_pathway: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for p_i, pw in enumerate(pathways):
            if pw.name not in candidates:
                continue
            idx, cost, credit = candidates[pw.name]
            order = m.priority_order(pw, idx)
            idx, cost, credit = idx[order], cost[order], credit[order]
            grant_left = ledger.remaining(c, p_i, "grant")
            k = int(np.searchsorted(np.cumsum(cost), grant_left + 1e-6, side="right"))
            cap = m.county_capacity[pw.name][c]
            if np.isfinite(cap) and k:
                units = pw.units(m, idx[:k]) * m.weight
                cum = np.cumsum(units)
                k_cap = int(np.searchsorted(cum, cap + 1e-6, side="right"))
                if k_cap < k:
                    # a simulated household stands for `weight` real ones: admit the marginal
                    # one with the probability of the capacity left for it, so capacity is
                    # used in expectation however coarse the scale
                    left = cap - (cum[k_cap - 1] if k_cap else 0.0)
                    u = m.capacity_draw(pw.name, year, int(idx[k_cap]))
                    if u < left / units[k_cap]:
                        k_cap += 1
                    k = k_cap
            chosen = idx[:k]
            if k:
                paid = ledger.draw(c, p_i, float(cost[:k].sum()), "grant")
                if paid < cost[:k].sum() - 1e-3:  # pragma: no cover - guarded by searchsorted
                    raise RuntimeError("ledger paid less than the planned cost")
                req = credit[:k]
                credit_left = ledger.remaining(c, p_i, "credit")
                ok = np.cumsum(req) <= credit_left + 1e-6
                ok &= req > 0
                ledger.draw(c, p_i, float(req[ok].sum()), "credit")
                chosen_by_pathway[pw.name] = (chosen, ok)
            m.served[pw.name][chosen] = True
            m.waiting_mask[pw.name][idx[k:]] = True
        if m.services.enabled:
            m.services.build(m, c, s_idx)
        return chosen_by_pathway


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
    ) -> None:
        self.params = scenario
        raw_seed = scenario.seed if seed is None else seed
        if isinstance(raw_seed, bool) or not isinstance(raw_seed, (int, np.integer)) or raw_seed < 0:
            raise PovsimError(f"seed must be a non-negative integer, got {raw_seed!r}")
        self.seed_value = int(raw_seed)
        self.streams = Streams(self.seed_value)
        # Mesa gets a generator of its own; povsim's processes draw only from named streams
        super().__init__(rng=self.streams.get("mesa"))
        t0 = time.perf_counter()
        pop = synthesize(scenario, self.streams, base_dir)
        self.timing: dict[str, float] = {"population": time.perf_counter() - t0}
        self.households: Households = pop.households
        self.places = pop.places
        self.weight = float(pop.scale)
        self.calendar = scenario.calendar
        self.month = 0
        self.year = self.calendar.base_year
        self.n_steps = self.calendar.n_steps
        self._queue: dict[int, list[tuple[Pathway, np.ndarray]]] = {}
        self._priority_draws: dict[str, np.ndarray] = {}
        #: cost and credit of the eligible households while the counties plan (January)
        self.plan_candidates: dict[str, tuple[np.ndarray, ...]] = {}

        self._declare_engine_columns()
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
        self._check_declarations()
        for comp in self.components:
            comp.declare(self)
        for comp in self.components:
            comp.setup(self)

        src = scenario.budget.sources
        self.ledger = Ledger(
            list(src), [s.kind for s in src.values()],
            [p.name for p in self.pathway_list] + ["services"],
            self.places.n_counties, scenario.budget.carry_over,
        )
        self._source_pathways = self._source_pathway_matrix()

        self.province = ProvinceGovernment(self)
        self.counties = [CountyGovernment(self, c) for c in range(self.places.n_counties)]
        self.poverty_line = poverty_line(scenario, self.calendar.base_year)
        self.dibao_line = dibao_line(scenario, self.calendar.base_year)
        self.recorder = Recorder(self)
        exits_mod.initial_state(self)
        self.recorder.record_start()
        self.running = True

    # ---------------------------------------------------------------------------------------
    # build
    # ---------------------------------------------------------------------------------------
    def _declare_engine_columns(self) -> None:
        hh = self.households
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

    def _check_declarations(self) -> None:
        owners: dict[str, str] = {name: col.owner for name, col in self.households.columns.items()}
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
                if name not in owners:
                    raise ModelBuildError(
                        f"component {comp.name!r} uses household column {name!r}, which no "
                        f"component declares"
                    )

    def _source_pathway_matrix(self) -> np.ndarray:
        names = self.ledger.pathways
        mat = np.zeros((len(names), len(self.ledger.sources)), dtype=bool)
        for s, (sname, src) in enumerate(self.params.budget.sources.items()):
            allowed = set(src.pathways) if src.pathways is not None else set(names)
            for p, pname in enumerate(names):
                mat[p, s] = pname in allowed
        return mat

    # ---------------------------------------------------------------------------------------
    # helpers used by components
    # ---------------------------------------------------------------------------------------
    def schedule(self, month: int, pathway: Pathway, idx: np.ndarray) -> None:
        """Call ``pathway.activate(model, idx, month)`` in ``month`` (now if already due)."""
        if idx.size == 0:
            return
        if month <= self.month:
            pathway.activate(self, idx, self.month)
            return
        self._queue.setdefault(int(month), []).append((pathway, np.asarray(idx)))

    def add_income(self, idx: np.ndarray, yearly: np.ndarray | float) -> None:
        """Add a yearly income flow to households ``idx`` from this month on (yuan/year)."""
        self.households.monthly_income[idx] += np.asarray(yearly, dtype=np.float64) / 12.0

    def envelope_weights(self, need: np.ndarray) -> np.ndarray:
        """Share of each source given to each pathway (pathways × sources)."""
        allowed = self._source_pathways.copy()
        enabled = np.array(
            [p.enabled for p in self.pathway_list] + [self.services.enabled], dtype=bool
        )
        allowed &= enabled[:, None]
        b = self.params.budget
        if b.pathway_rule == "shares":
            base = np.array([(b.pathway_shares or {}).get(n, 0.0) for n in self.ledger.pathways])
        else:
            base = np.asarray(need, dtype=float)
        w = allowed * base[:, None]
        col = w.sum(axis=0)
        out = np.where(col > 0, w / np.where(col > 0, col, 1.0), 0.0)
        return out

    def priority_order(self, pathway: Pathway, idx: np.ndarray) -> np.ndarray:
        """Order in which a county serves the eligible households ``idx`` of a pathway."""
        rule = getattr(pathway.config, "priority", "poorest_first")
        hh = self.households
        pc = self.pc_assessed[idx]
        if rule == "random":
            # one draw per household and year, shared by every county's call this year
            u = self._priority_draws.get(pathway.name)
            if u is None:
                u = self._priority_draws[pathway.name] = self.draws(
                    f"priority.{pathway.name}", self.year)
            return np.argsort(u[idx], kind="stable")
        if rule == "registered_first":
            return np.lexsort((pc, ~hh.registered[idx]))
        return np.argsort(pc, kind="stable")

    def county_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-county sums of one value per household (simulated units, not weighted).

        Households are sorted by county, so each county is a slice; see
        :func:`povsim.households.segment_sums`. Sum integer-valued quantities (people,
        households) with ``dtype=np.int64``: the result is then exact.
        """
        P = self.places
        return segment_sums(values, P.county_start, P.county_stop, dtype=dtype)

    def capacity_draw(self, pathway: str, year: int, i: int) -> float:
        """The uniform of household ``i`` deciding a marginal capacity place in ``year``."""
        key = (pathway, year)
        cache = self.__dict__.setdefault("_capacity_draws", {})
        if key not in cache:
            cache.clear()
            cache[key] = self.draws(f"capacity.{pathway}", year)
        return float(cache[key][i])

    def draws(self, name: str, *keys: int, dtype: Any = np.float32) -> np.ndarray:
        """One uniform per household for process ``name`` at ``keys`` (common random numbers)."""
        return self.streams.get(name, *keys).random(self.households.n, dtype=dtype)

    @property
    def pc_assessed(self) -> np.ndarray:
        """Per-capita income before means-tested transfers, last assessed year."""
        return self.households.pc_assessed

    # ---------------------------------------------------------------------------------------
    # the yearly cycle
    # ---------------------------------------------------------------------------------------
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
        factor = np.float32(np.exp(g))
        hh.wage_base *= factor
        hh.farm_base *= factor
        hh.property_income *= factor
        hh.other_transfers *= factor
        sigma_t = min(pop.income_volatility / np.sqrt(2.0), 0.9 * pop.income_sigma)
        z = self.streams.get("income.transitory", year).standard_normal(hh.n, dtype=np.float32)
        hh.transitory[:] = np.exp(sigma_t * z)

    def _start_year(self, year: int) -> None:
        hh = self.households
        self.year = year
        scn = self.params
        self.poverty_line = poverty_line(scn, year)
        self.dibao_line = dibao_line(scn, year)
        self._grow_incomes(year)
        for comp in self.components:
            comp.start_year(self, year)
        hh.income_ytd[:] = 0.0
        hh.oop_ytd[:] = 0.0
        hh.loss_ytd[:] = 0.0
        hh.benefit_ytd[:] = 0.0
        # planning
        self.served: dict[str, np.ndarray] = {}
        self.waiting_mask: dict[str, np.ndarray] = {}
        self.event_need: dict[str, np.ndarray] = {}
        self.county_capacity: dict[str, np.ndarray] = {}
        self._priority_draws: dict[str, np.ndarray] = {}
        eligible: dict[str, np.ndarray] = {}  # row indices of the eligible, by pathway
        C = self.places.n_counties
        for pw in self.pathway_list:
            self.served[pw.name] = np.zeros(hh.n, dtype=bool)
            self.waiting_mask[pw.name] = np.zeros(hh.n, dtype=bool)
            if not pw.enabled:
                self.county_capacity[pw.name] = np.zeros(C)
                continue
            if pw.event_driven:
                self.event_need[pw.name] = pw.expected_need(self, year)
                self.county_capacity[pw.name] = np.full(C, np.inf)
                continue
            idx = np.flatnonzero(pw.eligible(self, year))
            eligible[pw.name] = idx
            cap = pw.config.capacity
            if cap is None:
                self.county_capacity[pw.name] = np.full(C, np.inf)
            else:
                total = at(cap, year)
                units = np.bincount(hh.county[idx], weights=pw.units(self, idx) * self.weight,
                                    minlength=C)
                share = units / units.sum() if units.sum() > 0 else np.zeros(C)
                self.county_capacity[pw.name] = share * total
        self.ledger.open_year(year, self.province.allocate(year))
        self.plan_candidates = self._plan_candidates(eligible, year)
        chosen = [county.plan(year, self.month) for county in self.counties]
        self.plan_candidates = {}
        self._priority_draws = {}
        self.__dict__.pop("_capacity_draws", None)  # only needed while counties plan
        self.enrol_chosen(chosen, year, self.month)
        self._set_monthly_income()

    def _plan_candidates(
        self, eligible: dict[str, np.ndarray], year: int
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Cost and credit of every eligible household, computed once for all counties.

        Parameters
        ----------
        eligible
            Sorted row indices of the eligible households, by pathway.
        year
            The planning year.

        Returns
        -------
        dict
            Pathway name → ``(idx, cost, credit, lo, hi)``: the eligible rows, their grant cost
            and credit (yuan per simulated household, i.e. times ``weight``), and for each
            county the bounds ``idx[lo[c]:hi[c]]`` of its households. Costs are per household,
            so one call over all counties gives what a call per county would.
        """
        P = self.places
        out = {}
        for pw in self.pathway_list:
            idx = eligible.get(pw.name)
            if idx is None or idx.size == 0:
                continue
            cost = pw.cost(self, idx, year) * self.weight
            credit = pw.credit(self, idx, year) * self.weight
            lo = np.searchsorted(idx, P.county_start, side="left")
            hi = np.searchsorted(idx, P.county_stop, side="left")
            out[pw.name] = (idx, cost, credit, lo, hi)
        return out

    def enrol_chosen(self, chosen: list[dict[str, tuple[np.ndarray, np.ndarray]]], year: int,
                     month: int) -> None:
        """Enrol the households the counties paid for, pathway by pathway.

        Each pathway's :meth:`~povsim.pathways.base.Pathway.enrol` is called once with the
        chosen households of all counties (county by county, each in priority order) rather
        than once per county: enrolment acts on each household separately, so the outcome is
        the same, and a pathway that draws one number per household for the year does so once.

        Parameters
        ----------
        chosen
            One dict per county, as returned by :meth:`CountyGovernment.plan`.
        year, month
            The planning year and month.
        """
        for pw in self.pathway_list:
            parts = [c[pw.name] for c in chosen if pw.name in c]
            if not parts:
                continue
            idx = np.concatenate([p[0] for p in parts])
            ok = np.concatenate([p[1] for p in parts])
            pw.enrol(self, idx, year, month, ok)

    def _set_monthly_income(self) -> None:
        """Set every household's monthly income: (base income + components' income) / 12."""
        hh = self.households
        self._base_income(out=hh.monthly_income)
        for comp in self.components:
            extra = comp.income(self)
            if extra is not None:
                hh.monthly_income += extra
        hh.monthly_income /= 12.0

    def _end_year(self, year: int) -> None:
        for comp in self.components:
            comp.end_year(self, year)
        exits_mod.assess(self, year)
        self.ledger.close_year()
        self.recorder.record_year(year)

    def step(self) -> None:
        """Advance one month: plan (January), shocks, due effects, income, assess (December)."""
        if self.month >= self.n_steps:
            self.running = False
            return
        m = self.month
        year = self.calendar.start_year + m // 12
        if m % 12 == 0:
            self._start_year(year)
        for comp in self.components:
            comp.step(self, m)
        for pathway, idx in self._queue.pop(m, []):
            pathway.activate(self, idx, m)
        hh = self.households
        hh.income_ytd += hh.monthly_income
        if m % 12 == 11:
            self._end_year(year)
        self.month += 1
        if self.month >= self.n_steps:
            self.running = False

    def run(self, progress: bool | None = None) -> Any:
        """Run every remaining step and return the results Dataset.

        Parameters
        ----------
        progress
            Show a progress bar (default: only when writing to a terminal).
        """
        import sys

        from tqdm.auto import tqdm

        if progress is None:
            progress = sys.stderr.isatty()
        t0 = time.perf_counter()
        with tqdm(total=self.n_steps, initial=self.month, disable=not progress, unit="month",
                  desc=self.params.name) as bar:
            while self.running and self.month < self.n_steps:
                self.step()
                bar.update(1)
        self.timing["simulation"] = time.perf_counter() - t0
        return self.results()

    def results(self) -> Any:
        """The results so far as an :class:`xarray.Dataset` (completed years only)."""
        return self.recorder.dataset()
