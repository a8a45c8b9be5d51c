"""A short summary of one run's results, readable in a terminal and displayed as HTML in Jupyter.

``povsim.summarize(ds)`` returns a :class:`Summary`: ``print()`` it (or let the notebook show
it) for the target table and a few key figures. It reads the results only; it never runs a
simulation.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from povsim.targets import TargetResult, evaluate, format_table

if TYPE_CHECKING:
    import xarray as xr

    from povsim.scenario import Scenario

__all__ = ["Summary", "summarize"]

#: the budget source whose money is lent, not granted, when a Dataset does not say its sources'
#: kinds (every source of kind ``credit`` is kept apart from spending: a loan's principal is
#: repaid; docs/outputs.md)
CREDIT_SOURCE = "microcredit"


def _credit_sources(ds: xr.Dataset) -> set[str]:
    """Sources of kind ``credit`` in the run's scenario (``scenario_json``), or
    :data:`CREDIT_SOURCE` when the Dataset does not say."""
    import json

    try:
        sources = json.loads(str(ds.attrs["scenario_json"]))["budget"]["sources"]
        return {str(k) for k, v in sources.items() if v.get("kind") == "credit"}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {CREDIT_SOURCE}


@dataclass(frozen=True)
class Summary:
    """The targets and key figures of one run (see :func:`summarize`)."""

    name: str
    seed: int
    sha256: str
    scale: int
    budget_scale: float
    years: tuple[int, int]
    complete: bool
    targets: list[TargetResult]
    #: ``(label, value, unit)``
    figures: list[tuple[str, float, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        first, last = self.years
        head = (f"povsim results {self.name!r}: {first}-{last}, seed {self.seed}, scale "
                f"1:{self.scale}, budget x{self.budget_scale:g}, scenario sha256 "
                f"{self.sha256[:12]}" + ("" if self.complete else " (INCOMPLETE run)"))
        held = sum(r.held for r in self.targets)
        lines = [head, f"targets held: {held} of {len(self.targets)}", format_table(self.targets),
                 ""]
        width = max((len(label) for label, _, _ in self.figures), default=0)
        lines += [f"{label:<{width}}  {_fmt(value)} {unit}" for label, value, unit in self.figures]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        first, last = self.years
        rows = "".join(
            f"<tr><td>{e(r.label)}</td>"
            f"<td style='color:{'#1a7f37' if r.held else '#cf222e'}'>"
            f"{'held' if r.held else 'not held'}</td>"
            f"<td>{r.year_met if r.year_met is not None else '-'}</td>"
            f"<td>{'-' if r.held else e(_fmt(r.shortfall) + ' ' + r.unit)}</td></tr>"
            for r in self.targets)
        figs = "".join(f"<tr><td>{e(label)}</td><td style='text-align:right'>{_fmt(value)}</td>"
                       f"<td>{e(unit)}</td></tr>" for label, value, unit in self.figures)
        held = sum(r.held for r in self.targets)
        note = "" if self.complete else " <b>(incomplete run)</b>"
        return (
            f"<div class='povsim-summary'><p><b>povsim results {e(self.name)}</b>: "
            f"{first}-{last}, seed {self.seed}, scale 1:{self.scale}, budget "
            f"&times;{self.budget_scale:g}, scenario sha256 <code>{self.sha256[:12]}</code>"
            f"{note}</p><p>targets held: {held} of {len(self.targets)}</p>"
            "<table><thead><tr><th>target</th><th>held</th><th>year met</th><th>shortfall</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            f"<table><tbody>{figs}</tbody></table></div>")


def _fmt(x: float) -> str:
    if x != x:  # NaN
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def summarize(ds: xr.Dataset, scenario: Scenario | None = None) -> Summary:
    """Targets and key figures of one run's results.

    Parameters
    ----------
    ds
        Results of :func:`povsim.run` (or read back from its ``.nc``), without a ``replicate``
        dimension.
    scenario
        The scenario of the run; read from ``ds.attrs["scenario_json"]`` when omitted.

    Returns
    -------
    Summary
        Prints as text; Jupyter displays it as HTML.
    """
    targets = evaluate(ds, scenario)
    years = [int(y) for y in ds["year"].values]
    reg = ds["registered_poor"].sum("region")
    figures: list[tuple[str, float, str]] = [
        (f"registered poor at the end of {years[0]}", float(reg.isel(year=0)), "persons"),
        (f"registered poor at the end of {years[-1]}", float(reg.isel(year=-1)), "persons"),
        (f"exits {years[1] if len(years) > 1 else years[0]}-{years[-1]}",
         float(ds["exited"].sum(skipna=True)), "persons"),
        ("poor villages exited", float(ds["villages_exited"].isel(year=-1).sum()),
         f"of {float(ds['poor_villages'].sum()):,.0f}"),
        ("poor counties exited", float(ds["counties_exited"].isel(year=-1).sum()),
         f"of {float(ds['poor_counties'].sum()):,.0f}"),
    ]
    if "spending" in ds:
        spent = ds["spending"].sum(["region", "pathway"], skipna=True)
        sources = [str(s) for s in ds["source"].values]
        credit = [s for s in sources if s in _credit_sources(ds)]
        grants = spent.sel(source=[s for s in sources if s not in credit]).sum()
        figures.append(("money spent (grants, all years)", float(grants) / 1e9, "billion yuan"))
        if credit:
            figures.append(("credit lent (micro-credit, building loans; principal, apart)",
                            float(spent.sel(source=credit).sum()) / 1e9, "billion yuan"))
    a = ds.attrs
    return Summary(
        name=str(a.get("scenario_name", "?")),
        seed=int(a.get("seed", -1)),
        sha256=str(a.get("scenario_sha256", "")),
        scale=int(a.get("scale", 0)),
        budget_scale=float(a.get("budget_scale", float("nan"))),
        years=(years[0], years[-1]),
        complete=bool(int(a.get("complete", 1))),
        targets=targets,
        figures=figures,
    )
