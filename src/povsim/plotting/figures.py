"""The figures of one scenario: trajectory, exits, attribution, spending, counties, hindcast.

Each function takes the Dataset of :func:`povsim.run` (one run: lines) or a Dataset with a
``replicate`` dimension — an ensemble of :func:`povsim.compare` or :func:`povsim.sweep`, or a
store read back with :func:`povsim.open_ensemble` (bands over replicates) — and returns a
matplotlib :class:`~matplotlib.figure.Figure`. None of them runs a simulation. Pass ``path`` to
also save the figure (PNG, PDF or SVG by extension).
"""

from __future__ import annotations

import csv
import importlib.resources
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError

from .common import (
    HELD,
    MISSED,
    PARTLY,
    band,
    exp_color,
    experiments,
    legend_below,
    new_figure,
    panel_letter,
    save,
    source_kinds,
    stock,
    targets_of,
)
from .names import REGION_NAMES, county_labels, pathway_label, region_label, source_label

__all__ = [
    "plot_attribution",
    "plot_county_timeline",
    "plot_exits",
    "plot_hindcast",
    "plot_run",
    "plot_spending",
    "plot_trajectory",
    "read_observations",
    "target_outcomes",
]


# ---------------------------------------------------------------------------------------------
# targets per replicate
# ---------------------------------------------------------------------------------------------
def target_outcomes(runs: xr.Dataset) -> dict[str, np.ndarray]:
    """Whether each target held, per replicate: ``{target: bool array (replicate,)}``.

    Read from ``target_held`` when the Dataset records it (ensembles), else evaluated with
    :func:`povsim.targets.evaluate` on each replicate.

    Parameters
    ----------
    runs
        The runs of one experiment, with a ``replicate`` dimension (as the experiments of
        an ensemble, or one run with a replicate dimension of length 1).

    Returns
    -------
    dict of str to numpy.ndarray
        Target key (``"registered_poor"``, ``"villages"``, ...) to one bool per replicate.
    """
    if "target_held" in runs:
        th = runs["target_held"].transpose("replicate", "target")
        return {str(t): np.asarray(th.sel(target=t).values) > 0.5 for t in th["target"].values}
    from povsim.targets import evaluate

    from .common import scenario_of

    scn = scenario_of(runs)
    out: dict[str, list[bool]] = {}
    for r in range(runs.sizes["replicate"]):
        one = runs.isel(replicate=r)
        try:
            rows = evaluate(one, scn) if scn is not None else []
        except (KeyError, ValueError):
            rows = []
        for row in rows:
            out.setdefault(row.key, []).append(bool(row.held))
    return {k: np.array(v) for k, v in out.items()}


def _pace_met(runs: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(years, met)``: for each pace year, whether the yearly reduction met the pace
    (``met``: bool, replicate x year)."""
    t = targets_of(runs)
    s = np.asarray(stock(runs).transpose("replicate", "year").values, dtype=float)
    years = runs["year"].values
    red = -np.diff(s, axis=1)
    ry = years[1:]
    sel = np.isin(ry, t.pace_years)
    need = t.pace * (1 - t.pace_tolerance)
    return ry[sel], red[:, sel] >= need


def _mark_color(k: int, n: int) -> str:
    return HELD if k == n else MISSED if k == 0 else PARTLY


def _held_text(flags: np.ndarray) -> str:
    n = len(flags)
    k = int(np.sum(flags))
    if n == 1:
        return "held" if k else "not held"
    return f"held in {k} of {n} runs"


def _mark_legend(ax: Any, n: int) -> None:
    ax.plot([], [], "o", color=HELD, ms=7, label="target held" + (" in every run" if n > 1 else ""))
    if n > 1:
        ax.plot([], [], "o", color=PARTLY, ms=7, label="held in some runs")
    ax.plot([], [], "X", color=MISSED, ms=8, label="target not held" + (" in any run"
                                                                         if n > 1 else ""))


def _mark(ax: Any, x: float, y: float, k: int, n: int, text: bool = True, below: bool = False,
          **kw: Any) -> None:
    c = _mark_color(k, n)
    ax.plot([x], [y], "X" if k == 0 else "o", color=c, ms=kw.pop("ms", 8), zorder=6,
            markeredgecolor="white", **kw)
    if text and n > 1:
        ax.annotate(f"{k}/{n}", (x, y), xytext=(0, -14 if below else 7),
                    textcoords="offset points", ha="center", fontsize=7, color=c)


# ---------------------------------------------------------------------------------------------
# trajectory (fan chart)
# ---------------------------------------------------------------------------------------------
def plot_trajectory(ds: xr.Dataset, scenario: str | None = None, path: str | Path | None = None,
                    ax: Any = None) -> Any:
    """The registered-poor stock over the years against the target path and the pace.

    One run draws a line; replicates draw a fan (median, 25-75 % and 5-95 % of runs). The
    target path runs straight from the starting stock to the target (seed (三): all out by the
    target year); the pace line falls by the target pace (about 1 million) a year. A mark on
    each pace year says whether the year's reduction met the pace (within its tolerance), and one
    at the target year whether all registered poor were out.

    Parameters
    ----------
    ds
        A run or an ensemble (every experiment is drawn, one colour each).
    scenario
        Draw only this experiment of an ensemble.
    path
        Save the figure there.
    ax
        Draw into this axes instead of a new figure (the figure of ``ax`` is returned).

    Returns
    -------
    matplotlib.figure.Figure
    """
    exps = experiments(ds, scenario)
    if ax is None:
        fig, axes = new_figure(9.5, 5.6)
        ax = axes[0, 0]
    else:
        fig = ax.figure
    first = exps[0][1]
    t = targets_of(first)
    years = first["year"].values.astype(int)
    start = float(np.nanmedian(stock(first).isel(year=0).values)) / 1e6
    ax.plot([years[0], t.year], [start, t.registered_poor / 1e6], "--", color="0.15", lw=1.3,
            label=f"target path: all out by {t.year}")
    pace = np.maximum(start - (years - years[0]) * t.pace / 1e6, 0)
    ax.plot(years, pace, ":", color="0.35", lw=1.6,
            label=f"pace: {t.pace / 1e6:g} M fewer a year")
    n_max = 1
    texts: list[tuple[str, str]] = []
    for i, (lab, runs) in enumerate(exps):
        c = exp_color(i)
        s = stock(runs)
        n = runs.sizes["replicate"]
        n_max = max(n_max, n)
        name = lab if len(exps) > 1 else "simulated"
        if n > 1:
            q = band(s)
            ax.fill_between(years, q[0.05] / 1e6, q[0.95] / 1e6, color=c, alpha=0.15, lw=0,
                            label=f"{name}: 5-95% of {n} runs")
            ax.fill_between(years, q[0.25] / 1e6, q[0.75] / 1e6, color=c, alpha=0.3, lw=0,
                            label=f"{name}: 25-75%")
            med = q[0.5] / 1e6
            ax.plot(years, med, "-", color=c, lw=2, label=f"{name}: median")
        else:
            med = np.asarray(s.isel(replicate=0).values, dtype=float) / 1e6
            ax.plot(years, med, "-", color=c, lw=2, marker=".", label=name)
        py, met = _pace_met(runs)
        for j, y in enumerate(py):
            k = int(met[:, j].sum())
            _mark(ax, float(y), float(med[list(years).index(int(y))]), k, met.shape[0],
                  below=i % 2 == 1)
        held = target_outcomes(runs).get("registered_poor")
        if held is not None and t.year in years:
            k = int(held.sum())
            y_end = float(med[list(years).index(t.year)])
            _mark(ax, float(t.year), y_end, k, len(held), text=False, ms=11)
            left = float(np.nanmedian(s.sel(year=t.year).values))
            texts.append((f"{lab + ': ' if len(exps) > 1 else ''}all out by {t.year}: "
                          f"{_held_text(held)}"
                          + ("" if k == len(held) else f" ({left / 1e6:.2f} M left"
                             + (", median)" if len(held) > 1 else ")")),
                          _mark_color(k, len(held))))
    for i, (text, color) in enumerate(texts):
        ax.text(0.98, 0.96 - 0.07 * i, text, transform=ax.transAxes, ha="right", va="top",
                fontsize=9, color=color, bbox={"facecolor": "white", "edgecolor": "none",
                                               "alpha": 0.8, "pad": 1.5})
    _mark_legend(ax, n_max)
    ax.set_ylim(bottom=0)
    ax.set_xticks(years)
    ax.set_xlabel("year end")
    ax.set_ylabel("registered poor (million persons)")
    ax.set_title("Registered poor at year end against the target path and the pace"
                 + (f" ({exps[0][0]})" if len(exps) == 1 and exps[0][0] != "run" else ""),
                 fontsize=10)
    ax.grid(alpha=0.3)
    legend_below(ax, ncol=3)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# exits by year against the targets
# ---------------------------------------------------------------------------------------------
def _flow_years(runs: xr.Dataset) -> np.ndarray:
    return runs["year"].values.astype(int)[1:]


def _med_err(x: xr.DataArray) -> tuple[np.ndarray, np.ndarray | None]:
    q = band(x, (0.05, 0.5, 0.95))
    if x.sizes.get("replicate", 1) < 2:
        return q[0.5], None
    return q[0.5], np.vstack([np.clip(q[0.5] - q[0.05], 0, None),
                              np.clip(q[0.95] - q[0.5], 0, None)])


def plot_exits(ds: xr.Dataset, scenario: str | None = None,
               path: str | Path | None = None) -> Any:
    """People, villages and counties exiting, year by year, against their targets.

    Left: people exiting each year against the pace (seed (三): about 1 million a year, within
    its tolerance), with a held/not-held mark per pace year. Middle and right: poor villages and
    poor counties exited by each year end against "all by the target year", with the mark at the
    target year. Replicates: bars are medians with 5-95 % whiskers. The legend sits under the
    panels, never on the bars.

    Parameters
    ----------
    ds
        A run (:func:`povsim.run`) or an ensemble (:func:`povsim.compare`,
        :func:`povsim.sweep`, :func:`povsim.open_ensemble`).
    scenario
        Draw only this experiment of an ensemble (default: every experiment, one colour each).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure
    """
    exps = experiments(ds, scenario)
    fig, axes = new_figure(14, 4.9, 1, 3)
    t = targets_of(exps[0][1])
    width = 0.8 / len(exps)
    n_max = max(r.sizes["replicate"] for _, r in exps)
    for i, (lab, runs) in enumerate(exps):
        c = exp_color(i)
        yrs = _flow_years(runs)
        off = (i - (len(exps) - 1) / 2) * width
        name = lab if len(exps) > 1 else None
        # people
        ax = axes[0, 0]
        ex = runs["exited"].sum("region", min_count=1).isel(year=slice(1, None))
        med, err = _med_err(ex)
        ax.bar(yrs + off, med / 1e6, width, yerr=None if err is None else err / 1e6, capsize=2,
               color=c, label=name or "people exiting")
        net = -stock(runs).diff("year")
        nmed, _ = _med_err(net)
        ax.plot(yrs + off, nmed / 1e6, "_", color="black", ms=min(14, 40 * width), mew=2.2,
                label="net fall of the register (what the pace counts)" if i == 0 else None)
        py, met = _pace_met(runs)
        for j, y in enumerate(py):
            k = int(met[:, j].sum())
            jj = list(yrs).index(int(y))
            top = max(med[jj] + (err[1, jj] if err is not None else 0), nmed[jj]) / 1e6
            _mark(ax, float(y + off), float(top) + 0.08, k, met.shape[0], ms=7)
        held = target_outcomes(runs)
        for col, var, key, total_var, goal_default in (
            (1, "villages_exited", "villages", "poor_villages", t.villages),
            (2, "counties_exited", "counties", "poor_counties", t.counties),
        ):
            ax = axes[0, col]
            cum = runs[var].sum("region", min_count=1).isel(year=slice(1, None))
            med, err = _med_err(cum)
            ax.bar(yrs + off, med, width, yerr=err, capsize=2, color=c,
                   label=name or f"poor {key} exited (cumulative)")
            flags = held.get(key)
            if flags is not None and t.year in yrs:
                j = list(yrs).index(t.year)
                top = med[j] + (err[1, j] if err is not None else 0)
                _mark(ax, float(t.year + off), float(top) * 1.03 + 1e-9, int(flags.sum()),
                      len(flags), ms=9)
    # targets
    ax = axes[0, 0]
    need = t.pace * (1 - t.pace_tolerance) / 1e6
    pys = np.array(sorted(t.pace_years))
    ax.hlines(t.pace / 1e6, pys.min() - 0.45, pys.max() + 0.45, colors="0.15", linestyles="--",
              lw=1.3, label=f"pace target: {t.pace / 1e6:g} M a year")
    ax.fill_between([pys.min() - 0.45, pys.max() + 0.45], need, t.pace / 1e6, color="0.5",
                    alpha=0.2, lw=0, label=f"'about': met from {need:g} M "
                                           f"(-{100 * t.pace_tolerance:.0f}%)")
    ax.set_ylabel("million persons per year")
    ax.set_title("People exiting the register each year", fontsize=10)
    for col, key, total_var, goal_default in ((1, "villages", "poor_villages", t.villages),
                                              (2, "counties", "poor_counties", t.counties)):
        ax = axes[0, col]
        runs0 = exps[0][1]
        total = float(np.nanmax(runs0[total_var].sum("region").values)) if total_var in runs0 \
            else float(goal_default)
        goal = min(goal_default, total)
        ax.axhline(goal, color="0.15", ls="--", lw=1.3,
                   label=f"target: all {goal:,.0f} by {t.year}")
        ax.set_ylabel(f"poor {key} exited by year end")
        ax.set_title(f"Poor {key} exited (cumulative)", fontsize=10)
        ax.set_ylim(0, goal * 1.15)
    for j, ax in enumerate(axes[0]):
        ax.set_xticks(_flow_years(exps[0][1]))
        ax.set_xlabel("year")
        ax.grid(alpha=0.3, axis="y")
        panel_letter(ax, "abc"[j])
        if j == 0:
            _mark_legend(ax, n_max)
        legend_below(ax, ncol=2)
    if n_max > 1:
        fig.suptitle(f"Bars: median of {n_max} runs, whiskers 5-95%", fontsize=9)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# attribution
# ---------------------------------------------------------------------------------------------
def _colors(names: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    fixed = ["production", "relocation", "dibao", "medical", "reconstruction",
             "housing_renovation", "services", "no_pathway", "review", "quota", "ecological",
             "asset_income"]
    out = {}
    for n in names:
        i = fixed.index(n) if n in fixed else len(fixed) + names.index(n)
        out[n] = "0.75" if n == "no_pathway" else cmap(i % 10)
    return out


def plot_attribution(ds: xr.Dataset, scenario: str | None = None,
                     path: str | Path | None = None) -> Any:
    """Which pathway carried the exits: stacked areas by year (direct accounting).

    With the counterfactual contribution in the Dataset (``povsim compare --attribution
    counterfactual`` or :func:`povsim.attribution` of a scenario) a last panel adds, for each
    pathway, the exits the scenario has more than the same scenario without that pathway
    (paired over replicates, with the interval).

    Parameters
    ----------
    ds
        A run (:func:`povsim.run`) or an ensemble (:func:`povsim.compare`,
        :func:`povsim.sweep`, :func:`povsim.open_ensemble`), or the result of :func:`povsim.attribution`.
    scenario
        Draw only this experiment of an ensemble (default: every experiment, one panel each).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PovsimError
        The Dataset has no attribution (``exits_by_pathway`` or ``exits_direct``).
    """
    var = "exits_by_pathway" if "exits_by_pathway" in ds else \
        "exits_direct" if "exits_direct" in ds else None
    if var is None:
        raise PovsimError("this Dataset has no attribution of exits (exits_by_pathway): run the "
                          "scenario through povsim.compare or povsim.attribution")
    has_cf = "cf_exits_total" in ds
    exps = experiments(ds, scenario)
    ncols = len(exps) + (1 if has_cf else 0)
    fig, axes = new_figure(5.2 * ncols + 1, 4.9, 1, ncols, sharey=False)
    names = [str(a) for a in ds["attribution"].values]
    colors = _colors(names)
    ymax = 0.0
    for i, (lab, runs) in enumerate(exps):
        ax = axes[0, i]
        ex = runs[var]
        if "replicate" in ex.dims:
            ex = ex.mean("replicate")
        ex = ex.sum("region", min_count=1).isel(year=slice(1, None))
        yrs = ex["year"].values.astype(int)
        keep = [a for a in names if np.nansum(ex.sel(attribution=a).values) > 0]
        vals = [np.nan_to_num(ex.sel(attribution=a).values) / 1e6 for a in keep]
        ax.stackplot(yrs, vals, labels=[pathway_label(a) for a in keep],
                     colors=[colors[a] for a in keep], alpha=0.9)
        ymax = max(ymax, float(np.sum(vals, axis=0).max()) if vals else 0.0)
        ax.set_xticks(yrs)
        ax.set_xlabel("year")
        ax.set_ylabel("people exiting (million per year)")
        n = runs.sizes.get("replicate", 1)
        ax.set_title(f"Exits by the pathway that carried them: {lab}"
                     + (f"\n(direct accounting, mean of {n} runs)" if n > 1 else
                        "\n(direct accounting)"), fontsize=10)
        ax.grid(alpha=0.3)
        panel_letter(ax, "abcdefgh"[i])
        legend_below(ax, ncol=2)
    for i in range(len(exps)):
        axes[0, i].set_ylim(0, ymax * 1.08 if ymax > 0 else 1)
    if has_cf:
        draw_counterfactual(axes[0, -1], ds, [lab for lab, _ in exps])
        panel_letter(axes[0, -1], "abcdefgh"[len(exps)])
    return save(fig, path)


def draw_counterfactual(ax: Any, ds: xr.Dataset, labels: list[str] | None = None) -> None:
    """Horizontal bars: exits each pathway adds (``cf_exits_total``), with its interval."""
    from .common import ensemble_dim

    dim = ensemble_dim(ds)
    if labels is None:
        labels = [str(x) for x in ds[dim].values] if dim is not None else ["run"]
    offs = [str(x) for x in ds["switched_off"].values]
    h = 0.8 / len(labels)
    yy = np.arange(len(offs))
    for i, lab in enumerate(labels):
        sub = ds.sel({dim: lab}) if dim is not None else ds
        v = np.asarray(sub["cf_exits_total"].values, dtype=float) / 1e6
        lo = sub["cf_exits_total_lo"].values / 1e6 if "cf_exits_total_lo" in sub else v
        hi = sub["cf_exits_total_hi"].values / 1e6 if "cf_exits_total_hi" in sub else v
        err = np.vstack([np.nan_to_num(np.clip(v - lo, 0, None)),
                         np.nan_to_num(np.clip(hi - v, 0, None))])
        ax.barh(yy + (i - (len(labels) - 1) / 2) * h, np.nan_to_num(v), h, xerr=err,
                capsize=2, color=exp_color(i), label=lab)
    ax.axvline(0, color="0.2", lw=0.8)
    ax.set_yticks(yy, [pathway_label(p) for p in offs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("exits added by the pathway, all years (million persons)")
    level = ds["cf_exits_total"].attrs.get("level", 0.9)
    ax.set_title("Counterfactual: scenario minus the scenario without the pathway\n"
                 f"(paired over replicates, {100 * float(level):.0f}% interval)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    legend_below(ax, ncol=2)


def draw_direct_totals(ax: Any, ds: xr.Dataset) -> None:
    """Stacked bars per experiment: exits of all years by the pathway that carried them."""
    from .common import ensemble_dim

    dim = ensemble_dim(ds)
    labels = [str(x) for x in ds[dim].values]
    if "exits_direct_total" in ds:
        ex = ds["exits_direct_total"]
    else:
        ok = ds["done"] == 1 if "done" in ds else True
        ex = ds["exits_by_pathway"].where(ok).mean("replicate").sum(["year", "region"])
    ex = ex / 1e6
    names = [str(a) for a in ds["attribution"].values]
    colors = _colors(names)
    bottom = np.zeros(len(labels))
    for a in names:
        v = np.nan_to_num(ex.sel(attribution=a).transpose(dim).values)
        if v.sum() <= 0:
            continue
        ax.bar(np.arange(len(labels)), v, 0.6, bottom=bottom, label=pathway_label(a),
               color=colors[a])
        bottom += v
    ax.set_xticks(np.arange(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("exits, all years (million persons)")
    ax.set_title("Exits by the pathway that carried them\n(direct accounting, mean of runs)",
                 fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    legend_below(ax, ncol=2).set_bbox_to_anchor((0.5, -0.2))


# ---------------------------------------------------------------------------------------------
# spending
# ---------------------------------------------------------------------------------------------
def _source_colors(names: list[Any]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["Set2"]
    return {str(n): cmap(i % 8) for i, n in enumerate(names)}


def _stacked_bars(ax: Any, yrs: np.ndarray, rows: dict[str, np.ndarray], colors: dict[str, Any]
                  | None, label: Any) -> None:
    bottom = np.zeros(len(yrs))
    for i, (name, vals) in enumerate(rows.items()):
        v = np.nan_to_num(vals)
        if v.sum() <= 0:
            continue
        ax.bar(yrs, v, 0.7, bottom=bottom, label=label(name),
               color=(colors or {}).get(name, f"C{i % 10}"))
        bottom += v


def plot_spending(ds: xr.Dataset, scenario: str | None = None,
                  path: str | Path | None = None) -> Any:
    """Money spent by pathway and by source, grants and micro-credit apart.

    Grants (money spent) are drawn by pathway and by source; micro-credit principal lent to
    households (sources of kind ``credit``, repaid by them) is drawn in its own panel and counted
    in neither. Replicates: means over runs. One row per experiment of an ensemble.

    Parameters
    ----------
    ds
        A run (:func:`povsim.run`) or an ensemble (:func:`povsim.compare`,
        :func:`povsim.sweep`, :func:`povsim.open_ensemble`).
    scenario
        Draw only this experiment of an ensemble (default: every experiment, one row each).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure
    """
    exps = experiments(ds, scenario)
    fig, axes = new_figure(15, 4.6 * len(exps) + 0.4, len(exps), 3)
    for i, (lab, runs) in enumerate(exps):
        kinds = source_kinds(runs)
        sp = runs["spending"]
        if "replicate" in sp.dims:
            sp = sp.mean("replicate")
        sp = sp.sum("region", min_count=1).isel(year=slice(1, None))
        yrs = sp["year"].values.astype(int)
        grants = [s for s in sp["source"].values if kinds.get(str(s)) != "credit"]
        credit = [s for s in sp["source"].values if kinds.get(str(s)) == "credit"]
        g = sp.sel(source=grants)
        pw = [str(p) for p in sp["pathway"].values]
        colors = _colors(pw)
        ax = axes[i, 0]
        _stacked_bars(ax, yrs, {p: g.sel(pathway=p).sum("source").values / 1e9 for p in pw},
                      colors, pathway_label)
        ax.set_title(f"Grants spent by pathway{'' if len(exps) == 1 else ': ' + lab}",
                     fontsize=10)
        ax = axes[i, 1]
        _stacked_bars(ax, yrs, {str(s): g.sel(source=s).sum("pathway").values / 1e9
                                for s in grants}, _source_colors(grants), source_label)
        ax.set_title("Grants spent by source", fontsize=10)
        ax = axes[i, 2]
        if credit:
            c = sp.sel(source=credit).sum("source")
            _stacked_bars(ax, yrs, {p: c.sel(pathway=p).values / 1e9 for p in pw}, colors,
                          pathway_label)
            ax.set_title("Micro-credit lent (principal, repaid by households;\nnot counted as "
                         "money spent)", fontsize=10)
        else:
            ax.text(0.5, 0.5, "no credit source in this scenario", ha="center", va="center",
                    transform=ax.transAxes, color="0.4")
            ax.set_title("Micro-credit lent", fontsize=10)
        for j, a in enumerate(axes[i]):
            a.set_xticks(yrs)
            a.set_xlabel("year")
            a.set_ylabel("billion yuan")
            a.grid(alpha=0.3, axis="y")
            panel_letter(a, "abcdefghijklmnopqrstuvwxyz"[3 * i + j])
            legend_below(a, ncol=2)
    n = exps[0][1].sizes.get("replicate", 1)
    if n > 1:
        fig.suptitle(f"Mean of {n} runs", fontsize=9)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# county exit timeline
# ---------------------------------------------------------------------------------------------
def _observed_batches() -> dict[str, int]:
    """Official exit batch year of each county (calibration/sichuan_county_exit_list.csv)."""
    path = Path(str(importlib.resources.files("povsim.calibration_data")
                    / "sichuan_county_exit_list.csv"))
    out: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                y = (row.get("exit_batch_year") or "").strip()
                if y.isdigit():
                    out[row["county"]] = int(y)
    except OSError:
        return {}
    return out


def plot_county_timeline(ds: xr.Dataset, scenario: str | None = None,
                         path: str | Path | None = None) -> Any:
    """The 88 poor counties × year: exited or not (share of runs), grouped by region.

    Counties are ordered by region, then by (median) exit year; each is labelled by its pinyin
    name (with the Chinese name when a CJK font is available). Black dots: the official exit
    batches that are known (calibration/sichuan_county_exit_list.csv).

    Parameters
    ----------
    ds
        A run (:func:`povsim.run`) or an ensemble (:func:`povsim.compare`,
        :func:`povsim.sweep`, :func:`povsim.open_ensemble`).
    scenario
        Draw only this experiment of an ensemble (default: the first).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PovsimError
        The Dataset has no ``county_exit_year``.
    """
    exps = experiments(ds, scenario)
    lab, runs = exps[0]
    if "county_exit_year" not in runs:
        raise PovsimError("this Dataset has no county_exit_year (county exits are recorded by "
                          "povsim.run)")
    poor = np.asarray(runs["county_poor"].values, dtype=bool) if "county_poor" in runs.coords \
        else np.ones(runs.sizes["county"], dtype=bool)
    names = [str(c) for c in runs["county"].values]
    regions = [str(r) for r in runs["county_region"].values] if "county_region" in runs.coords \
        else ["" for _ in names]
    ey = np.asarray(runs["county_exit_year"].transpose("replicate", "county").values, dtype=float)
    ey = np.where(ey < 0, np.nan, ey)
    years = runs["year"].values.astype(int)[1:]
    idx = np.flatnonzero(poor)
    share = np.zeros((len(idx), len(years)))
    for j, y in enumerate(years):
        share[:, j] = np.mean(np.nan_to_num(ey[:, idx], nan=np.inf) <= y, axis=0)
    with np.errstate(all="ignore"):
        med = np.nanmedian(np.where(np.isnan(ey[:, idx]), 9999, ey[:, idx]), axis=0)
    order_r = list(REGION_NAMES)
    key = [(order_r.index(regions[c]) if regions[c] in order_r else len(order_r), med[k],
            names[c]) for k, c in enumerate(idx)]
    order = sorted(range(len(idx)), key=lambda k: key[k])
    share = share[order]
    rows = [idx[k] for k in order]
    n = ey.shape[0]
    fig, axes = new_figure(8.6, 0.15 * len(rows) + 2.2)
    ax = axes[0, 0]
    import matplotlib

    cmap = matplotlib.colormaps["Greens"]
    im = ax.imshow(share, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest",
                   extent=(years[0] - 0.5, years[-1] + 0.5, len(rows) - 0.5, -0.5))
    ax.set_yticks(np.arange(len(rows)), county_labels([names[c] for c in rows]), fontsize=5.5)
    ax.set_xticks(years)
    ax.set_xlabel("year end")
    ax.tick_params(axis="x", labeltop=True, top=True)
    # region groups
    start = 0
    for k in range(1, len(rows) + 1):
        if k == len(rows) or regions[rows[k]] != regions[rows[start]]:
            if k < len(rows):
                ax.axhline(k - 0.5, color="black", lw=1.2)
            ax.text(years[-1] + 0.62, (start + k - 1) / 2, f"{region_label(regions[rows[start]])}"
                    f"\n({k - start} counties)", rotation=90, va="center", ha="left",
                    fontsize=8, transform=ax.transData)
            start = k
    obs = _observed_batches()
    pts = [(obs[names[c]], r) for r, c in enumerate(rows) if names[c] in obs]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color="black", ms=3.5,
                label="official exit batch (sichuan_county_exit_list.csv)")
        fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    if n > 1:
        fig.colorbar(im, ax=ax, label=f"share of {n} runs in which the county has exited",
                     shrink=0.4, pad=0.08, location="bottom")
    ax.set_title(f"Poor counties exited by year end, grouped by region ({lab}"
                 + (f", {n} runs)" if n > 1 else ")")
                 + "\ndark: exited; light: not yet", fontsize=10)
    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# hindcast
# ---------------------------------------------------------------------------------------------
#: observed figures the hindcast compares with: (variable, calibration file, series, region,
#: how the figure maps to the model's variable)
OBSERVED_SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("registered_poor", "sichuan_poor_population.csv", "registered_poor_population_yearend",
     "Sichuan"),
    ("exited", "sichuan_poor_population.csv", "people_lifted_out_derived_from_stock", "Sichuan"),
    ("exited", "sichuan_poor_population.csv", "people_lifted_out_reported", "Sichuan"),
    ("villages_exited_in_year", "sichuan_village_exits.csv", "villages_exited", "Sichuan"),
    ("counties_exited_in_year", "sichuan_county_exits.csv", "counties_exited_in_batch_year",
     "Sichuan"),
)

_OBS_COLUMNS = ("variable", "year", "value", "source")


def read_observations() -> Any:
    """The sourced Sichuan figures of 2013-2016 the hindcast is compared with (earlier years,
    before the registration of 2014, are left out).

    Returns
    -------
    pandas.DataFrame
        Columns ``variable`` (``registered_poor``, ``exited``, ``villages_exited_in_year``,
        ``counties_exited_in_year``), ``year``, ``value``, ``unit``, ``source``, ``series``,
        ``file``, ``confidence``; read from the calibration tables listed in
        :data:`OBSERVED_SERIES`.
    """
    import pandas as pd

    rows = []
    for var, fname, series, region in OBSERVED_SERIES:
        path = Path(str(importlib.resources.files("povsim.calibration_data") / fname))
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                if r["series"] == series and r["region"] == region and int(r["year"]) >= 2013:
                    rows.append({"variable": var, "year": int(r["year"]),
                                 "value": float(r["value"]), "unit": r["unit"],
                                 "source": r["source"], "series": series, "file": fname,
                                 "confidence": r.get("confidence", "")})
    return pd.DataFrame(rows, columns=["variable", "year", "value", "unit", "source", "series",
                                       "file", "confidence"])


def _model_series(runs: xr.Dataset, var: str) -> xr.DataArray | None:
    if var == "registered_poor":
        return stock(runs)
    if var == "exited":
        return runs["exited"].sum("region", min_count=1)
    if var in ("villages_exited_in_year", "counties_exited_in_year"):
        base = var.replace("_in_year", "")
        if base not in runs:
            return None
        cum = runs[base].sum("region", min_count=1)
        return cum.diff("year").reindex(year=runs["year"])
    if var in runs:
        da = runs[var]
        return da.sum("region", min_count=1) if "region" in da.dims else da
    return None


_HINDCAST_TITLES = {
    "registered_poor": ("Registered poor at year end", "million persons", 1e6),
    "exited": ("People exiting the register in the year", "million persons", 1e6),
    "villages_exited_in_year": ("Poor villages exiting in the year", "villages", 1.0),
    "counties_exited_in_year": ("Poor counties exiting in the year", "counties", 1.0),
}


def plot_hindcast(ds: xr.Dataset, observations: Any = None, scenario: str | None = None,
                  path: str | Path | None = None) -> Any:
    """The simulated band against the observed figures, variable by variable.

    Parameters
    ----------
    ds
        Runs with a ``year`` dimension (a run, or replicates: median and 5-95 % band).
    observations
        A table (pandas DataFrame, or a list of dicts) with columns ``variable``, ``year``,
        ``value`` and ``source``; default :func:`read_observations` (Sichuan 2013-2016).
    scenario
        The experiment of an ensemble to draw (default: the first).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    PovsimError
        The observations lack a column, or name no variable the runs have.
    """
    import pandas as pd

    obs = read_observations() if observations is None else pd.DataFrame(observations)
    missing = [c for c in _OBS_COLUMNS if c not in obs.columns]
    if missing:
        raise PovsimError(f"observations: missing column(s) {', '.join(missing)} (expected "
                          f"columns {', '.join(_OBS_COLUMNS)})")
    lab, runs = experiments(ds, scenario)[0]
    variables = [v for v in dict.fromkeys(obs["variable"]) if _model_series(runs, v) is not None]
    if not variables:
        raise PovsimError("observations: no variable the runs have (expected e.g. "
                          "registered_poor, exited, villages_exited_in_year)")
    ncols = 2 if len(variables) > 1 else 1
    nrows = int(np.ceil(len(variables) / ncols))
    fig, axes = new_figure(6.2 * ncols, 4.3 * nrows + 0.5, nrows, ncols)
    n = runs.sizes["replicate"]
    y_model = runs["year"].values.astype(int)
    notes: list[str] = []
    for k, var in enumerate(variables):
        ax = axes.flat[k]
        title, unit, div = _HINDCAST_TITLES.get(var, (var, "", 1.0))
        series = _model_series(runs, var)
        flow = var != "registered_poor"
        sel = slice(1, None) if flow else slice(None)
        yy = y_model[sel]
        q = band(series.isel(year=sel), (0.05, 0.5, 0.95))
        if n > 1:
            ax.fill_between(yy, q[0.05] / div, q[0.95] / div, color="C0", alpha=0.25, lw=0,
                            label=f"simulated, 5-95% of {n} runs")
        ax.plot(yy, q[0.5] / div, "-o", color="C0", ms=3,
                label="simulated (median)" if n > 1 else "simulated")
        o = obs[obs["variable"] == var].sort_values("year")
        files = list(dict.fromkeys(str(f) for f in o.get("file", o["source"]) if str(f)))
        ax.plot(o["year"], o["value"] / div, "D", color="black", ms=6, zorder=5,
                label="observed" + (f" ({', '.join(files)})" if files and len(files) < 3
                                    else ""))
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xlabel("year")
        lo = int(min(yy.min(), o["year"].min())) if len(o) else int(yy.min())
        hi = int(max(yy.max(), o["year"].max())) if len(o) else int(yy.max())
        ax.set_xticks(np.arange(lo, hi + 1))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        panel_letter(ax, "abcdefgh"[k])
        legend_below(ax, ncol=2)
        for _, r in o.iterrows():
            notes.append(f"{var} {int(r['year'])}: {r.get('series', '')} — {r['source']}")
    for k in range(len(variables), nrows * ncols):
        axes.flat[k].set_visible(False)
    fig.suptitle(f"Hindcast: simulated ({lab}) against the sourced observations", fontsize=11)
    fig.hindcast_sources = notes  # the full source of every observed point, for a report

    return save(fig, path)


# ---------------------------------------------------------------------------------------------
# the summary figure of one run
# ---------------------------------------------------------------------------------------------
def plot_run(ds: xr.Dataset, path: str | Path | None = None) -> Any:
    """Summary figure of one run (``povsim run --figure``).

    Four panels: (a) the registered poor by region against the target path and the pace, with
    held/not-held marks; (b) the yearly flows of the register; (c) the grants spent by pathway
    (micro-credit principal is lent, not spent, and is left out); (d) the share of poor villages
    and counties exited against "all by the target year".

    Parameters
    ----------
    ds
        Results of :func:`povsim.run` (one run).
    path
        If given, the figure is saved there (PNG, PDF or SVG by extension).

    Returns
    -------
    matplotlib.figure.Figure
    """
    (_lab, runs), = experiments(ds)[:1]
    one = runs.isel(replicate=0)
    t = targets_of(runs)
    years = one["year"].values.astype(int)
    fig, axes = new_figure(13, 9.4, 2, 2)

    ax = axes[0, 0]
    st = one["registered_poor"].transpose("year", "region").values / 1e6
    regions = [str(r) for r in one["region"].values]
    ax.stackplot(years, st.T, labels=[region_label(r) for r in regions], alpha=0.85)
    start = float(st[0].sum())
    ax.plot([years[0], t.year], [start, t.registered_poor / 1e6], "--", color="0.1", lw=1.3,
            label=f"target path: all out by {t.year}")
    ax.plot(years, np.maximum(start - (years - years[0]) * t.pace / 1e6, 0), ":", color="0.1",
            lw=1.6, label=f"pace: {t.pace / 1e6:g} M fewer a year")
    tot = st.sum(axis=1)
    py, met = _pace_met(runs)
    for j, y in enumerate(py):
        _mark(ax, float(y), float(tot[list(years).index(int(y))]), int(met[0, j]), 1)
    flags = target_outcomes(runs)
    if "registered_poor" in flags and t.year in years:
        k = int(flags["registered_poor"].sum())
        _mark(ax, float(t.year), float(tot[list(years).index(t.year)]), k, 1, ms=11)
        ax.text(0.98, 0.96, f"all out by {t.year}: {_held_text(flags['registered_poor'])}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9,
                color=_mark_color(k, 1))
    _mark_legend(ax, 1)
    ax.set_title("Registered poor at year end, by region", fontsize=10)
    ax.set_ylabel("million persons")
    ax.set_ylim(bottom=0)
    legend_below(ax, ncol=3)

    ax = axes[0, 1]
    sim = years[1:]
    for name, style, label in (("exited", "-o", "exited"), ("returned", "-s", "returned to poverty"),
                               ("new_poor", "-^", "newly registered")):
        ax.plot(sim, one[name].sum("region").values[1:] / 1e6, style, label=label)
    ax.set_title("Flows of the register", fontsize=10)
    ax.set_ylabel("million persons per year")
    legend_below(ax, ncol=3)

    ax = axes[1, 0]
    kinds = source_kinds(one)
    grants = [s for s in one["source"].values if kinds.get(str(s)) != "credit"]
    spend = one["spending"].sel(source=grants).sum(["region", "source"])
    pw = [str(p) for p in spend["pathway"].values]
    colors = _colors(pw)
    _stacked_bars(ax, sim, {p: spend.sel(pathway=p).values[1:] / 1e9 for p in pw}, colors,
                  pathway_label)
    credit = [s for s in one["source"].values if kinds.get(str(s)) == "credit"]
    note = ""
    if credit:
        lent = float(np.nansum(one["spending"].sel(source=credit).values)) / 1e9
        note = f"\n(micro-credit lent, not counted: {lent:,.1f} bn yuan over all years)"
    ax.set_title("Grants spent by pathway" + note, fontsize=10)
    ax.set_ylabel("billion yuan")
    legend_below(ax, ncol=3)

    ax = axes[1, 1]
    for var, total_var, goal, style, name in (
        ("villages_exited", "poor_villages", t.villages, "-o", "poor villages"),
        ("counties_exited", "poor_counties", t.counties, "-s", "poor counties"),
    ):
        total = float(one[total_var].sum()) if total_var in one else float(goal)
        share = one[var].sum("region").values / max(min(goal, total), 1)
        ax.plot(years, share, style, label=f"{name} exited")
        key = name.split()[1]
        if key in flags and t.year in years:
            _mark(ax, float(t.year), float(share[list(years).index(t.year)]),
                  int(flags[key].sum()), 1, ms=10)
    ax.axhline(1.0, color="0.1", ls="--", lw=1.3, label=f"target: all by {t.year}")
    _mark_legend(ax, 1)
    ax.set_ylim(0, 1.12)
    ax.set_title("Share of poor villages and counties exited", fontsize=10)
    ax.set_ylabel("share of the target")
    legend_below(ax, ncol=3)

    for j, a in enumerate(axes.flat):
        a.grid(alpha=0.3)
        a.set_xticks(years if j in (0, 3) else sim)
        a.set_xlabel("year end" if j in (0, 3) else "year")
        panel_letter(a, "abcd"[j])
    fig.suptitle(f"povsim: {ds.attrs.get('scenario_name', '')} (seed {ds.attrs.get('seed')}, "
                 f"1:{ds.attrs.get('scale')})")
    return save(fig, path)
