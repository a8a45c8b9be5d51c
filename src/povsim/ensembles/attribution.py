"""Which pathway did the work: direct and counterfactual attribution of exits and money.

*Direct accounting* (:func:`direct_attribution`) summarises what every run recorded at each
year-end assessment: each exiting household is attributed to the pathway whose effect carried it
over the line (see :mod:`povsim.ensembles.runs` for the rule), alongside the money each pathway
spent, by year and region.

*Counterfactual contribution* (:func:`counterfactual_attribution`) compares each scenario with
the same scenario with one pathway switched off (``pathways.<name>.enabled: false``, or
``services.enabled: false``), replicate by replicate under common random numbers: the exits the
pathway adds, the registered poor it removes from the stock, and the money. Money left unspent
by a switched-off pathway flows to the others (need-based envelopes), so the contribution is the
pathway's *net* effect given the rest of the policy. Direct shares add up to the exits; the
counterfactual contributions need not (pathways interact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.scenario import Scenario

from .stats import ensemble_dim, mean_interval, runs_done

__all__ = ["attribution", "counterfactual_attribution", "direct_attribution",
           "format_attribution"]


def direct_attribution(ds: xr.Dataset) -> xr.Dataset:
    """Exits and money by pathway, year and region (mean over replicates).

    Parameters
    ----------
    ds
        An ensemble Dataset (dims ``scenario`` or ``experiment``, and ``replicate``) whose runs
        record ``exits_by_pathway`` and ``spending``.

    Returns
    -------
    xarray.Dataset
        ``exits_direct`` (dims experiment, year, region, attribution; persons),
        ``exits_direct_total`` (experiment, attribution), ``spending_by_pathway`` (experiment,
        year, region, pathway; yuan), ``spending_total`` (experiment, pathway) and
        ``cost_per_exit`` (experiment, pathway; yuan per person exiting, direct accounting).
    """
    dim = ensemble_dim(ds)
    ok = runs_done(ds)
    exits = ds["exits_by_pathway"].where(ok).mean("replicate")
    spend = ds["spending"].sum("source", min_count=1).where(ok).mean("replicate")
    ex_tot = exits.sum(["year", "region"])
    sp_tot = spend.sum(["year", "region"])
    common = [p for p in sp_tot["pathway"].values if p in list(ex_tot["attribution"].values)]
    per = (sp_tot.sel(pathway=common)
           / ex_tot.sel(attribution=common).rename(attribution="pathway"))
    per = per.where(np.isfinite(per))
    out = xr.Dataset({
        "exits_direct": exits.assign_attrs(
            units="persons", description="people exiting, by the pathway that carried them over "
                                         "the line (direct accounting, mean over replicates)"),
        "exits_direct_total": ex_tot.assign_attrs(units="persons",
                                                  description="exits_direct over all years and "
                                                              "regions"),
        "spending_by_pathway": spend.assign_attrs(units="yuan",
                                                  description="money spent by pathway (mean)"),
        "spending_total": sp_tot.assign_attrs(units="yuan",
                                              description="money spent by pathway, all years"),
        "cost_per_exit": per.reindex(pathway=sp_tot["pathway"].values).assign_attrs(
            units="yuan/person", description="money spent by the pathway per person whose exit "
                                             "it carried (direct accounting)"),
    })
    return out.transpose(dim, ...)


def _stack_knockouts(runs: xr.Dataset, knock: xr.Dataset, names: list[str],
                     variables: dict[str, xr.DataArray]) -> dict[str, xr.DataArray]:
    dim = ensemble_dim(runs)
    kdim = ensemble_dim(knock)
    base = knock["base_scenario"].values.astype(str)
    off = knock["switched_off"].values.astype(str)
    labels = [str(x) for x in runs[dim].values]
    out: dict[str, xr.DataArray] = {}
    for vname, arr in variables.items():
        rows = []
        for s in labels:
            cols = []
            for p in names:
                hit = np.flatnonzero((base == s) & (off == p))
                if hit.size:
                    cols.append(arr.isel({kdim: int(hit[0])}, drop=True))
                else:
                    cols.append(xr.full_like(arr.isel({kdim: 0}, drop=True), np.nan))
            rows.append(xr.concat(cols, dim="switched_off", coords="minimal",
                                  compat="override", join="outer"))
        out[vname] = xr.concat(rows, dim=dim, coords="minimal", compat="override",
                               join="outer").assign_coords({dim: labels, "switched_off": names})
    return out


def counterfactual_attribution(runs: xr.Dataset, knock: xr.Dataset, interval: float = 0.9
                               ) -> xr.Dataset:
    """Contribution of each pathway: the scenario minus the scenario without it, paired.

    Parameters
    ----------
    runs
        The ensemble of full scenarios (dims ``scenario, replicate, ...``).
    knock
        The ensemble of the same scenarios with one pathway off each (coordinates
        ``base_scenario`` and ``switched_off`` along its experiment dimension).
    interval
        Confidence level of the Student-t intervals.

    Returns
    -------
    xarray.Dataset
        Dims ``scenario, switched_off`` (and ``year, region`` for the yearly variables):
        ``cf_exits`` (extra exits per year), ``cf_poor_averted`` (registered poor at year end
        without the pathway minus with it), ``cf_exits_total``, ``cf_poor_averted_end``,
        ``cf_spending_total`` (money spent with it minus without it), each with ``_lo``/``_hi``
        for the totals.
    """
    dim = ensemble_dim(runs)
    names: list[str] = []
    for p in knock["switched_off"].values.astype(str):
        if p not in names:
            names.append(p)
    ok_full = runs_done(runs)
    ok_k = runs_done(knock)
    kv = {
        "exited": knock["exited"].where(ok_k),
        "registered_poor": knock["registered_poor"].where(ok_k),
        "cost": knock["total_spending"].where(ok_k),
    }
    st = _stack_knockouts(runs, knock, names, kv)
    full_exited = runs["exited"].where(ok_full)
    full_stock = runs["registered_poor"].where(ok_full)
    full_cost = runs["total_spending"].where(ok_full)
    d_exits = full_exited - st["exited"]
    d_stock = st["registered_poor"] - full_stock
    d_cost = full_cost - st["cost"]
    tot_exits = d_exits.sum(["year", "region"], min_count=1)
    end_stock = d_stock.sum("region", min_count=1).isel(year=-1, drop=True)
    out: dict[str, Any] = {
        "cf_exits": d_exits.mean("replicate").assign_attrs(
            units="persons", description="exits with the pathway minus without it (paired, mean)"),
        "cf_poor_averted": d_stock.mean("replicate").assign_attrs(
            units="persons", description="registered poor at year end without the pathway minus "
                                         "with it (paired, mean)"),
    }
    for name, arr, units, desc in (
        ("cf_exits_total", tot_exits, "persons", "exits the pathway adds, all years"),
        ("cf_poor_averted_end", end_stock, "persons",
         "registered poor at the last year end without the pathway minus with it"),
        ("cf_spending_total", d_cost, "yuan",
         "money spent with the pathway minus without it, all years"),
    ):
        mean, lo, hi, _sd = mean_interval(arr, "replicate", interval)
        attrs = {"units": units, "description": desc + " (paired, mean)", "level": interval}
        out[name] = mean.assign_attrs(attrs)
        out[f"{name}_lo"] = lo.assign_attrs(attrs)
        out[f"{name}_hi"] = hi.assign_attrs(attrs)
    return xr.Dataset(out).transpose(dim, "switched_off", ...)


def format_attribution(ds: xr.Dataset) -> str:
    """Attribution tables (one per scenario) for the terminal."""
    from .compare import _fmt_num, _fmt_signed, _table

    dim = ensemble_dim(ds)
    first, last = int(ds["year"].values[1]), int(ds["year"].values[-1])
    lines = [f"attribution: exits {first}-{last} by the pathway that carried the household over "
             "the line (direct), money spent, and"
             + (" the counterfactual contribution (scenario minus the scenario without the "
                "pathway, paired)" if "cf_exits_total" in ds else " (counterfactual: "
                "--attribution counterfactual)")]
    labels = [str(x) for x in ds[dim].values]
    attr = [str(x) for x in ds["attribution"].values]
    pw = [str(x) for x in ds["pathway"].values] if "pathway" in ds["spending_total"].dims else []
    names = list(dict.fromkeys(pw + attr))
    for si, s in enumerate(labels):
        ex = ds["exits_direct_total"].isel({dim: si})
        total = float(ex.sum())
        rows = []
        for n in names:
            e = float(ex.sel(attribution=n)) if n in attr else np.nan
            m = float(ds["spending_total"].isel({dim: si}).sel(pathway=n)) if n in pw else np.nan
            per = float(ds["cost_per_exit"].isel({dim: si}).sel(pathway=n)) if n in pw else np.nan
            row = [n, _fmt_num(e), f"{100 * e / total:.0f}%" if total > 0 and np.isfinite(e)
                   else "-", _fmt_num(m, "yuan") if np.isfinite(m) else "-",
                   _fmt_num(per) if np.isfinite(per) else "-"]
            if "cf_exits_total" in ds:
                if n in [str(x) for x in ds["switched_off"].values]:
                    sel = {dim: si, "switched_off": n}
                    c = float(ds["cf_exits_total"].isel({dim: si}).sel(switched_off=n))
                    lo = float(ds["cf_exits_total_lo"].isel({dim: si}).sel(switched_off=n))
                    hi = float(ds["cf_exits_total_hi"].isel({dim: si}).sel(switched_off=n))
                    a = float(ds["cf_poor_averted_end"].isel({dim: si}).sel(switched_off=n))
                    alo = float(ds["cf_poor_averted_end_lo"].isel({dim: si}).sel(switched_off=n))
                    ahi = float(ds["cf_poor_averted_end_hi"].isel({dim: si}).sel(switched_off=n))
                    del sel
                    row += [f"{_fmt_signed(c)} [{_fmt_signed(lo)}, {_fmt_signed(hi)}]"
                            if np.isfinite(c) else "-",
                            f"{_fmt_signed(a)} [{_fmt_signed(alo)}, {_fmt_signed(ahi)}]"
                            if np.isfinite(a) else "-"]
                else:
                    row += ["-", "-"]
            rows.append(row)
        head = ["pathway", "exits (direct)", "share", "spent", "yuan per exit"]
        if "cf_exits_total" in ds:
            head += ["exits added (counterfactual)", "poor averted at end"]
        lines.append("")
        lines.append(f"{s}: {_fmt_num(total)} exits")
        lines.append(_table(head, rows))
    return "\n".join(lines)


def attribution(
    source: Scenario | str | Path | xr.Dataset,
    *,
    replicates: int | None = None,
    pathways: Sequence[str] | None = None,
    seed: int | None = None,
    scale: int | None = None,
    output: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    interval: float = 0.9,
    log: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Attribute exits and money to pathways, by year and region.

    Parameters
    ----------
    source
        An ensemble Dataset (from :func:`povsim.compare` or :func:`povsim.sweep`): its direct
        attribution is summarised, nothing is run. Or a scenario (file or object): it is run
        ``replicates`` times, together with one variant per pathway switched off, and both the
        direct and the counterfactual attribution are returned.
    replicates
        Replicates (required when ``source`` is a scenario).
    pathways
        Pathways to switch off (default: every pathway that is on, and the services programme).
    seed, scale, output, workers, scheduler, progress, interval, log
        As for :func:`povsim.ensembles.compare.compare`.

    Returns
    -------
    xarray.Dataset
        :func:`direct_attribution` variables and, for a scenario, the
        :func:`counterfactual_attribution` ones (dims ``scenario, switched_off, ...``).
    """
    if isinstance(source, xr.Dataset):
        return direct_attribution(source)
    from povsim.errors import PovsimError

    from .compare import compare

    if replicates is None:
        raise PovsimError("attribution of a scenario needs replicates=N")
    ds = compare([source], replicates=replicates, seed=seed, scale=scale, output=output,
                 workers=workers, scheduler=scheduler, progress=progress, counterfactual=True,
                 pathways=pathways, interval=interval, log=log)
    keep = [v for v in ds.data_vars if v.startswith("cf_") or v in (
        "exits_direct", "exits_direct_total", "spending_by_pathway", "spending_total",
        "cost_per_exit")]
    return ds[keep]
