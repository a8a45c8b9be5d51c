"""The hindcast: the campaign after 2016 with each replicate's parameters drawn from the posterior.

``povsim hindcast scenarios/hindcast.yaml --posterior calibration/posterior.csv --replicates 50
--output hindcast.nc --figure hindcast.png`` draws 50 parameter sets from the final generation
of the calibration (by weight, with replacement; :meth:`povsim.calibration.Posterior.sample`),
runs the scenario once with each — every run with its own seed, so the bands carry both
parameter and random uncertainty — and writes, by year 2015–2020, the registered poor, exits,
returns, new poor, villages and counties exited: every run, and the median and central band of
each (:data:`HINDCAST_VARIABLES`).

Without a posterior file the command stops and says to run ``povsim calibrate`` first; with
``--no-posterior`` (``posterior=None``) every replicate runs the scenario's own parameters — the
posterior medians once ``baseline.yaml`` extends ``calibration/calibrated.yaml`` — and the bands
carry random uncertainty only (the file's ``parameter_uncertainty`` attribute says which).

Runs go through the ensemble layer (:func:`povsim.ensembles.execute`): a local dask cluster or
``--scheduler``, a progress bar, and a resumable store (``H.nc.runs.zarr`` while it runs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError, ScenarioError
from povsim.scenario import Scenario, load_scenario

__all__ = ["HINDCAST_VARIABLES", "HINDCAST_YEARS", "check_replicates", "draw_parameters",
           "format_hindcast", "hindcast", "posterior_or_error"]

#: the variables summarised (summed over regions), with their units and what each counts
HINDCAST_VARIABLES: dict[str, tuple[str, str]] = {
    "registered_poor": ("persons", "registered poor at year end"),
    "exited": ("persons", "people exiting the register in the year"),
    "returned": ("persons", "people returning to the register in the year"),
    "new_poor": ("persons", "people newly registered in the year"),
    "villages_exited": ("villages", "poor villages exited by year end (cumulative)"),
    "counties_exited": ("counties", "poor counties exited by year end (cumulative)"),
}
#: the hindcast window (issue 7: "by year, 2015–2020")
HINDCAST_YEARS = (2015, 2020)
#: spawn key of the stream that draws the posterior samples (assumption: any fixed constant;
#: it keeps the draws apart from every model stream of the same root seed)
_DRAW_STREAM = 0x41DC


def check_replicates(replicates: Any, option: str = "--replicates") -> int:
    """``replicates`` as a positive int, or a :class:`PovsimError` saying what is expected."""
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) \
            or int(replicates) < 1:
        raise PovsimError(f"{option} must be a whole number of at least 1, got {replicates!r}")
    return int(replicates)


def posterior_or_error(path: str | Path, scenario: str = "SCENARIO.yaml") -> Any:
    """Load ``posterior.csv``; a missing file says to run ``povsim calibrate`` first.

    Raises
    ------
    PovsimError
        The file is missing (the message names the command that writes it and the
        ``--no-posterior`` alternative) or is not a posterior table.
    """
    from povsim.calibration.posterior import load_posterior

    p = Path(path)
    if not (p / "posterior.csv" if p.is_dir() else p).is_file():
        raise PovsimError(
            f"posterior file not found: {p}; run `povsim calibrate {scenario} --targets "
            f"calibration/targets.yaml` first (it writes calibration/posterior.csv), or pass "
            f"--no-posterior to run the scenario's own parameters in every replicate")
    return load_posterior(p)


def _check_keys(post: Any, scenario: Scenario, source: str) -> None:
    from povsim.calibration.priors import _current, apply_values

    med = post.median()
    for key in post.keys:
        try:
            _current(scenario, key)
        except KeyError:
            raise PovsimError(
                f"{source}: unknown parameter {key!r} (column of the posterior table; expected "
                f"a dotted key of scenario {scenario.name!r}, see `povsim show SCENARIO "
                f"--sources`)") from None
        try:
            apply_values(scenario, {key: med[key]})
        except ScenarioError as exc:
            raise PovsimError(f"{source}: parameter {key!r}: the posterior median "
                              f"{med[key]:g} is rejected by the scenario ({exc})") from None


def draw_parameters(posterior: Any, replicates: int, seed: int) -> list[dict[str, float]]:
    """``replicates`` parameter sets drawn by weight from the posterior's final generation.

    The draws depend only on ``seed`` and ``replicates`` (a numpy stream spawned from the root
    seed with its own key), so a rerun — or a resumed one — draws the same sets.
    """
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_DRAW_STREAM,)))
    return posterior.sample(int(replicates), rng=rng)


def _label(i: int) -> str:
    return f"draw{i:04d}"


def _summaries(runs: xr.Dataset, interval: float) -> xr.Dataset:
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    levels = np.array([lo, 0.5, hi])
    out: dict[str, xr.DataArray] = {}
    for var, (units, what) in HINDCAST_VARIABLES.items():
        if var not in runs:
            continue
        da = runs[var]
        if "region" in da.dims:
            da = da.sum("region", min_count=1)
        total = da.rename(f"{var}_total")
        total.attrs = {"units": units, "description": f"{what}, all regions, every replicate"}
        v = np.asarray(da.transpose("replicate", "year").values, dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # flows of 2014 (the start): NaN
            q = np.nanquantile(v, levels, axis=0) if np.isfinite(v).any() else \
                np.full((3, v.shape[1]), np.nan)
        band = xr.DataArray(q, dims=("band", "year"), coords={"year": da["year"].values},
                            attrs={"units": units,
                                   "description": f"{what}, all regions: low, median and high "
                                                  f"of the central {interval:.0%} band over "
                                                  "replicates"})
        mean = da.mean("replicate", skipna=True)
        mean.attrs = {"units": units, "description": f"{what}, all regions: replicate mean"}
        out[f"{var}_total"] = total
        out[f"{var}_band"] = band
        out[f"{var}_mean"] = mean
    ds = xr.Dataset(out)
    return ds.assign_coords(
        band=("band", ["low", "median", "high"], {"units": "1", "description": "band edge"}),
        band_quantile=("band", levels, {"units": "1",
                                        "description": "quantile over replicates of each edge"}))


def _tidy(raw: xr.Dataset, draws: Sequence[Mapping[str, float]] | None) -> xr.Dataset:
    """Runs stored as (draw, replicate=1, ...) -> one ``replicate`` dimension of draws."""
    from povsim.ensembles.store import coord_name

    ds = raw.isel(replicate=0, drop=True) if "replicate" in raw.dims else raw
    drop = [c for c in ds.coords if c not in ds.dims and "draw" in ds[c].dims
            and c not in ("seed", "scenario_json", "scenario_sha256")]
    ds = ds.drop_vars(drop)
    ds = ds.rename({"draw": "replicate"})
    ds = ds.assign_coords(replicate=np.arange(ds.sizes["replicate"]))
    for extra in ("done", "run_checksum"):
        if extra in ds:
            ds = ds.drop_vars(extra)
    if draws:
        for key in draws[0]:
            name = "param_" + coord_name(key)
            ds = ds.assign_coords({name: ("replicate", np.array([d[key] for d in draws]),
                                          {"units": "1", "key": key,
                                           "description": f"{key} drawn from the posterior"})})
    return ds


def hindcast(
    scenario: Scenario | str | Path = "hindcast",
    *,
    posterior: Any = "calibration/posterior.csv",
    replicates: int,
    seed: int | None = None,
    scale: int | None = None,
    output: str | Path | None = None,
    figure: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    interval: float = 0.9,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
    security: object = None,
    dashboard: str | bool | None = None,
) -> xr.Dataset:
    """Run the hindcast: one run per replicate, its parameters drawn from the posterior.

    Parameters
    ----------
    scenario
        The hindcast scenario (file, object or library name; default ``scenarios/hindcast.yaml``
        from the library).
    posterior
        ``posterior.csv`` (or its directory, or a loaded
        :class:`~povsim.calibration.Posterior`); ``None``: no parameter uncertainty, every
        replicate runs the scenario's own parameters (``--no-posterior``).
    replicates
        Number of runs; each draws its own parameter set and has its own seed.
    seed
        Root seed of the draws and of the runs (default: the scenario's ``seed``).
    scale
        Simulate 1 in ``scale`` households (``population.scale``).
    output
        A ``.nc`` or ``.csv`` file written at the end (the runs stream into
        ``OUTPUT.runs.zarr`` meanwhile: rerunning the same command resumes), or ``None``.
    figure
        Also draw the bands against the sourced 2013–2016 observations
        (:func:`povsim.plotting.plot_hindcast`) to this file.
    workers, scheduler, progress, overwrite, log, security, dashboard
        As for :func:`povsim.sweep`.
    interval
        Width of the central band (default 0.9: the 5th to 95th percentile).

    Returns
    -------
    xarray.Dataset
        Every run along ``replicate`` (the model's variables, 2014–2020, with the drawn
        parameters as coordinates ``param_<key>``, e.g.
        ``param_shocks_illness_rate`` with the dotted key in its ``key`` attribute), plus, for each of
        :data:`HINDCAST_VARIABLES`, ``<var>_total`` (all regions, per replicate), ``<var>_band``
        (``band, year``: low, median, high) and ``<var>_mean`` (``year``) over every year of the
        runs (2014, the start, has the stocks only; :func:`format_hindcast` prints 2015–2020).

    Raises
    ------
    PovsimError
        No posterior file, a posterior column that is not a parameter of the scenario, a bad
        replicate count, scale, interval or output.
    """
    from povsim.ensembles.compare import _apply_scale, finish_output
    from povsim.ensembles.execution import execute, load, output_path, plan_output
    from povsim.ensembles.store import Experiment, Plan, locked
    from povsim.calibration.posterior import Posterior
    from povsim.calibration.priors import apply_values

    replicates = check_replicates(replicates)
    if not 0 < float(interval) < 1:
        raise PovsimError(f"--interval must be between 0 and 1, got {interval}")
    if output is not None and Path(output).suffix.lower() not in (".nc", ".csv"):
        raise PovsimError(f"--output {output}: a hindcast is written as a netCDF (.nc) or CSV "
                          f"(.csv) file, got {Path(output).suffix or 'no suffix'!r}")
    if figure is not None:
        from povsim.ensembles.cli import _check_figure

        _check_figure(str(figure))
    base_dir = None
    name = str(scenario) if not isinstance(scenario, Scenario) else "SCENARIO.yaml"
    if not isinstance(scenario, Scenario):
        from povsim.library import resolve_scenario_path

        path = resolve_scenario_path(scenario)
        base_dir = str(Path(path).resolve().parent)
        scenario = load_scenario(path)
    scenario = _apply_scale(scenario, scale)
    hi = HINDCAST_YEARS[1]
    if scenario.calendar.end_year < hi or scenario.calendar.start_year > HINDCAST_YEARS[0]:
        raise PovsimError(f"scenario {scenario.name!r}: calendar {scenario.calendar.start_year}-"
                          f"{scenario.calendar.end_year} does not cover the hindcast years "
                          f"{HINDCAST_YEARS[0]}-{hi} (expected calendar.start_year <= "
                          f"{HINDCAST_YEARS[0]} and calendar.end_year >= {hi})")
    root_seed = int(scenario.seed if seed is None else seed)
    post = None
    source = "posterior"
    if posterior is not None:
        if isinstance(posterior, Posterior):
            post = posterior
        else:
            source = str(posterior)
            post = posterior_or_error(posterior, name)
        _check_keys(post, scenario, source)
    draws = draw_parameters(post, replicates, root_seed) if post is not None else None
    exps = []
    for i in range(replicates):
        values = draws[i] if draws is not None else {}
        scn = apply_values(scenario, values) if values else scenario
        exps.append(Experiment(label=_label(i), scenario=scn, base_dir=base_dir))
    plan = Plan(dim="draw", experiments=exps)
    store_out, final = plan_output(output)
    what = (f"{replicates} runs, parameters drawn from {source}" if post is not None
            else f"{replicates} runs of the scenario's own parameters (no posterior)")
    with output_path(store_out) as path, locked(path):
        # one run per draw, each with its own seed (no common random numbers: the replicates are
        # independent draws of parameters and of chance)
        execute([plan], replicates=1, root_seed=root_seed, path=path, workers=workers,
                scheduler=scheduler, progress=progress, crn=False, attribution=False,
                overwrite=overwrite, log=log,
                attrs={"title": f"povsim hindcast of {scenario.name}"},
                description=f"runs ({what})", security=security, dashboard=dashboard)
        raw = load(path, in_memory=True)
        runs = _tidy(raw, draws)
        result = xr.merge([runs, _summaries(runs, float(interval))], compat="override",
                          join="outer", combine_attrs="override")
        result.attrs = {
            "title": f"povsim hindcast of {scenario.name}",
            "scenario_name": scenario.name,
            "scenario_json": scenario.model_dump_json(),
            "posterior": source if post is not None else "",
            "parameter_uncertainty": int(post is not None),
            "parameters": ", ".join(post.keys) if post is not None else "",
            "replicates": replicates,
            "root_seed": root_seed,
            "interval": float(interval),
            "scale": int(scenario.population.scale),
        }
        if final is not None:
            finish_output(result, final, path)
    if figure is not None:
        from povsim.plotting import plot_hindcast

        plot_hindcast(result, path=figure)
    return result


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    if abs(v) >= 1e5:
        return f"{v / 1e6:.2f} M"
    return f"{v:,.0f}"


def format_hindcast(ds: xr.Dataset) -> str:
    """The bands as a table: one row per variable and year, median [low, high]."""
    years = [int(y) for y in ds["year"].values if HINDCAST_YEARS[0] <= int(y) <= HINDCAST_YEARS[1]]
    interval = float(ds.attrs.get("interval", 0.9))
    head = ["variable"] + [str(y) for y in years]
    rows = []
    for var, (_units, what) in HINDCAST_VARIABLES.items():
        band = ds.get(f"{var}_band")
        if band is None:
            continue
        cells = [what]
        for y in years:
            b = band.sel(year=y).values
            cells.append(f"{_fmt(float(b[1]))} [{_fmt(float(b[0]))}, {_fmt(float(b[2]))}]")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    unc = ("parameters from the posterior and chance" if ds.attrs.get("parameter_uncertainty")
           else "chance only (no posterior)")
    return (f"Hindcast of {ds.attrs.get('scenario_name', '?')}: median [{interval:.0%} band] of "
            f"{ds.sizes.get('replicate', 0)} runs, uncertainty from {unc}\n" + "\n".join(lines))
