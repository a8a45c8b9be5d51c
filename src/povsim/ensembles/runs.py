"""One run of an ensemble: the model's results plus target outcomes and direct attribution.

:func:`simulate` is the task every worker executes. It steps a :class:`povsim.PovertyModel`
month by month so that, at every year end, it can see which pathway carried each exiting
household over the line (:class:`DirectAttribution`), and returns one small
:class:`xarray.Dataset` holding

* every variable of :func:`povsim.run` (all converted to ``float64``, ``NaN`` = missing),
* the targets of MODEL.md §1 (``target_held``, ``target_year_met``, ``target_shortfall``),
* the run's cost (``total_spending``, ``total_allocated``),
* direct attribution of exits (``exits_by_pathway``, dims ``year, region, attribution``).

Direct accounting
-----------------
At each year-end assessment, each household that exits is attributed to exactly one entry of
the ``attribution`` dimension, checked in this order:

``review``
    removed from the register by the targeting review (it did not pass the income test).
``quota``
    exited under an ``exits.quota`` rule without meeting the income test.
a pathway with an income effect
    the pathway whose income contribution *this year* was pivotal: per-capita net income minus
    that contribution is below the exit threshold. The yearly contribution of a pathway is what
    its :meth:`~povsim.components.Component.income` flow paid over the year's months (production
    gains, relocation wage gains, dibao and disability payments); medical aid counts the
    out-of-pocket spending it covered (``med_paid_ytd``). When several pathways are pivotal, the
    one with the largest contribution gets the exit.
a housing pathway
    no income effect was pivotal, but the housing guarantee holds because the household was
    relocated (``relocation``), its house was renovated (``housing_renovation``) or rebuilt with
    aid this year (``reconstruction``).
``no_pathway``
    none of the above: market income growth, a good year or the other guarantees.

By construction ``exits_by_pathway.sum("attribution") == exited`` (persons, by year and region).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.scenario.schema import Scenario

__all__ = ["EXTRA_ATTRIBUTION", "DirectAttribution", "run_targets", "simulate"]

#: attribution labels besides the model's pathways
EXTRA_ATTRIBUTION = ("no_pathway", "review", "quota")
_TOL = 0.5  # as in povsim.exits


class DirectAttribution:
    """Watches a model step by step and attributes each year's exits to a pathway.

    Parameters
    ----------
    model
        A freshly built :class:`povsim.PovertyModel` (before its first step).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.pathways = [p.name for p in model.pathway_list]
        self.labels = self.pathways + list(EXTRA_ATTRIBUTION)
        self._income_pathways = [p for p in model.pathway_list
                                 if type(p).income is not _base_income()]
        n = model.households.n
        self.ytd = {p.name: np.zeros(n) for p in self._income_pathways}
        self.recon_seen = np.zeros(n, dtype=bool)
        self.years: list[int] = []
        self.rows: list[np.ndarray] = []  # (region, attribution) persons per year

    def after_step(self) -> None:
        """Call after every :meth:`PovertyModel.step`; records the year at each year end."""
        m = self.model
        hh = m.households
        done_month = m.month - 1  # the month the step just simulated
        if done_month < 0:
            return
        if done_month % 12 == 0:
            for arr in self.ytd.values():
                arr[:] = 0.0
            self.recon_seen[:] = False
        for pw in self._income_pathways:
            flow = pw.income(m)
            if flow is not None:
                self.ytd[pw.name] += np.asarray(flow, dtype=np.float64) / 12.0
        if "recon_status" in hh:
            self.recon_seen |= hh.recon_status == 2
        if done_month % 12 == 11:
            year = m.calendar.start_year + done_month // 12
            self._attribute(year)

    def _attribute(self, year: int) -> None:
        m = self.model
        hh = m.households
        flows = m.flows
        exited = flows["exited"]
        size = hh.size.astype(np.float64)
        labels = self.labels
        code = np.full(hh.n, -1, dtype=np.int64)
        margin = m.params.exits.household.income_margin
        threshold = m.poverty_line * (1.0 + margin) - _TOL
        pc = hh.pc_income
        review = flows.get("exited_by_review", np.zeros(hh.n, dtype=bool)) & exited
        code[review] = labels.index("review")
        quota = exited & (code < 0) & (pc < threshold)
        code[quota] = labels.index("quota")

        # income effects: the largest pivotal contribution wins
        contrib: dict[str, np.ndarray] = dict(self.ytd)
        if "med_paid_ytd" in hh and "medical" in self.pathways:
            contrib["medical"] = contrib.get("medical", 0.0) + hh.med_paid_ytd.astype(np.float64)
        best = np.zeros(hh.n)
        best_code = np.full(hh.n, -1, dtype=np.int64)
        open_ = exited & (code < 0)
        for name, c in contrib.items():
            c_pc = np.asarray(c, dtype=np.float64) / size
            pivotal = open_ & (c_pc > 0) & (pc - c_pc < threshold) & (c_pc > best)
            best = np.where(pivotal, c_pc, best)
            best_code = np.where(pivotal, labels.index(name), best_code)
        code = np.where(open_ & (best_code >= 0), best_code, code)

        # housing guarantee made to hold by a pathway
        open_ = exited & (code < 0)
        for name, mask in (
            ("relocation", hh.reloc_status == 2 if "reloc_status" in hh else None),
            ("housing_renovation", hh.reno_status == 2 if "reno_status" in hh else None),
            ("reconstruction", self.recon_seen if "recon_status" in hh else None),
        ):
            if mask is None or name not in labels:
                continue
            hit = open_ & mask
            code[hit] = labels.index(name)
            open_ &= ~hit
        code[open_] = labels.index("no_pathway")

        P = m.places
        out = np.zeros((P.n_regions, len(labels)))
        sel = np.flatnonzero(exited)
        np.add.at(out, (hh.region[sel].astype(np.int64), code[sel]), size[sel] * m.weight)
        self.years.append(year)
        self.rows.append(out)

    def dataset(self, base_year: int) -> xr.Dataset:
        """``exits_by_pathway(year, region, attribution)``; the base year is ``NaN``."""
        m = self.model
        P = m.places
        years = [base_year] + self.years
        empty = np.full((P.n_regions, len(self.labels)), np.nan)
        data = np.stack([empty] + self.rows)
        return xr.Dataset(
            {"exits_by_pathway": (
                ("year", "region", "attribution"), data,
                {"units": "persons",
                 "description": "people exiting at the year-end assessment, by the pathway that "
                                "carried them over the line (direct accounting; sums to "
                                "exited)"})},
            coords={"year": np.asarray(years, dtype=np.int64),
                    "region": list(P.region_names),
                    "attribution": list(self.labels)},
        )


def _base_income() -> Any:
    from povsim.components import Component

    return Component.income


def run_targets(ds: xr.Dataset, scenario: Scenario) -> xr.Dataset:
    """The targets of one run as variables over a ``target`` dimension."""
    from povsim.targets import evaluate

    rows = evaluate(ds, scenario)
    return xr.Dataset(
        {
            "target_held": ("target", np.array([float(r.held) for r in rows]),
                            {"units": "1", "description": "1 if the target held in this run"}),
            "target_year_met": ("target", np.array([float(r.year_met) if r.year_met is not None
                                                    else np.nan for r in rows]),
                                {"units": "year",
                                 "description": "first year the target was met (NaN: never)"}),
            "target_shortfall": ("target", np.array([float(r.shortfall) for r in rows]),
                                 {"units": "target unit (see target_unit)",
                                  "description": "shortfall at the target year"}),
        },
        coords={"target": [r.key for r in rows],
                "target_label": ("target", [r.label for r in rows]),
                "target_unit": ("target", [r.unit for r in rows])},
    )


def _as_float(ds: xr.Dataset) -> xr.Dataset:
    out = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind in "biuf" and var.dtype != np.float64:
            out[name] = var.astype(np.float64)
            if var.dtype.kind in "iu" and name == "county_exit_year":
                out[name] = out[name].where(var >= 0)
            out[name].attrs = dict(var.attrs)
    return ds.assign(out) if out else ds


def simulate(
    scenario: Scenario,
    seed: int,
    base_dir: str | None = None,
    *,
    attribution: bool = True,
) -> xr.Dataset:
    """Run one scenario with one seed; return its results for an ensemble.

    Parameters
    ----------
    scenario
        The (fully overridden) scenario of the experiment.
    seed
        The replicate's seed (:func:`povsim.rng.replicate_seed`).
    base_dir
        Directory for the scenario's relative data paths.
    attribution
        Also compute direct attribution of exits (costs a few per cent of run time).

    Returns
    -------
    xarray.Dataset
        All results as ``float64`` (so a missing value is ``NaN``), targets, cost and
        attribution. Attributes: ``seed``, ``scenario_sha256``, ``n_households``, ``runtime``.
    """
    import time

    from povsim.model import PovertyModel

    t0 = time.perf_counter()
    model = PovertyModel(scenario, seed=seed, base_dir=Path(base_dir) if base_dir else None)
    tracker = DirectAttribution(model) if attribution else None
    while model.running and model.month < model.n_steps:
        model.step()
        if tracker is not None:
            tracker.after_step()
    ds = model.results()
    parts = [ds, run_targets(ds, scenario)]
    if tracker is not None:
        parts.append(tracker.dataset(int(ds["year"].values[0])))
    spent = ds["spending"].sum(skipna=True)
    allocated = ds["allocated"].sum(skipna=True)
    cost = xr.Dataset({
        "total_spending": ((), float(spent), {"units": "yuan",
                                                "description": "all money spent, all years"}),
        "total_allocated": ((), float(allocated), {"units": "yuan",
                                                   "description": "all new money allocated "
                                                                  "(the budget), all years"}),
    })
    parts.append(cost)
    # "override" keeps every variable's own units and description (each comes from one part);
    # the Dataset's attributes are set below
    out = xr.merge(parts, compat="override", join="outer", combine_attrs="override")
    out = _as_float(out)
    out.attrs = {
        "seed": int(model.seed_value),
        "scenario_sha256": scenario.sha256(),
        "n_households": int(model.households.n),
        "scale": int(model.weight),
        "runtime": float(time.perf_counter() - t0),
    }
    return out
