"""Figures from a results Dataset (never runs a simulation).

:func:`plot_run` draws the four panels a policy researcher looks at first: the registered-poor
stock by region against the pace target, the yearly flows (exits, returns, new poor), the money
spent by pathway, and the share of poor villages and counties that have exited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["plot_run"]


def plot_run(ds: xr.Dataset, path: str | Path | None = None) -> Any:
    """Summary figure of one run.

    Parameters
    ----------
    ds
        Results of :func:`povsim.run` (one run, no ``replicate`` dimension).
    path
        If given, the figure is saved there (PNG, PDF or SVG by extension).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    years = ds["year"].values
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)

    ax = axes[0, 0]
    stock = ds["registered_poor"].transpose("year", "region").values / 1e6
    ax.stackplot(years, stock.T, labels=[str(r) for r in ds["region"].values], alpha=0.85)
    start = float(stock[0].sum())
    pace = np.maximum(start - (years - years[0]) * 1.0, 0.0)
    ax.plot(years, pace, "k--", lw=1, label="1 M fewer a year")
    ax.set_title("Registered poor at year end")
    ax.set_ylabel("million persons")
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[0, 1]
    sim = years[1:]
    for name, style in (("exited", "-o"), ("returned", "-s"), ("new_poor", "-^")):
        ax.plot(sim, ds[name].sum("region").values[1:] / 1e6, style, label=name)
    ax.set_title("Flows of the register")
    ax.set_ylabel("million persons per year")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    spend = ds["spending"].sum(["region", "source"]).transpose("year", "pathway")
    bottom = np.zeros(len(sim))
    for p in spend["pathway"].values:
        vals = spend.sel(pathway=p).values[1:] / 1e9
        ax.bar(sim, vals, bottom=bottom, label=str(p))
        bottom += vals
    ax.set_title("Money spent by pathway")
    ax.set_ylabel("billion yuan")
    ax.legend(fontsize=8, ncol=2)

    ax = axes[1, 1]
    v = ds["villages_exited"].sum("region").values / max(float(ds["poor_villages"].sum()), 1)
    c = ds["counties_exited"].sum("region").values / max(float(ds["poor_counties"].sum()), 1)
    ax.plot(years, v, "-o", label="poor villages exited")
    ax.plot(years, c, "-s", label="poor counties exited")
    ax.set_ylim(0, 1.05)
    ax.set_title("Poor villages and counties exited")
    ax.set_ylabel("share")
    ax.legend(fontsize=8)

    for a in axes.flat:
        a.grid(alpha=0.3)
    fig.suptitle(f"povsim: {ds.attrs.get('scenario_name', '')} (seed {ds.attrs.get('seed')}, "
                 f"1:{ds.attrs.get('scale')})")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
