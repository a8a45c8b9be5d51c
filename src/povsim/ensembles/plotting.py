"""Figures of comparisons, sweeps and frontiers — drawn from the Datasets alone.

Every function takes the Datasets returned by :func:`povsim.compare`, :func:`povsim.sweep` or
:func:`povsim.frontier` (or read back from their stores) and returns a matplotlib
:class:`~matplotlib.figure.Figure`; pass ``path`` to also save it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .stats import ensemble_dim, runs_done

__all__ = ["plot_comparison", "plot_frontier", "plot_sweep", "save"]

_SHORT = {
    "registered_poor": "all poor out",
    "pace": "pace 1M/yr",
    "villages": "villages exit",
    "counties": "counties exit",
    "income": "poor-county income 2x",
    "services": "village services",
}


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # noqa: BLE001 - keep the current backend
            pass
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str | Path | None) -> Any:
    """Save ``fig`` to ``path`` (if given) and return it."""
    if path is not None:
        path = Path(path)
        if path.parent and not path.parent.exists():
            from povsim.errors import PovsimError

            raise PovsimError(f"--figure: directory {path.parent} does not exist")
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig


def _short(t: str) -> str:
    return _SHORT.get(t, t)


def _stock_band(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    stock = ds["registered_poor"].sum("region", min_count=1).where(runs_done(ds))
    return (stock.quantile(0.05, "replicate", skipna=True),
            stock.median("replicate", skipna=True),
            stock.quantile(0.95, "replicate", skipna=True))


def plot_frontier(fr: xr.Dataset, runs: xr.Dataset | None = None,
                  path: str | Path | None = None, title: str | None = None) -> Any:
    """P(target holds) against the swept key, the level, and each target's frontier.

    Parameters
    ----------
    fr
        From :func:`povsim.frontier` (without a ``setting`` dimension, or its first setting).
    runs
        The sweep itself: adds a panel with the registered poor left at the end and the money
        spent, against the swept key.
    path
        Save the figure there.
    """
    plt = _plt()
    if "setting" in fr.dims:
        fr = fr.isel(setting=0)
    key = fr.attrs.get("key", "value")
    level = float(fr.attrs.get("level", 0.9))
    x = fr[fr.attrs.get("coord", key)].values.astype(float)
    ncols = 2 if runs is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.8), squeeze=False)
    ax = axes[0, 0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    targets = [str(t) for t in fr["target"].values]
    drawn: set[tuple[float, ...]] = set()
    for i, t in enumerate(targets):
        c = colors[i % len(colors)]
        p = fr["p_held"].sel(target=t).values
        jitter = (i - (len(targets) - 1) / 2) * 0.004
        ax.plot(x, p + jitter, "-o", color=c, ms=4, lw=1.5, label=_short(t))
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
    ax.annotate(f"bands: Wilson {100 * float(fr.attrs.get('interval', 0.9)):.0f}% intervals; "
                "diamonds: frontier with bootstrap interval", (0, 0), (0, -32),
                xycoords="axes fraction", textcoords="offset points", fontsize=7, color="0.4",
                va="top")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(key)
    ax.set_ylabel("P(target holds)")
    has_budget = "budget" in fr and bool(np.isfinite(fr["budget"].values).all()) and x.min() > 0
    ax.set_title(title or f"Targets against {key} ({fr.attrs.get('replicates', '?')} "
                          f"replicates per value)", fontsize=10, pad=30 if has_budget else 6)
    ax.legend(fontsize=8, loc="center right")
    ax.grid(alpha=0.3)
    if has_budget:
        b = fr["budget"].values / 1e9
        ratio = float(np.nanmean(b / x))
        sec = ax.secondary_xaxis("top", functions=(lambda v: v * ratio, lambda v: v / ratio))
        sec.set_xlabel("budget allocated 2015-2020 (bn yuan)", fontsize=8)
    if runs is not None:
        ax2 = axes[0, 1]
        dim = ensemble_dim(runs)
        xs = runs[fr.attrs.get("coord", key)].values.astype(float)
        order = np.argsort(xs)
        lo, med, hi = _stock_band(runs)
        end = {k: v.isel(year=-1).values[order] / 1e6 for k, v in
               (("lo", lo), ("med", med), ("hi", hi))}
        ax2.plot(xs[order], end["med"], "-o", color="C3", ms=4,
                 label=f"registered poor at end of {int(runs['year'].values[-1])}")
        ax2.fill_between(xs[order], end["lo"], end["hi"], color="C3", alpha=0.15, lw=0)
        ax2.set_xlabel(key)
        ax2.set_ylabel("million persons", color="C3")
        ax3 = ax2.twinx()
        spent = runs["total_spending"].where(runs_done(runs)).mean("replicate").values[order]
        ax3.plot(xs[order], spent / 1e9, "-s", color="C0", ms=4, label="money spent")
        if "total_allocated" in runs:
            alloc = runs["total_allocated"].where(runs_done(runs)).mean("replicate")
            ax3.plot(xs[order], alloc.values[order] / 1e9, ":", color="C0",
                     label="money allocated")
        ax3.set_ylabel("bn yuan, 2015-2020", color="C0")
        h1, l1 = ax2.get_legend_handles_labels()
        h2, l2 = ax3.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center")
        ax2.set_title(f"Poverty left and money ({runs.sizes[dim]} values; median, 5-95%)",
                      fontsize=10)
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def plot_comparison(ds: xr.Dataset, path: str | Path | None = None) -> Any:
    """Targets, the registered-poor path and direct attribution, scenario by scenario."""
    plt = _plt()
    dim = ensemble_dim(ds)
    labels = [str(s) for s in ds[dim].values]
    targets = [str(t) for t in ds["target"].values]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax = axes[0]
    width = 0.8 / max(len(labels), 1)
    xt = np.arange(len(targets))
    ok = runs_done(ds)
    p = ds["p_held"] if "p_held" in ds else ds["target_held"].where(ok).mean("replicate")
    for i, s in enumerate(labels):
        vals = p.sel({dim: s}).values
        err = None
        if "p_held_lo" in ds:
            lo = ds["p_held_lo"].sel({dim: s}).values
            hi = ds["p_held_hi"].sel({dim: s}).values
            err = [np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)]
        ax.bar(xt + (i - (len(labels) - 1) / 2) * width, vals, width, yerr=err, capsize=2,
               label=s)
    ax.set_xticks(xt, [_short(t) for t in targets], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("P(target holds)")
    ax.set_title(f"Targets ({ds.sizes['replicate']} replicates)", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[1]
    lo, med, hi = _stock_band(ds)
    years = ds["year"].values
    for i, s in enumerate(labels):
        ax.plot(years, med.sel({dim: s}).values / 1e6, "-o", ms=3, label=s, color=f"C{i}")
        ax.fill_between(years, lo.sel({dim: s}).values / 1e6, hi.sel({dim: s}).values / 1e6,
                        alpha=0.15, color=f"C{i}", lw=0)
    ax.set_ylabel("registered poor (million)")
    ax.set_title("Registered poor at year end (median, 5-95%)", fontsize=10)
    ax.grid(alpha=0.3)
    ax = axes[2]
    if "exits_by_pathway" in ds:
        ex = ds["exits_by_pathway"].where(ok).mean("replicate").sum(["year", "region"]) / 1e6
        bottom = np.zeros(len(labels))
        for j, a in enumerate(ds["attribution"].values):
            v = ex.sel(attribution=a).values
            if np.nansum(v) <= 0:
                continue
            ax.bar(labels, v, bottom=bottom, label=str(a), color=f"C{j}")
            bottom += np.nan_to_num(v)
        ax.set_ylabel("exits (million persons, all years)")
        ax.set_title("Exits by the pathway that carried them (direct)", fontsize=10)
        ax.legend(fontsize=7)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_sweep(ds: xr.Dataset, path: str | Path | None = None) -> Any:
    """P(target holds) for every design point (a heat map)."""
    plt = _plt()
    dim = ensemble_dim(ds)
    ok = runs_done(ds)
    p = ds["target_held"].where(ok).mean("replicate").transpose(dim, "target")
    labels = [str(s) for s in ds[dim].values]
    targets = [str(t) for t in ds["target"].values]
    fig, ax = plt.subplots(figsize=(1.2 * len(targets) + 3, 0.3 * len(labels) + 2))
    im = ax.imshow(p.values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(np.arange(len(targets)), [_short(t) for t in targets], rotation=30,
                  ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
    fig.colorbar(im, ax=ax, label="P(target holds)")
    ax.set_title(f"Sweep: P(target holds), {ds.sizes['replicate']} replicates", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
