"""Comparing scenarios: for each target, the probability it holds, when, the shortfall, the cost,
and every scenario's paired difference from the first (common random numbers).

``povsim compare A.yaml B.yaml --replicates 20 --output cmp.zarr`` runs every scenario with the
same replicate seeds, stores the runs (dims ``scenario, replicate, ...``) with the summary
variables below, and prints a table.

Summary variables (dims ``scenario, target`` unless noted)
---------------------------------------------------------
``p_held``, ``p_held_lo``, ``p_held_hi``
    share of replicates in which the target holds, with a Wilson interval.
``median_year_met``
    median over replicates of the year the target is first met, a replicate that never meets it
    counting as later than any year; ``NaN`` when more than half never meet it.
``shortfall_median``
    median shortfall at the target year (target's unit).
``cost_mean``, ``budget_mean`` (dims ``scenario``)
    money spent and money allocated, all years (yuan).
``diff_<x>``, ``diff_<x>_lo``, ``diff_<x>_hi``, ``diff_<x>_sd``
    paired difference from the first scenario, replicate by replicate (mean, Student-t
    interval, standard deviation), for ``p_held``, ``shortfall``, ``cost`` and
    ``registered_poor_end``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.scenario import Scenario, load_scenario

from .execution import execute, load, output_path, plan_output
from .stats import ensemble_dim, mean_interval, runs_done, wilson
from .store import Experiment, Plan, locked

__all__ = ["compare", "format_comparison", "paired_differences", "summarize_targets"]


# ---------------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------------
def _end_stock(ds: xr.Dataset) -> xr.DataArray:
    stock = ds["registered_poor"].sum("region", min_count=1)
    return stock.isel(year=-1)


def summarize_targets(ds: xr.Dataset, interval: float = 0.9) -> xr.Dataset:
    """Probability, timing, shortfall and cost of every target, per experiment.

    Parameters
    ----------
    ds
        An ensemble Dataset (dims ``scenario`` or ``experiment``, and ``replicate``).
    interval
        Confidence level of the Wilson intervals.

    Returns
    -------
    xarray.Dataset
        ``n_runs``, ``p_held`` (with ``_lo``/``_hi``), ``median_year_met``,
        ``shortfall_median``, ``cost_mean``, ``budget_mean`` and ``registered_poor_end``
        (see the module docstring).
    """
    dim = ensemble_dim(ds)
    ok = runs_done(ds)
    held = ds["target_held"].where(ok)
    n = ok.sum("replicate")
    k = held.sum("replicate")
    lo, hi = wilson(k.values, np.broadcast_to(n.values[:, None], k.shape), interval)
    years = ds["target_year_met"].where(ok)
    y = xr.where(ok & years.isnull(), np.inf, years)
    med = xr.apply_ufunc(_nanmedian, y, input_core_dims=[["replicate"]])
    med = med.where(np.isfinite(med))
    short = ds["target_shortfall"].where(ok)
    out = xr.Dataset(
        {
            "n_runs": (dim, n.values.astype(np.int64), {"description": "runs stored"}),
            "p_held": (held.mean("replicate")).assign_attrs(
                units="1", description="probability the target holds (share of replicates)"),
            "p_held_lo": (k.dims, lo, {"units": "1", "level": interval,
                                       "description": "Wilson interval, lower bound"}),
            "p_held_hi": (k.dims, hi, {"units": "1", "level": interval,
                                       "description": "Wilson interval, upper bound"}),
            "median_year_met": med.assign_attrs(
                units="year", description="median year the target is first met (NaN: more "
                                          "than half of the replicates never meet it)"),
            "shortfall_median": short.median("replicate").assign_attrs(
                description="median shortfall at the target year (unit: target_unit)"),
            "cost_mean": ds["total_spending"].where(ok).mean("replicate").assign_attrs(
                units="yuan", description="money spent, all years (mean over replicates)"),
            "budget_mean": ds["total_allocated"].where(ok).mean("replicate").assign_attrs(
                units="yuan", description="money allocated, all years (mean over replicates)"),
            "registered_poor_end": _end_stock(ds).where(ok).mean("replicate").assign_attrs(
                units="persons", description="registered poor at the last year end (mean)"),
        }
    )
    return out


def _nanmedian(a: np.ndarray, axis: int = -1) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    with np.errstate(invalid="ignore"):
        valid = ~np.isnan(a)
        if not valid.any():
            return np.full(a.shape[:-1], np.nan)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(a, axis=axis)


def paired_differences(ds: xr.Dataset, reference: str | int = 0, interval: float = 0.9
                       ) -> xr.Dataset:
    """Every experiment minus the reference, replicate by replicate (common random numbers).

    Parameters
    ----------
    ds
        An ensemble Dataset (dims ``scenario`` or ``experiment``, and ``replicate``).
    reference
        The experiment subtracted: its position or its label.
    interval
        Confidence level of the Student-t intervals.

    Returns
    -------
    xarray.Dataset
        ``diff_<x>`` (mean), ``diff_<x>_lo``/``_hi`` (Student-t interval at ``interval``) and
        ``diff_<x>_sd`` (standard deviation of the paired differences) for ``x`` in
        ``p_held`` (by target), ``shortfall`` (by target), ``cost`` and
        ``registered_poor_end``; ``attrs["reference"]`` names the reference.
    """
    dim = ensemble_dim(ds)
    ok = runs_done(ds)
    ref = ds.isel({dim: reference}) if isinstance(reference, int) else ds.sel({dim: reference})
    ref_ok = ok.isel({dim: reference}) if isinstance(reference, int) else ok.sel({dim: reference})
    both = ok & ref_ok
    pairs = {
        "p_held": (ds["target_held"], ref["target_held"], "1",
                   "difference in the probability the target holds"),
        "shortfall": (ds["target_shortfall"], ref["target_shortfall"], "target unit",
                      "difference in the shortfall at the target year"),
        "cost": (ds["total_spending"], ref["total_spending"], "yuan",
                 "difference in money spent, all years"),
        "registered_poor_end": (_end_stock(ds), _end_stock(ref), "persons",
                                "difference in registered poor at the last year end"),
    }
    out = {}
    label = str(ref[dim].values) if dim in ref.coords else str(reference)
    for name, (a, b, units, desc) in pairs.items():
        d = (a - b).where(both)
        mean, lo, hi, sd = mean_interval(d, "replicate", interval)
        attrs = {"units": units, "description": f"{desc}, vs {label} (paired)",
                 "level": interval}
        out[f"diff_{name}"] = mean.assign_attrs(attrs)
        out[f"diff_{name}_lo"] = lo.assign_attrs(attrs)
        out[f"diff_{name}_hi"] = hi.assign_attrs(attrs)
        out[f"diff_{name}_sd"] = sd.assign_attrs(attrs)
    res = xr.Dataset(out)
    res.attrs["reference"] = label
    return res


# ---------------------------------------------------------------------------------------------
# the comparison
# ---------------------------------------------------------------------------------------------
def _as_scenarios(scenarios: Sequence[Scenario | str | Path]
                  ) -> list[tuple[str, Scenario, str | None]]:
    out = []
    for item in scenarios:
        if isinstance(item, Scenario):
            out.append((item.name, item, None))
        else:
            from povsim.library import resolve_scenario_path

            path = resolve_scenario_path(item)  # a file, or a library name ("baseline")
            scn = load_scenario(path)
            out.append((scn.name, scn, str(path.resolve().parent)))
    # unique labels: scenario name, else the file stem, else a counter
    names = [n for n, _, _ in out]
    labels = []
    for i, (name, _, _) in enumerate(out):
        lab = name
        if names.count(name) > 1 and not isinstance(scenarios[i], Scenario):
            lab = Path(scenarios[i]).stem  # type: ignore[arg-type]
        while lab in labels:
            lab = f"{lab}#{len(labels) + 1}"
        labels.append(lab)
    return [(lab, scn, bd) for lab, (_, scn, bd) in zip(labels, out)]


def knockout_experiments(base: Sequence[Experiment], pathways: Sequence[str] | None = None
                         ) -> list[Experiment]:
    """For every experiment, one per pathway with that pathway switched off."""
    out = []
    for exp in base:
        names = list(pathways) if pathways is not None else switchable(exp.scenario)
        for p in names:
            key = "services.enabled" if p == "services" else f"pathways.{p}.enabled"
            scn = exp.scenario.with_overrides({key: False})
            out.append(Experiment(label=f"{exp.label} without {p}", scenario=scn,
                                  params={"base_scenario": exp.label, "switched_off": p},
                                  base_dir=exp.base_dir))
    return out


def switchable(scn: Scenario) -> list[str]:
    """The pathways (and the services programme) a scenario has switched on."""
    names = [n for n, cfg in scn.pathways.all().items() if getattr(cfg, "enabled", True)]
    if getattr(scn.services, "enabled", False):
        names.append("services")
    return names


def _apply_scale(scn: Scenario, scale: int | None) -> Scenario:
    if scale is None:
        return scn
    if isinstance(scale, bool) or int(scale) < 1:
        raise PovsimError(f"--scale must be a positive integer, got {scale!r}")
    return scn.with_overrides({"population.scale": int(scale)})


def _write_summary(path: Path, summary: xr.Dataset, group: str | None = None) -> None:
    """Add the summary variables to a store's group (replacing earlier ones)."""
    import warnings

    from .store import annotate, locked, open_ensemble

    existing = open_ensemble(path, group, verify=False)
    drop = [c for c in summary.coords if c in existing.variables]
    summary = annotate(summary.drop_vars(drop))
    # xarray replaces the group's attributes on append: keep the store's (its identity)
    summary.attrs = dict(existing.attrs)
    existing.close()
    with locked(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary.to_zarr(str(path), mode="a", group=group, consolidated=False)


def finish_output(result: xr.Dataset, final: Path, store: Path,
                  groups: dict[str, xr.Dataset] | None = None) -> None:
    """Write an ensemble's ``.nc``/``.csv`` output (atomically), then drop its runs store."""
    from povsim.outputs import ENSEMBLE_KIND, remove_povsim_dir, write_dataset

    from .store import annotate

    write_dataset(annotate(result.copy()), final, groups=groups)
    remove_povsim_dir(store, ENSEMBLE_KIND)


def compare(
    scenarios: Sequence[Scenario | str | Path],
    *,
    replicates: int,
    seed: int | None = None,
    scale: int | None = None,
    output: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    counterfactual: bool = False,
    pathways: Sequence[str] | None = None,
    interval: float = 0.9,
    overwrite: bool = False,
    crn: bool = True,
    log: Callable[[str], None] | None = None,
    security: object = None,
    dashboard: str | bool | None = None,
) -> xr.Dataset:
    """Run scenarios side by side with common random numbers and summarise the targets.

    Parameters
    ----------
    scenarios
        Scenario files or :class:`Scenario` objects; the first is the reference of the paired
        differences.
    replicates
        Replicates per scenario (replicate ``r`` has the same seed in every scenario).
    seed
        Root seed (default: the first scenario's ``seed``).
    scale
        Simulate 1 in ``scale`` households (overrides ``population.scale`` everywhere).
    output
        The zarr store (``.zarr``), a netCDF file (``.nc``) or a tidy CSV table (``.csv``);
        the last two are written at the end, the runs streaming into ``OUTPUT.runs.zarr``
        meanwhile. Checked before any run (:func:`povsim.outputs.check_output`). ``None``: a
        temporary store, returned in memory.
    workers, scheduler, security, dashboard
        Where to run (see :class:`povsim.ensembles.execution.Runner`).
    progress
        Progress bar of runs done and time left (``None``: on a terminal).
    counterfactual
        Also run every scenario with each pathway switched off (group ``knockouts``) and report
        the counterfactual contribution of each pathway.
    pathways
        Pathways to switch off for the counterfactual (default: all that are on).
    interval
        Confidence level of the intervals.
    overwrite
        Start again even if ``output`` holds another ensemble.
    crn
        Common random numbers (``False`` gives each scenario its own seeds — for benchmarks).
    log
        Called with one-line progress messages.

    Returns
    -------
    xarray.Dataset
        The runs (dims ``scenario, replicate, year, region, ...``), the target summary and the
        paired differences (:func:`summarize_targets`, :func:`paired_differences`), direct
        attribution and, with ``counterfactual``, the counterfactual one
        (:func:`povsim.ensembles.attribution.direct_attribution`, ``counterfactual_attribution``).
    """
    from .attribution import counterfactual_attribution, direct_attribution

    items = _as_scenarios(scenarios)
    if not items:
        raise PovsimError("compare needs at least one scenario")
    root_seed = int(items[0][1].seed if seed is None else seed)
    exps = [Experiment(label=lab, scenario=_apply_scale(scn, scale), base_dir=bd)
            for lab, scn, bd in items]
    plans = [Plan(dim="scenario", experiments=exps)]
    if counterfactual:
        plans.append(Plan(dim="scenario", experiments=knockout_experiments(exps, pathways),
                          group="knockouts"))
    store_out, final = plan_output(output)
    with output_path(store_out) as path, locked(path):
        execute(plans, replicates=replicates, root_seed=root_seed, path=path, workers=workers,
                scheduler=scheduler, progress=progress, crn=crn, overwrite=overwrite,
                attrs={"title": "povsim comparison", "interval": interval}, log=log,
                description=f"runs ({len(exps)} scenarios x {replicates} replicates"
                            + (f" + {len(plans[1].experiments)} with a pathway off)"
                               if counterfactual else ")"),
                security=security, dashboard=dashboard)
        in_memory = output is None or final is not None
        runs = load(path, in_memory=in_memory)
        summary = xr.merge([summarize_targets(runs, interval),
                            paired_differences(runs, 0, interval),
                            direct_attribution(runs)], compat="override")
        if counterfactual:
            knock = load(path, "knockouts", in_memory=True)
            summary = xr.merge([summary, counterfactual_attribution(runs, knock, interval)],
                               compat="override")
        summary.attrs = {}
        if output is not None and final is None:
            _write_summary(path, summary)
            runs.close()
            return load(path)
        result = xr.merge([runs, summary], compat="override", combine_attrs="override")
        if final is not None:
            groups = {"knockouts": knock} if counterfactual else None
            finish_output(result, final, path, groups)
    return result


# ---------------------------------------------------------------------------------------------
# the terminal table
# ---------------------------------------------------------------------------------------------
def _fmt_num(x: float, unit: str = "") -> str:
    if x is None or not np.isfinite(x):
        return "-"
    ax = abs(x)
    if unit == "yuan":
        return f"{x / 1e9:,.1f} bn"
    if ax >= 100:
        s = f"{x:,.0f}"
    elif ax >= 1:
        s = f"{x:.2f}".rstrip("0").rstrip(".")
    elif ax == 0:
        s = "0"
    else:
        s = f"{x:.3g}"
    return s


def _fmt_signed(x: float, unit: str = "") -> str:
    s = _fmt_num(x, unit)
    return s if s == "-" or s.startswith("-") or s == "0" else "+" + s


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), "  ".join("-" * w for w in widths)]
                     + [fmt.format(*r) for r in rows])


def format_comparison(ds: xr.Dataset) -> str:
    """The comparison as plain-text tables: targets, cost, attribution.

    Parameters
    ----------
    ds
        A comparison (:func:`povsim.compare`).

    Returns
    -------
    str
        One table per target (P(holds) with its interval, median year met, median shortfall,
        paired difference from the first scenario), then money and attribution tables
        (``povsim compare`` prints it).
    """
    dim = ensemble_dim(ds)
    labels = [str(x) for x in ds[dim].values]
    level = float(ds["p_held_lo"].attrs.get("level", 0.9))
    pct = f"{level * 100:.0f}%"
    ref = labels[0]
    end_year = int(ds["year"].values[-1])
    out: list[str] = []
    n = ds["n_runs"].values
    out.append(f"{len(labels)} scenarios x {int(ds.sizes['replicate'])} replicates "
               f"(runs stored: {', '.join(str(int(x)) for x in n)}); intervals {pct}; "
               f"differences are paired with {ref} (common random numbers)")
    for ti, t in enumerate(ds["target"].values):
        label = str(ds["target_label"].values[ti]) if "target_label" in ds.coords else str(t)
        unit = str(ds["target_unit"].values[ti]) if "target_unit" in ds.coords else ""
        rows = []
        for si, s in enumerate(labels):
            p = float(ds["p_held"].values[si, ti])
            lo = float(ds["p_held_lo"].values[si, ti])
            hi = float(ds["p_held_hi"].values[si, ti])
            y = float(ds["median_year_met"].values[si, ti])
            sh = float(ds["shortfall_median"].values[si, ti])
            if si == 0:
                dp = "(reference)"
            else:
                d = float(ds["diff_p_held"].values[si, ti])
                dlo = float(ds["diff_p_held_lo"].values[si, ti])
                dhi = float(ds["diff_p_held_hi"].values[si, ti])
                dp = f"{d:+.2f} [{dlo:+.2f}, {dhi:+.2f}]" if np.isfinite(dlo) else f"{d:+.2f}"
            rows.append((
                s,
                f"{p:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(p) else "-",
                str(int(y)) if np.isfinite(y) else f"not by {end_year}",
                _fmt_num(sh) + (f" {unit}" if np.isfinite(sh) and sh > 0 else ""),
                dp,
            ))
        out.append("")
        out.append(f"target: {label}")
        out.append(_table(("scenario", f"P(holds) [{pct}]", "median year met",
                           "median shortfall", f"difference in P vs {ref} [{pct}]"), rows))
    rows = []
    for si, s in enumerate(labels):
        cost = float(ds["cost_mean"].values[si])
        bud = float(ds["budget_mean"].values[si])
        stock = float(ds["registered_poor_end"].values[si])
        if si == 0:
            dc = ds_ = "(reference)"
        else:
            dc = (f"{_fmt_signed(float(ds['diff_cost'].values[si]), 'yuan')} "
                  f"[{_fmt_signed(float(ds['diff_cost_lo'].values[si]), 'yuan')}, "
                  f"{_fmt_signed(float(ds['diff_cost_hi'].values[si]), 'yuan')}]")
            ds_ = (f"{_fmt_signed(float(ds['diff_registered_poor_end'].values[si]))} "
                   f"[{_fmt_signed(float(ds['diff_registered_poor_end_lo'].values[si]))}, "
                   f"{_fmt_signed(float(ds['diff_registered_poor_end_hi'].values[si]))}]")
        rows.append((s, _fmt_num(bud, "yuan"), _fmt_num(cost, "yuan"), dc,
                     _fmt_num(stock), ds_))
    out.append("")
    out.append("cost (yuan, all years, mean over replicates) and registered poor left")
    out.append(_table(("scenario", "budget", "spent", f"difference in spent [{pct}]",
                       f"registered poor {end_year}", f"difference [{pct}]"), rows))
    if "exits_direct" in ds:
        from .attribution import format_attribution

        out.append("")
        out.append(format_attribution(ds))
    return "\n".join(out)
