"""The campaign's targets (seed (三), domain.md §1) evaluated on a results Dataset.

:func:`evaluate` returns one row per target: whether it held, the year it was first met, and
the shortfall at the target year (in the target's unit). It works on one run or, with a
``replicate`` dimension, on each replicate (see :mod:`povsim.ensembles`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from povsim.scenario.schema import Scenario

__all__ = ["TargetResult", "evaluate", "format_table", "target_table"]


@dataclass(frozen=True)
class TargetResult:
    """Outcome of one target in one run.

    Attributes
    ----------
    key
        The target's name (``registered_poor``, ``pace``, ``villages``, ``counties``,
        ``income``, ``services``).
    label
        A sentence saying the target, with its threshold and year.
    held
        Whether the target held in the target year (``targets.year``).
    year_met
        The first simulated year the target was met, or ``None`` if never.
    shortfall
        How far the run was from the target in the target year, in ``unit`` (0 when held).
    unit
        Unit of ``shortfall``.
    detail
        Extra information for the reader (the stock in the target year, the years the pace held).
    """

    key: str
    label: str
    held: bool
    year_met: int | None
    shortfall: float
    unit: str
    detail: str = ""


def _first_year(years: np.ndarray, ok: np.ndarray) -> int | None:
    hits = np.flatnonzero(ok)
    return int(years[hits[0]]) if hits.size else None


def evaluate(ds: xr.Dataset, scenario: Scenario | None = None) -> list[TargetResult]:
    """Evaluate every target of domain.md §1 on the results of one run.

    Parameters
    ----------
    ds
        A results Dataset from :func:`povsim.run` (no ``replicate`` dimension).
    scenario
        The scenario that produced it; read from ``ds.attrs["scenario_json"]`` when omitted.

    Returns
    -------
    list of TargetResult
        One row per target, in the order of the seed (三): stock, pace, villages, counties,
        income, and services when the run has them.
    """
    if scenario is None:
        scenario = Scenario.model_validate_json(ds.attrs["scenario_json"])
    t = scenario.targets
    years = ds["year"].values
    sim = years >= scenario.calendar.start_year
    ty = t.year

    def at_target(name: str) -> xr.DataArray:
        # one variable at the target year (selecting the whole Dataset cost ~5 ms a run)
        return ds[name].sel(year=ty) if ty in years else ds[name].isel(year=-1)

    out: list[TargetResult] = []

    stock = ds["registered_poor"].sum("region").values
    ok = stock <= t.registered_poor + 0.5
    out.append(TargetResult(
        "registered_poor", f"all registered poor out of poverty by {ty}",
        bool(ok[years == ty].any()) if ty in years else False,
        _first_year(years, ok & sim), float(max(at_target("registered_poor").sum() - t.registered_poor, 0)),
        "persons", f"stock {stock[years == ty][0]:,.0f}" if ty in years else "",
    ))

    reduction = -np.diff(stock)
    ryears = years[1:]
    need = t.pace * (1 - t.pace_tolerance)
    sel = np.isin(ryears, t.pace_years)
    pace_ok = reduction[sel] >= need
    short = float(np.max(np.maximum(need - reduction[sel], 0))) if sel.any() else float("nan")
    met_years = ", ".join(str(int(y)) for y in ryears[sel][pace_ok]) or "none"
    out.append(TargetResult(
        "pace", f"about {t.pace:,.0f} fewer poor each year {min(t.pace_years)}-{max(t.pace_years)}",
        bool(sel.any() and pace_ok.all()), None if not pace_ok.all() or not sel.any()
        else int(ryears[sel][-1]), short, "persons per year",
        f"years met: {met_years}",
    ))

    v = ds["villages_exited"].sum("region").values
    vt = float(ds["poor_villages"].sum()) if "poor_villages" in ds else float(t.villages)
    goal_v = min(t.villages, vt)
    ok_v = v >= goal_v - 0.5
    out.append(TargetResult(
        "villages", f"all {t.villages:,} poor villages exit by {ty}",
        bool(ok_v[years == ty].any()), _first_year(years, ok_v & sim),
        float(max(goal_v - at_target("villages_exited").sum(), 0)), "villages",
    ))

    c = ds["counties_exited"].sum("region").values
    ct = float(ds["poor_counties"].sum()) if "poor_counties" in ds else float(t.counties)
    goal_c = min(t.counties, ct)
    ok_c = c >= goal_c - 0.5
    out.append(TargetResult(
        "counties", f"all {t.counties} poor counties exit by {ty}",
        bool(ok_c[years == ty].any()), _first_year(years, ok_c & sim),
        float(max(goal_c - at_target("counties_exited").sum(), 0)), "counties",
    ))

    inc = ds["poor_county_mean_income"].values
    goal = t.income_baseline_2010 * t.income_multiple
    ok_i = inc >= goal
    out.append(TargetResult(
        "income", f"poor-county income {t.income_multiple:g}x 2010 ({goal:,.0f} yuan) by {ty}",
        bool(ok_i[years == ty].any()), _first_year(years, ok_i & sim),
        float(max(goal - float(at_target("poor_county_mean_income")), 0)), "yuan/person/year",
    ))

    if "services_coverage" in ds:
        cov = ds["services_coverage"].min("service")
        label, unit = f"every poor village has every service by {ty}", "share of poor villages"
        if "township_coverage" in ds:
            # seed (三) 乡乡有标准中心校、有达标卫生院、有便民服务中心: the townships count too
            cov = np.minimum(cov, ds["township_coverage"].min("facility"))
            label = f"every poor village and poor-county township has every service by {ty}"
            unit = "share of poor villages or townships"
        ok_s = cov.values >= t.services_coverage - 1e-9
        short = t.services_coverage - float(cov.sel(year=ty) if ty in years else cov[-1])
        out.append(TargetResult(
            "services", label, bool(ok_s[years == ty].any()), _first_year(years, ok_s & sim),
            float(max(short, 0)), unit,
        ))
    return out


def target_table(ds: xr.Dataset, scenario: Scenario | None = None) -> xr.Dataset:
    """The targets as a small Dataset (dimension ``target``).

    Parameters
    ----------
    ds
        A results Dataset from :func:`povsim.run`.
    scenario
        The scenario that produced it (default: read from ``ds.attrs``).

    Returns
    -------
    xarray.Dataset
        ``held`` (bool), ``year_met`` (int, −1 for never) and ``shortfall`` over ``target``,
        with ``label`` and ``unit`` as coordinates; see :func:`evaluate`.
    """
    rows = evaluate(ds, scenario)
    return xr.Dataset(
        {
            "held": ("target", np.array([r.held for r in rows])),
            "year_met": ("target", np.array([r.year_met if r.year_met is not None else -1
                                             for r in rows])),
            "shortfall": ("target", np.array([r.shortfall for r in rows])),
        },
        coords={"target": [r.key for r in rows], "label": ("target", [r.label for r in rows]),
                "unit": ("target", [r.unit for r in rows])},
    )


def format_table(rows: list[TargetResult]) -> str:
    """A plain-text table of target results for the terminal.

    Parameters
    ----------
    rows
        The result of :func:`evaluate`.

    Returns
    -------
    str
        One line per target: the target, held or not, the year met, the shortfall.
    """
    head = ("target", "held", "year met", "shortfall")
    lines = []
    for r in rows:
        short = "-" if r.held else f"{r.shortfall:,.0f} {r.unit}" if r.shortfall >= 1 else \
            f"{r.shortfall:.3g} {r.unit}"
        lines.append((r.label, "yes" if r.held else "no",
                      str(r.year_met) if r.year_met is not None else "-", short))
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*head), sep] + [fmt.format(*x) for x in lines])
