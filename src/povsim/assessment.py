"""What a run achieved: exits attributed to pathways, and the targets of domain.md §1.

The year-end assessment itself (who exits, returns, is found) is :mod:`povsim.exits`; this
layer adds what ensembles and studies ask of every run, so that :func:`povsim.run`, the command
line and ensembles all compute it the same way:

* **direct attribution** (:class:`Attribution`) — each household exiting at a year-end
  assessment is attributed to exactly one entry of the ``attribution`` dimension, checked in
  this order:

  ``review``
      removed from the register by the targeting review.
  a pathway that removed it
      taken off the register by a pathway's own re-check (``removed``: the village task
      forces' 识真贫 re-check of wrongly included households).
  ``quota``
      exited under an ``exits.quota`` rule without passing the income test.
  a pathway with an income effect
      the pathway whose contribution *this year* was pivotal: per-capita net income minus
      that contribution is below the exit threshold (:func:`povsim.exits.exit_threshold`).
      A pathway's yearly contribution is what its ``income`` flow paid over the year's months
      plus its ``relief`` (medical aid counts the out-of-pocket spending it covered). When
      several are pivotal, the largest contribution wins.
  a housing pathway
      no income effect was pivotal, but the housing guarantee holds because of a pathway
      (``housing_secured``: relocated, renovated, or rebuilt with aid this year).
  ``no_pathway``
      none of the above: market income growth, a good year or the other guarantees.

  By construction ``exits_by_pathway.sum("attribution") == exited`` (persons).
* **targets** (:func:`target_variables`) — ``target_held``, ``target_year_met`` and
  ``target_shortfall`` over a ``target`` dimension (:func:`povsim.targets.evaluate`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from povsim.context import RunState
from povsim.exits import exit_threshold
from povsim.pathways.base import Pathway
from povsim.targets import evaluate

__all__ = ["EXTRA_ATTRIBUTION", "Attribution", "target_variables"]

#: attribution labels besides the model's pathways
EXTRA_ATTRIBUTION = ("no_pathway", "review", "quota")


class Attribution:
    """Follows a run month by month and attributes each year's exits to a pathway.

    Parameters
    ----------
    run
        The engine's state.
    pathways
        The run's pathway components, in output order.
    """

    def __init__(self, run: RunState, pathways: list[Any]) -> None:
        self.run = run
        self.pathways = list(pathways)
        self.labels = [p.name for p in self.pathways] + list(EXTRA_ATTRIBUTION)
        self._income = [p for p in self.pathways if p.has_income]
        self._relief = [p for p in self.pathways if type(p).relief is not Pathway.relief]
        self._removing = [p for p in self.pathways if type(p).removed is not Pathway.removed]
        housing = [p for p in self.pathways
                   if type(p).housing_secured is not Pathway.housing_secured]
        # pathways acting at planning first, then event-driven ones
        self._housing = sorted(housing, key=lambda p: bool(p.event_driven))
        # only households registered in January can exit in December (the register changes
        # only at the assessment), so the year's contributions are kept for those rows only
        self.rows = np.zeros(0, dtype=np.intp)
        self.ytd: dict[str, np.ndarray] = {}
        self.seen: dict[str, np.ndarray] = {}
        self.last: np.ndarray | None = None
        self._reads: list[Any] = []

    def after_month(self, month: int) -> None:
        """Add this month's income flows and housing effects (call after incomes accrue)."""
        run = self.run
        if month % 12 == 0:
            self.rows = np.flatnonzero(run.households.registered)
            self.ytd = {p.name: np.zeros(self.rows.size) for p in self._income}
            self.seen = {p.name: np.zeros(self.rows.size, dtype=bool) for p in self._housing}
            # the year's reads: independent, each adding to its own pathway's total (in
            # helper threads for povsim's own pathways in a large table; the same sums)
            self._reads = (
                [(pw, run.accumulate_income, (pw, self.ytd[pw.name], self.rows, 12.0), None)
                 for pw in self._income]
                + [(pw, "housing_secured_at", (self.rows,), self._add_housing(pw.name))
                   for pw in self._housing])
        run.call_each(self._reads)

    def _add_housing(self, name: str) -> Any:
        def then(got: Any) -> None:
            if got is not None:
                self.seen[name] |= np.asarray(got, dtype=bool)
        return then

    def attribute(self) -> np.ndarray:
        """Attribute this year's exits (after the assessment): persons by region × label.

        Works on the exiting households only (a few per cent of the table at full scale).
        """
        run = self.run
        hh = run.households
        flows = run.flows
        sel = np.flatnonzero(flows["exited"])
        at = np.searchsorted(self.rows, sel)  # exits were registered in January
        if sel.size and not np.array_equal(self.rows[np.minimum(at, self.rows.size - 1)], sel):
            raise RuntimeError("a household exited that was not registered in January")
        size = hh.size[sel].astype(np.float64)
        labels = self.labels
        code = np.full(sel.size, -1, dtype=np.int64)
        threshold = exit_threshold(run.poverty_line, run.params.exits.household.income_margin)
        pc = hh.pc_income[sel]
        review = flows.get("exited_by_review")
        if review is not None:
            code[review[sel]] = labels.index("review")
        for pw in self._removing:
            got = run.call(pw, "removed")
            if got is not None:
                code[(code < 0) & np.asarray(got)[sel]] = labels.index(pw.name)
        quota = (code < 0) & (pc < threshold)
        code[quota] = labels.index("quota")

        # income effects: the largest pivotal contribution wins
        contrib: dict[str, Any] = {name: ytd[at] for name, ytd in self.ytd.items()}
        for pw in self._relief:
            got = run.call(pw, "relief_at", sel)
            if got is not None:
                contrib[pw.name] = contrib.get(pw.name, 0.0) + np.asarray(got)
        best = np.zeros(sel.size)
        best_code = np.full(sel.size, -1, dtype=np.int64)
        open_ = code < 0
        for name, c in contrib.items():
            c_pc = np.asarray(c, dtype=np.float64) / size
            pivotal = open_ & (c_pc > 0) & (pc - c_pc < threshold) & (c_pc > best)
            best = np.where(pivotal, c_pc, best)
            best_code = np.where(pivotal, labels.index(name), best_code)
        code = np.where(open_ & (best_code >= 0), best_code, code)

        # housing guarantee made to hold by a pathway
        open_ = code < 0
        for pw in self._housing:
            hit = open_ & self.seen[pw.name][at]
            code[hit] = labels.index(pw.name)
            open_ &= ~hit
        code[open_] = labels.index("no_pathway")

        P = run.places
        out = np.zeros((P.n_regions, len(labels)))
        np.add.at(out, (hh.region[sel].astype(np.int64), code), size * run.weight)
        self.last = out
        return out

    def record(self, flows: bool) -> dict[str, Any]:
        """The year's ``exits_by_pathway`` for the recorder (``NaN`` in the base year)."""
        R = self.run.places.n_regions
        vals = self.last if flows and self.last is not None else np.full(
            (R, len(self.labels)), np.nan)
        return {"exits_by_pathway": (
            ("region", "attribution"), vals,
            {"units": "persons",
             "description": "people exiting at the year-end assessment, by the pathway that "
                            "carried them over the line (direct accounting; sums to exited)"})}


def target_variables(ds: xr.Dataset, scenario: Any) -> xr.Dataset:
    """The targets of one run as variables over a ``target`` dimension."""
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
