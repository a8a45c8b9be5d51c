"""Figures of comparisons, sweeps and frontiers — drawn from the Datasets alone.

Every function takes the Datasets returned by :func:`povsim.compare`, :func:`povsim.sweep` or
:func:`povsim.frontier` (or read back from their stores) and returns a matplotlib
:class:`~matplotlib.figure.Figure` that pyplot does not keep open (a notebook shows it once);
pass ``path`` to also save it. Swept keys are found under their dotted names
(``budget.scale``) or as identifiers (``budget_scale``) that carry the dotted key in an
attribute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.plotting.common import (
    exp_color,
    legend_below,
    new_figure,
    panel_letter,
    save,
    swept_keys,
    targets_of,
)
from povsim.plotting.figures import draw_counterfactual, draw_direct_totals
from povsim.plotting.names import key_label, target_label

from .stats import ensemble_dim, runs_done

__all__ = ["plot_comparison", "plot_frontier", "plot_sweep", "save"]

#: short target names (kept for the terminal tables of :mod:`povsim.ensembles.sweep`)
_SHORT = {
    "registered_poor": "all poor out",
    "pace": "pace 1M/yr",
    "villages": "villages exit",
    "counties": "counties exit",
    "income": "poor-county income 2x",
    "services": "village services",
}


def _short(t: str) -> str:
    return _SHORT.get(t, t)


def _coord(ds: xr.Dataset, key: str) -> str:
    """Name of the coordinate holding the values of ``key`` (dotted or identifier form)."""
    named = ds.attrs.get("coord")
    if named is not None and named in ds.coords and ds.attrs.get("key") == key:
        return str(named)
    if key in ds.coords or key in ds.dims:
        return key
    alt = key.replace(".", "_")
    if alt in ds.coords or alt in ds.dims:
        return alt
    for name, c in ds.coords.items():
        if c.attrs.get("dotted_key") == key or c.attrs.get("key") == key:
            return str(name)
    raise PovsimError(f"this Dataset has no coordinate for the swept key {key!r}")


def _stock_band(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    stock = ds["registered_poor"].sum("region", min_count=1).where(runs_done(ds))
    return (stock.quantile(0.05, "replicate", skipna=True),
            stock.median("replicate", skipna=True),
            stock.quantile(0.95, "replicate", skipna=True))


def _grants_spent(runs: xr.Dataset) -> xr.DataArray:
    """Money spent, all years, mean over replicates, without micro-credit principal (yuan)."""
    return _grants_by_run(runs).where(runs_done(runs)).mean("replicate")


def _p_held(ds: xr.Dataset) -> xr.DataArray:
    return ds["p_held"] if "p_held" in ds else \
        ds["target_held"].where(runs_done(ds)).mean("replicate")


# ---------------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------------
def plot_comparison(ds: xr.Dataset, path: str | Path | None = None) -> Any:
    """Scenario by scenario: targets, the registered-poor path, paired differences, attribution.

    Panels: (a) P(target holds) with Wilson intervals; (b) registered poor at year end (median,
    5-95 % of runs) against the target path; (c) each scenario's paired difference in
    P(target holds) from the first scenario (common random numbers; Student-t interval);
    (d) the paired difference in registered poor left at the end and in money spent; (e) exits
    by the pathway that carried them (direct); and, with the counterfactual attribution
    (``--attribution counterfactual``), (f) the exits each pathway adds. Legends sit under the
    panels; the figure is not left open in pyplot, so Jupyter shows it once.

    Parameters
    ----------
    ds
        A comparison (:func:`povsim.compare`, or :func:`povsim.open_ensemble` of its store).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).

    Returns
    -------
    matplotlib.figure.Figure
    """
    dim = ensemble_dim(ds)
    labels = [str(s) for s in ds[dim].values]
    targets = [str(t) for t in ds["target"].values]
    has_diff = "diff_p_held" in ds and len(labels) > 1
    has_cf = "cf_exits_total" in ds
    panels = ["p", "stock"] + (["diff", "diff_end"] if has_diff else []) + \
        (["direct"] if "exits_by_pathway" in ds or "exits_direct_total" in ds else []) + \
        (["cf"] if has_cf else [])
    ncols = 3 if len(panels) > 4 else 2
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure(6.2 * ncols, 5.0 * nrows, nrows, ncols)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    n_rep = ds.sizes["replicate"]
    for k, (name, ax) in enumerate(zip(panels, axes.flat)):
        panel_letter(ax, "abcdefgh"[k])
        if name == "p":
            width = 0.8 / len(labels)
            xt = np.arange(len(targets))
            p = _p_held(ds)
            for i, s in enumerate(labels):
                vals = p.sel({dim: s}).values
                err = None
                if "p_held_lo" in ds:
                    lo = ds["p_held_lo"].sel({dim: s}).values
                    hi = ds["p_held_hi"].sel({dim: s}).values
                    err = [np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)]
                xb = xt + (i - (len(labels) - 1) / 2) * width
                ax.bar(xb, vals, width, yerr=err, capsize=2, label=s, color=exp_color(i))
                for xv, v in zip(xb, vals):
                    if np.isfinite(v):
                        ax.text(xv, 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=6,
                                rotation=90, color="white" if v > 0.12 else "black")
            ax.set_xticks(xt, [target_label(t) for t in targets], rotation=25, ha="right",
                          fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("P(target holds)")
            level = ds["p_held_lo"].attrs.get("level", 0.9) if "p_held_lo" in ds else None
            ax.set_title(f"Probability each target holds ({n_rep} runs each"
                         + (f"; Wilson {100 * float(level):.0f}% interval)" if level else ")"),
                         fontsize=10)
            ax.grid(alpha=0.3, axis="y")
            legend_below(ax, ncol=min(len(labels), 4)).set_bbox_to_anchor((0.5, -0.32))
        elif name == "stock":
            lo, med, hi = _stock_band(ds)
            years = ds["year"].values
            t = targets_of(ds.isel({dim: 0}))
            start = float(med.isel({dim: 0, "year": 0})) / 1e6
            ax.plot([years[0], t.year], [start, t.registered_poor / 1e6], "--", color="0.15",
                    lw=1.2, label=f"target path: all out by {t.year}")
            for i, s in enumerate(labels):
                c = exp_color(i)
                ax.plot(years, med.sel({dim: s}).values / 1e6, "-o", ms=3, label=s, color=c)
                ax.fill_between(years, lo.sel({dim: s}).values / 1e6,
                                hi.sel({dim: s}).values / 1e6, alpha=0.18, color=c, lw=0)
            ax.set_ylim(bottom=0)
            ax.set_xticks(years)
            ax.set_xlabel("year end")
            ax.set_ylabel("registered poor (million persons)")
            ax.set_title("Registered poor at year end (median, 5-95% of runs)", fontsize=10)
            ax.grid(alpha=0.3)
            legend_below(ax, ncol=2)
        elif name == "diff":
            others = labels[1:]
            h = 0.8 / len(others)
            yy = np.arange(len(targets))
            for i, s in enumerate(others):
                d = ds["diff_p_held"].sel({dim: s}).values
                lo = ds["diff_p_held_lo"].sel({dim: s}).values
                hi = ds["diff_p_held_hi"].sel({dim: s}).values
                err = np.vstack([np.nan_to_num(np.clip(d - lo, 0, None)),
                                 np.nan_to_num(np.clip(hi - d, 0, None))])
                ax.errorbar(d, yy + (i - (len(others) - 1) / 2) * h, xerr=err, fmt="o",
                            capsize=3, color=exp_color(i + 1), label=f"{s} minus {labels[0]}")
            ax.axvline(0, color="0.2", lw=0.8)
            ax.set_yticks(yy, [target_label(t) for t in targets], fontsize=8)
            ax.invert_yaxis()
            ax.set_xlim(-1.05, 1.05)
            ax.set_xlabel("difference in P(target holds), paired by replicate")
            ax.set_title(f"Paired difference from {labels[0]} (same random numbers)",
                         fontsize=10)
            ax.grid(alpha=0.3, axis="x")
            legend_below(ax, ncol=1)
        elif name == "diff_end":
            _paired_end(ax, ds, dim, labels)
        elif name == "direct":
            draw_direct_totals(ax, ds)
        elif name == "cf":
            draw_counterfactual(ax, ds)
    return save(fig, path)


def _paired_end(ax: Any, ds: xr.Dataset, dim: str, labels: list[str]) -> None:
    """Paired differences from the first scenario: poor left at the end, grants spent."""
    from .stats import mean_interval

    ok = runs_done(ds)
    level = float(ds.attrs.get("interval", 0.9))
    end = ds["registered_poor"].sum("region", min_count=1).isel(year=-1).where(ok)
    grants = _grants_by_run(ds).where(ok)
    rows = [(end, 1e3, "registered poor left\nat the end (thousand)"),
            (grants, 1e9, "grants spent, all years\n(bn yuan; credit not counted)")]
    others = labels[1:]
    h = 0.8 / len(others)
    for j, (arr, div, _text) in enumerate(rows):
        diff = arr - arr.sel({dim: labels[0]})
        mean, lo, hi, _sd = mean_interval(diff, "replicate", level)
        for i, s in enumerate(others):
            d, lo_, hi_ = (float(v.sel({dim: s})) / div for v in (mean, lo, hi))
            y = j + (i - (len(others) - 1) / 2) * h
            ax.barh(y, d, h * 0.9, color=exp_color(i + 1),
                    xerr=[[max(d - lo_, 0) if np.isfinite(lo_) else 0],
                          [max(hi_ - d, 0) if np.isfinite(hi_) else 0]], capsize=3,
                    label=f"{s} minus {labels[0]}" if j == 0 else None)
            ax.annotate(f"{d:+,.1f} [{lo_:+,.1f}, {hi_:+,.1f}]", (0.98, y),
                        xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        fontsize=7, xytext=(0, h * 12), textcoords="offset points")
    ax.axvline(0, color="0.2", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[2] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("paired difference (unit on the left)")
    ax.set_title(f"Paired differences from {labels[0]}, {100 * level:.0f}% interval",
                 fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    legend_below(ax, ncol=1)


def _grants_by_run(ds: xr.Dataset) -> xr.DataArray:
    from povsim.plotting.common import source_kinds

    kinds = source_kinds(ds)
    grants = [s for s in ds["source"].values if kinds.get(str(s)) != "credit"]
    sp = ds["spending"].sel(source=grants)
    return sp.sum([d for d in sp.dims if d not in (ensemble_dim(ds), "replicate")])


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------
def _is_factorial(vals: list[np.ndarray]) -> bool:
    combos = {tuple(str(v[e]) for v in vals) for e in range(len(vals[0]))}
    n = int(np.prod([len(set(map(str, v))) for v in vals]))
    return len(combos) == len(vals[0]) == n


def _sorted_unique(v: np.ndarray) -> list[Any]:
    u = list(dict.fromkeys(v.tolist()))
    try:
        return sorted(u)
    except TypeError:
        return u


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def plot_sweep(ds: xr.Dataset, path: str | Path | None = None,
               frontier: xr.Dataset | None = None) -> Any:
    """P(target holds) over a sweep.

    * two or more keys in a factorial design: one heat map per target, the first key (the
      budget if it is swept) across and the other keys down, each cell annotated; with
      ``frontier`` (from :func:`povsim.frontier` over that key) a diamond marks each row's
      frontier;
    * one key: P(target holds) against its values, with Wilson intervals;
    * otherwise (a sampled design): a heat map of the design points × targets.

    Parameters
    ----------
    ds
        A sweep (:func:`povsim.sweep`, or :func:`povsim.open_ensemble` of its store).
    path
        Save the figure there (PNG, PDF or SVG by extension; the folder must exist).
    frontier
        The frontier over the first key (:func:`povsim.frontier`), marked on the heat maps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    dim = ensemble_dim(ds)
    keys = swept_keys(ds)
    p = _p_held(ds).transpose(dim, "target")
    targets = [str(t) for t in ds["target"].values]
    n_rep = ds.sizes["replicate"]
    vals = [np.asarray(ds[c].values) for c, _ in keys]
    if len(keys) >= 2 and _is_factorial(vals):
        order = sorted(range(len(keys)), key=lambda i: 0 if keys[i][1] == "budget.scale" else 1)
        keys = [keys[i] for i in order]
        vals = [vals[i] for i in order]
        xs = _sorted_unique(vals[0])
        rest = list(dict.fromkeys(tuple(v[e] for v in vals[1:]) for e in range(len(vals[0]))))
        rest.sort(key=lambda t: tuple(str(x) if not isinstance(x, (int, float)) else x
                                      for x in t))
        grid = np.full((len(targets), len(rest), len(xs)), np.nan)
        for e in range(len(vals[0])):
            i = xs.index(vals[0][e])
            j = rest.index(tuple(v[e] for v in vals[1:]))
            grid[:, j, i] = p.values[e]
        ncols = min(3, len(targets))
        nrows = int(np.ceil(len(targets) / ncols))
        fig, axes = new_figure(4.3 * ncols + 1, 0.45 * len(rest) * nrows + 2.6 * nrows,
                               nrows, ncols)
        ylab = ", ".join(key_label(k) for _, k in keys[1:])
        im = None
        for ti, t in enumerate(targets):
            ax = axes.flat[ti]
            im = ax.imshow(grid[ti], vmin=0, vmax=1, cmap="viridis", aspect="auto",
                           origin="lower")
            for j in range(len(rest)):
                for i in range(len(xs)):
                    v = grid[ti, j, i]
                    if np.isfinite(v):
                        ax.text(i, j, f"{v:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if v < 0.6 else "black")
            ax.set_xticks(range(len(xs)), [_fmt(x) for x in xs], fontsize=8)
            ax.set_yticks(range(len(rest)), [", ".join(_fmt(x) for x in r) for r in rest],
                          fontsize=8)
            ax.set_xlabel(key_label(keys[0][1]), fontsize=8)
            ax.set_ylabel(ylab, fontsize=8)
            ax.set_title(target_label(t), fontsize=10)
            panel_letter(ax, "abcdefghijkl"[ti])
            if frontier is not None and "setting" in frontier.dims:
                _mark_frontier(ax, frontier, t, xs, rest, keys)
        for ax in axes.flat[len(targets):]:
            ax.set_visible(False)
        fig.colorbar(im, ax=axes, label="P(target holds)", shrink=0.8)
        fig.suptitle(f"Sweep of {key_label(keys[0][1])} x {ylab}: P(target holds) "
                     f"({n_rep} runs per cell)"
                     + ("; diamonds: frontier" if frontier is not None else ""), fontsize=11)
        return save(fig, path)
    if len(keys) == 1 and vals[0].dtype.kind in "iuf":
        x = vals[0].astype(float)
        order = np.argsort(x)
        fig, axes = new_figure(8, 5)
        ax = axes[0, 0]
        drawn: set[tuple[float, ...]] = set()
        for i, t in enumerate(targets):
            jitter = (i - (len(targets) - 1) / 2) * 0.004  # equal curves stay visible
            ax.plot(x[order], p.values[order, i] + jitter, "-o", ms=4, label=target_label(t),
                    color=f"C{i}")
            if "p_held_lo" in ds:
                lo = ds["p_held_lo"].transpose(dim, "target").values[order, i]
                hi = ds["p_held_hi"].transpose(dim, "target").values[order, i]
                key = tuple(np.round(np.concatenate([lo, hi]), 6))
                if key not in drawn:  # targets with the same counts share one band
                    drawn.add(key)
                    ax.fill_between(x[order], lo, hi, color=f"C{i}", alpha=0.1, lw=0)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(key_label(keys[0][1]))
        ax.set_ylabel("P(target holds)")
        ax.set_title(f"P(target holds) against {key_label(keys[0][1])} ({n_rep} runs per "
                     "value; bands: Wilson intervals)", fontsize=10)
        ax.grid(alpha=0.3)
        legend_below(ax, ncol=3)
        return save(fig, path)
    labels = [str(s) for s in ds[dim].values]
    fig, axes = new_figure(1.3 * len(targets) + 4, 0.32 * len(labels) + 2.4)
    ax = axes[0, 0]
    im = ax.imshow(p.values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(np.arange(len(targets)), [target_label(t) for t in targets], rotation=30,
                  ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
    fig.colorbar(im, ax=ax, label="P(target holds)")
    ax.set_title(f"Sweep: P(target holds) at each design point ({n_rep} runs each)",
                 fontsize=10)
    return save(fig, path)


def _mark_frontier(ax: Any, fr: xr.Dataset, target: str, xs: list[Any], rest: list[tuple],
                   keys: list[tuple[str, str]]) -> None:
    """Diamonds at each row's interpolated frontier (x in index units of the heat map)."""
    xf = np.asarray(xs, dtype=float)
    for s in fr["setting"].values:
        sub = fr.sel(setting=s)
        f = float(sub["frontier_interp"].sel(target=target))
        if not np.isfinite(f):
            continue
        parts = dict(kv.split("=", 1) for kv in str(s).split(",") if "=" in kv)
        row = None
        for j, r in enumerate(rest):
            if all(parts.get(k) == str(v) or parts.get(c) == str(v)
                   for (c, k), v in zip(keys[1:], r)):
                row = j
        if row is None:
            continue
        ax.plot([np.interp(f, xf, np.arange(len(xf)))], [row - 0.3], "D", color="white",
                markeredgecolor="black", ms=7, zorder=5)


# ---------------------------------------------------------------------------------------------
# frontier
# ---------------------------------------------------------------------------------------------
def plot_frontier(fr: xr.Dataset, runs: xr.Dataset | None = None,
                  path: str | Path | None = None, title: str | None = None) -> Any:
    """P(target holds) against the swept key, the level, and each target's frontier.

    Parameters
    ----------
    fr
        From :func:`povsim.frontier`. With other keys swept too (a ``setting`` dimension) and
        ``runs`` given, the figure is the heat map of :func:`plot_sweep` with each setting's
        frontier marked; without ``runs``, one panel per target, one line per setting.
    runs
        The sweep itself: adds a panel with the registered poor left at the end and the money
        spent, against the swept key.
    path
        Save the figure there.
    title
        Title of the figure (default: one naming the key and the level).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "setting" in fr.dims and fr.sizes["setting"] > 1:
        if runs is not None:
            return plot_sweep(runs, path, frontier=fr)
        return _frontier_settings(fr, path)
    if "setting" in fr.dims:
        fr = fr.isel(setting=0)
    key = str(fr.attrs.get("key", "value"))
    kc = _coord(fr, key)
    level = float(fr.attrs.get("level", 0.9))
    x = fr[kc].values.astype(float)
    ncols = 2 if runs is not None else 1
    fig, axes = new_figure(6.5 * ncols, 5.4, 1, ncols)
    ax = axes[0, 0]
    targets = [str(t) for t in fr["target"].values]
    drawn: set[tuple[float, ...]] = set()
    for i, t in enumerate(targets):
        c = f"C{i}"
        p = fr["p_held"].sel(target=t).values
        jitter = (i - (len(targets) - 1) / 2) * 0.004
        ax.plot(x, p + jitter, "-o", color=c, ms=4, lw=1.5, label=target_label(t))
        band = (fr["p_held_lo"].sel(target=t).values, fr["p_held_hi"].sel(target=t).values)
        key_band = tuple(np.round(np.concatenate(band), 6))
        if key_band not in drawn:  # targets with the same counts share one band
            drawn.add(key_band)
            ax.fill_between(x, *band, color=c, alpha=0.1, lw=0)
        f = float(fr["frontier_interp"].sel(target=t))
        if np.isfinite(f):
            lo = float(fr["frontier_lo"].sel(target=t))
            hi = float(fr["frontier_hi"].sel(target=t))
            hi_plot = hi if np.isfinite(hi) else x.max()
            lo_plot = lo if np.isfinite(lo) else f
            ax.errorbar([f], [level], xerr=[[max(f - lo_plot, 0)], [max(hi_plot - f, 0)]],
                        fmt="D", color=c, ms=7, capsize=4, lw=2, zorder=5)
    ax.axhline(level, color="0.3", ls="--", lw=1)
    ax.text(x.max(), level + 0.015, f"P = {level:g}", color="0.3", fontsize=8, ha="right")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(key_label(key))
    ax.set_ylabel("P(target holds)")
    has_budget = "budget" in fr and bool(np.isfinite(fr["budget"].values).all()) and x.min() > 0
    ax.set_title(title or f"Targets against {key_label(key)}\n({fr.attrs.get('replicates', '?')} "
                          "runs per value; bands: Wilson "
                          f"{100 * float(fr.attrs.get('interval', 0.9)):.0f}% intervals; "
                          "diamonds: frontier, bootstrap interval)", fontsize=9)
    legend_below(ax, ncol=3)
    ax.grid(alpha=0.3)
    if has_budget:
        b = fr["budget"].values / 1e9
        ratio = float(np.nanmean(b / x))
        sec = ax.secondary_xaxis("top", functions=(lambda v: v * ratio, lambda v: v / ratio))
        sec.set_xlabel("budget allocated 2015-2020 (bn yuan)", fontsize=8)
    panel_letter(ax, "a")
    if runs is not None:
        ax2 = axes[0, 1]
        dim = ensemble_dim(runs)
        xs = runs[_coord(runs, key)].values.astype(float)
        order = np.argsort(xs)
        lo, med, hi = _stock_band(runs)
        end = {k: v.isel(year=-1).values[order] / 1e6 for k, v in
               (("lo", lo), ("med", med), ("hi", hi))}
        ax2.plot(xs[order], end["med"], "-o", color="C3", ms=4,
                 label=f"registered poor at end of {int(runs['year'].values[-1])}")
        ax2.fill_between(xs[order], end["lo"], end["hi"], color="C3", alpha=0.15, lw=0)
        ax2.set_xlabel(key_label(key))
        ax2.set_ylabel("million persons", color="C3")
        ax3 = ax2.twinx()
        spent = _grants_spent(runs).values[order]
        ax3.plot(xs[order], spent / 1e9, "-s", color="C0", ms=4,
                 label="grants spent (micro-credit lent not counted)")
        if "total_allocated" in runs:
            alloc = runs["total_allocated"].where(runs_done(runs)).mean("replicate")
            ax3.plot(xs[order], alloc.values[order] / 1e9, ":", color="C0",
                     label="money allocated")
        ax3.set_ylabel("bn yuan, 2015-2020", color="C0")
        h1, l1 = ax2.get_legend_handles_labels()
        h2, l2 = ax3.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center",
                   bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
        ax2.set_title(f"Poverty left and money ({runs.sizes[dim]} values; median, 5-95%)",
                      fontsize=10)
        ax2.grid(alpha=0.3)
        panel_letter(ax2, "b")
    return save(fig, path)


def _frontier_settings(fr: xr.Dataset, path: str | Path | None) -> Any:
    key = str(fr.attrs.get("key", "value"))
    x = fr[_coord(fr, key)].values.astype(float)
    level = float(fr.attrs.get("level", 0.9))
    targets = [str(t) for t in fr["target"].values]
    ncols = min(3, len(targets))
    nrows = int(np.ceil(len(targets) / ncols))
    fig, axes = new_figure(4.6 * ncols, 3.8 * nrows + 0.8, nrows, ncols)
    for ti, t in enumerate(targets):
        ax = axes.flat[ti]
        settings = list(fr["setting"].values)
        for si, s in enumerate(settings):
            jitter = (si - (len(settings) - 1) / 2) * 0.012  # equal curves stay visible
            ax.plot(x, fr["p_held"].sel(setting=s, target=t).values + jitter,
                    ("-", "--", ":", "-.")[si % 4], marker="o", ms=3, color=f"C{si}",
                    label=_setting_label(str(s)))
        ax.axhline(level, color="0.3", ls="--", lw=1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(target_label(t), fontsize=10)
        ax.set_xlabel(key_label(key), fontsize=8)
        ax.set_ylabel("P(target holds)", fontsize=8)
        ax.grid(alpha=0.3)
        panel_letter(ax, "abcdefghijkl"[ti])
    for ax in axes.flat[len(targets):]:
        ax.set_visible(False)
    h, lab = axes.flat[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="outside lower center", ncol=min(len(lab), 3), fontsize=8,
               frameon=False)
    fig.suptitle(f"P(target holds) against {key_label(key)}, one line per setting of the "
                 f"other keys (dashed: P = {level:g})", fontsize=11)
    return save(fig, path)


def _setting_label(setting: str) -> str:
    """``"lines.merge.year=2017"`` -> ``"year the dibao and poverty lines merge = 2017"``."""
    parts = [kv.split("=", 1) for kv in setting.split(",") if "=" in kv]
    return ", ".join(f"{key_label(k)} = {v}" for k, v in parts) if parts else setting
