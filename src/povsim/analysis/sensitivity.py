"""Global sensitivity of the 2020 targets to the uncertain parameters (SALib).

``povsim sensitivity scenarios/baseline.yaml --priors calibration/priors.yaml --output-dir sa``
works in two stages, both on the ensemble layer (dask, common random numbers, resumable stores):

1. **Morris screening** over every parameter of the priors file: ``trajectories`` one-at-a-time
   trajectories on a ``levels``-level grid (SALib's :func:`SALib.sample.morris.sample`), each
   point run with the same ``replicates`` seeds. The elementary effects' mean absolute value
   ``mu*`` (with a bootstrap interval) and spread ``sigma`` rank the parameters for each output.
2. **Sobol indices** on the ``top`` most influential (largest ``mu*`` relative to the largest,
   over the outputs): a Saltelli design of ``sobol_samples`` base points
   (:func:`SALib.sample.sobol.sample`, first and total order), the other parameters at the
   scenario's own values; first-order ``S1`` and total ``ST`` with bootstrap intervals.

Every parameter moves over its prior's probability mass, not its raw range: a design value
``u`` in [0, 1] maps to the prior's quantile ``0.01 + 0.98 u`` (a uniform prior: its whole range,
quantile ``u``), see :func:`to_values`. Effects are thus per unit of prior quantile and
comparable between parameters.

The outputs (:data:`SENSITIVITY_OUTPUTS`) are replicate means under common random numbers:
the 2020 registered-poor stock, P(all registered poor out by 2020) (the share of replicates in
which the ``registered_poor`` target holds), poor counties exited by 2020 and the total cost
(money spent, all years).

Interrupting keeps every finished run in ``OUTPUT_DIR/morris.zarr`` and ``sobol.zarr``; the same
command resumes. ``OUTPUT_DIR/sensitivity.csv`` holds the table, ``sensitivity.png`` the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.scenario import Scenario, load_scenario

__all__ = ["SENSITIVITY_OUTPUTS", "SensitivityResult", "format_sensitivity", "morris_design",
           "run_outputs", "sensitivity", "sobol_design", "to_values"]

#: output name -> (units, description); the year is the campaign's deadline (seed (三): 2020)
SENSITIVITY_OUTPUTS: dict[str, tuple[str, str]] = {
    "registered_poor_2020": ("persons", "registered poor at the end of 2020 (replicate mean)"),
    "p_all_out_2020": ("probability", "P(all registered poor out by 2020): share of replicates "
                                      "in which the registered_poor target holds"),
    "counties_out_2020": ("counties", "poor counties exited by the end of 2020 (replicate mean)"),
    "total_cost": ("yuan", "money spent, all years (replicate mean)"),
}
_YEAR = 2020  # seed (三): all out by 2020
#: the part of a non-uniform prior the design covers (assumption: its central 98 %; the
#: support's ends — an income gain of 0, a success rate of 0 — have no prior weight near them)
_CENTRAL = (0.01, 0.99)


def _salib() -> Any:
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise PovsimError("povsim sensitivity needs SALib (pip install 'SALib>=1.4', or "
                          "pip install 'povsim[sensitivity]')") from None
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    return morris_sample, morris_analyze, sobol_sample, sobol_analyze


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def to_values(priors: Sequence[Any], u: np.ndarray) -> np.ndarray:
    """Design values ``u`` in [0, 1] (one column per prior) -> parameter values.

    ``u`` is the prior's cumulative probability rescaled to its central 98 % (:data:`_CENTRAL`):
    0 is the 1 % quantile, 0.5 the median, 1 the 99 % quantile; for a uniform prior, its whole
    range (0 the lower bound, 1 the upper).
    """
    u = np.atleast_2d(np.asarray(u, dtype=float))
    out = np.empty_like(u)
    for j, p in enumerate(priors):
        f_lo, f_hi = (0.0, 1.0) if p.kind == "uniform" else _CENTRAL
        out[:, j] = p.distribution.ppf(f_lo + np.clip(u[:, j], 0, 1) * (f_hi - f_lo))
    return out


def morris_design(n_params: int, trajectories: int, levels: int, seed: int) -> np.ndarray:
    """The Morris design in [0, 1]: ``trajectories * (n_params + 1)`` rows."""
    morris_sample, _, _, _ = _salib()
    names = [f"x{i}" for i in range(n_params)]
    return morris_sample.sample(_problem(names), trajectories, num_levels=levels,
                                seed=int(seed) % 2**32)


def sobol_design(n_params: int, samples: int, seed: int) -> np.ndarray:
    """The Saltelli design in [0, 1] (first and total order): ``samples * (n_params + 2)`` rows."""
    import warnings

    _, _, sobol_sample, _ = _salib()
    names = [f"x{i}" for i in range(n_params)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "convergence properties ... N a power of 2"
        return sobol_sample.sample(_problem(names), samples, calc_second_order=False,
                                   seed=int(seed) % 2**32)


def run_outputs(ds: xr.Dataset, dim: str = "experiment") -> dict[str, np.ndarray]:
    """The outputs of every experiment: replicate means (``{name: (experiment,)}``)."""
    ok = ds["done"] == 1 if "done" in ds else None

    def mean(da: xr.DataArray) -> np.ndarray:
        if ok is not None:
            da = da.where(ok)
        return np.asarray(da.mean("replicate", skipna=True).values, dtype=float)

    years = [int(y) for y in ds["year"].values]
    if _YEAR not in years:
        raise PovsimError(f"the runs end in {years[-1]}; the sensitivity outputs are for "
                          f"{_YEAR} (expected calendar.end_year >= {_YEAR})")
    stock = ds["registered_poor"].sel(year=_YEAR).sum("region", min_count=1)
    counties = ds["counties_exited"].sel(year=_YEAR).sum("region", min_count=1)
    held = ds["target_held"].sel(target="registered_poor")
    return {
        "registered_poor_2020": mean(stock),
        "p_all_out_2020": mean(held),
        "counties_out_2020": mean(counties),
        "total_cost": mean(ds["total_spending"]),
    }


@dataclass
class SensitivityResult:
    """What :func:`sensitivity` found.

    Attributes
    ----------
    table
        One row per (stage, output, parameter): ``mu_star``, its bootstrap interval, ``sigma``
        (Morris) or ``S1``/``ST`` with intervals (Sobol), and the rank within the output.
    selected
        The parameters (dotted keys) the Sobol stage was run on.
    morris_outputs, sobol_outputs
        The outputs at every design point (``{name: array}``), the parameter values
        (``"values"``: rows x parameters) and the design in [0, 1] (``"design"``).
    files
        Files written (``table``, ``figure``, ``morris``, ``sobol``).
    runs
        Runs computed / already stored / total.
    """

    table: Any
    selected: list[str]
    morris_outputs: dict[str, np.ndarray]
    sobol_outputs: dict[str, np.ndarray]
    files: dict[str, Path] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise PovsimError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return int(value)


def _stage(label: str, scenario: Scenario, base_dir: str | None, priors: Sequence[Any],
           values: np.ndarray, path: Path | None, *, replicates: int, root_seed: int,
           workers: int | None, scheduler: str | None, progress: bool | None, overwrite: bool,
           log: Callable[[str], None] | None, security: Any, dashboard: Any,
           counts: dict[str, int]) -> dict[str, np.ndarray]:
    from povsim.calibration.priors import apply_values
    from povsim.ensembles.execution import execute, load, output_path
    from povsim.ensembles.store import Experiment, Plan, locked

    exps = []
    for i, row in enumerate(values):
        vals = {p.key: float(v) for p, v in zip(priors, row)}
        exps.append(Experiment(label=f"{label[0]}{i:04d}", scenario=apply_values(scenario, vals),
                               base_dir=base_dir))
    plan = Plan(dim="experiment", experiments=exps)
    with output_path(path) as p, locked(p):
        rep = execute([plan], replicates=replicates, root_seed=root_seed, path=p,
                      workers=workers, scheduler=scheduler, progress=progress, crn=True,
                      attribution=False, overwrite=overwrite, log=log,
                      attrs={"title": f"povsim sensitivity ({label}) of {scenario.name}"},
                      description=f"{label} runs ({len(exps)} points x {replicates} "
                                  "replicates, common random numbers)",
                      security=security, dashboard=dashboard)
        counts["computed"] = counts.get("computed", 0) + rep.computed
        counts["already"] = counts.get("already", 0) + rep.already
        counts["total"] = counts.get("total", 0) + rep.total
        ds = load(p)
        try:
            out = run_outputs(ds)
        finally:
            ds.close()
    return out


def _interval(est: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est, conf = np.asarray(est, float), np.asarray(conf, float)
    return est - conf, est + conf


def sensitivity(
    scenario: Scenario | str | Path = "baseline",
    *,
    priors: Any = "calibration/priors.yaml",
    replicates: int = 4,
    trajectories: int = 6,
    levels: int = 4,
    top: int = 4,
    sobol_samples: int = 32,
    bootstrap: int = 1000,
    level: float = 0.9,
    seed: int | None = None,
    scale: int | None = None,
    output_dir: str | Path | None = None,
    figure: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
    security: object = None,
    dashboard: str | bool | None = None,
) -> SensitivityResult:
    """Morris screening over every prior, then Sobol indices on the most influential.

    Parameters
    ----------
    scenario
        The scenario (file, object or library name); it must run to 2020.
    priors
        The priors file (``calibration/priors.yaml``) or a list of
        :class:`~povsim.calibration.Prior`: the uncertain parameters and their ranges.
    replicates
        Runs per design point, with the same seeds at every point (common random numbers).
    trajectories, levels
        Morris trajectories and grid levels (``trajectories * (parameters + 1)`` points).
    top
        Parameters kept for the Sobol stage (``0``: Morris only).
    sobol_samples
        Base samples of the Saltelli design (``sobol_samples * (top + 2)`` points; a power of 2
        is best).
    bootstrap, level
        Bootstrap resamples and confidence level of every interval.
    seed
        Root seed of the designs and the replicates (default: the scenario's ``seed``).
    scale
        Simulate 1 in ``scale`` households.
    output_dir
        Directory for ``morris.zarr``, ``sobol.zarr`` (resumable run stores),
        ``sensitivity.csv`` and ``sensitivity.png``; ``None``: temporary stores, no files.
    figure
        The figure's path (default ``OUTPUT_DIR/sensitivity.png``).
    workers, scheduler, progress, overwrite, log, security, dashboard
        As for :func:`povsim.sweep`.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    PovsimError
        SALib missing, a prior key that is not a parameter of the scenario, bad counts.
    """
    import pandas as pd

    from povsim.calibration.priors import check_against_scenario, load_priors
    from povsim.ensembles.compare import _apply_scale

    _, morris_analyze, _, sobol_analyze = _salib()
    replicates = _check_int("--replicates", replicates, 1)
    trajectories = _check_int("--trajectories", trajectories, 2)
    levels = _check_int("--levels", levels, 2)
    top = _check_int("--top", top, 0)
    sobol_samples = _check_int("--sobol-samples", sobol_samples, 2)
    bootstrap = _check_int("--bootstrap", bootstrap, 10)
    if not 0 < float(level) < 1:
        raise PovsimError(f"--level must be between 0 and 1, got {level}")
    if figure is not None:  # checked before any run
        from povsim.ensembles.cli import _check_figure

        _check_figure(str(figure))
    prior_file = "<priors>"
    if isinstance(priors, (str, Path)):
        prior_file = str(priors)
        priors = load_priors(priors)
    priors = list(priors)
    if not priors:
        raise PovsimError("no uncertain parameters: the priors list is empty")
    base_dir = None
    if not isinstance(scenario, Scenario):
        from povsim.library import resolve_scenario_path

        path = resolve_scenario_path(scenario)
        base_dir = str(Path(path).resolve().parent)
        scenario = load_scenario(path)
    scenario = _apply_scale(scenario, scale)
    if scenario.calendar.end_year < _YEAR:
        raise PovsimError(f"scenario {scenario.name!r} ends in {scenario.calendar.end_year}; the "
                          f"sensitivity outputs are for {_YEAR} (expected calendar.end_year >= "
                          f"{_YEAR})")
    check_against_scenario(priors, scenario, prior_file)
    root_seed = int(scenario.seed if seed is None else seed)
    top = min(top, len(priors))
    out_dir = None
    if output_dir is not None:
        out_dir = Path(output_dir)
        if not out_dir.parent.exists():
            raise PovsimError(f"--output-dir {out_dir}: directory {out_dir.parent} does not exist")
        out_dir.mkdir(exist_ok=True)
    common = dict(replicates=replicates, root_seed=root_seed, workers=workers,
                  scheduler=scheduler, progress=progress, overwrite=overwrite, log=log,
                  security=security, dashboard=dashboard)
    counts: dict[str, int] = {}
    keys = [p.key for p in priors]

    # stage 1: Morris over every parameter
    u_m = morris_design(len(priors), trajectories, levels, root_seed)
    x_m = to_values(priors, u_m)
    y_m = _stage("morris", scenario, base_dir, priors, x_m,
                 None if out_dir is None else out_dir / "morris.zarr", counts=counts, **common)
    problem = _problem(keys)
    rows = []
    rel = np.zeros(len(priors))
    for name, y in y_m.items():
        if np.all(np.isfinite(y)):
            res = morris_analyze.analyze(problem, u_m, y, num_resamples=bootstrap,
                                         conf_level=float(level), num_levels=levels,
                                         seed=root_seed % 2**32)
            mu_star = np.asarray(res["mu_star"], float)
            conf = np.asarray(res["mu_star_conf"], float)
            sigma = np.asarray(res["sigma"], float)
        else:  # pragma: no cover - every stored run has every output
            mu_star = conf = sigma = np.full(len(priors), np.nan)
        lo, hi = _interval(mu_star, conf)
        peak = np.nanmax(mu_star) if np.isfinite(mu_star).any() else 0.0
        if peak > 0:
            rel = np.maximum(rel, np.nan_to_num(mu_star / peak))
        order = np.argsort(-np.nan_to_num(mu_star, nan=-1.0), kind="stable")
        rank = np.empty(len(priors), int)
        rank[order] = np.arange(1, len(priors) + 1)
        for j, key in enumerate(keys):
            rows.append({"stage": "morris", "output": name, "parameter": key,
                         "mu_star": mu_star[j], "mu_star_low": lo[j], "mu_star_high": hi[j],
                         "sigma": sigma[j], "S1": np.nan, "S1_low": np.nan, "S1_high": np.nan,
                         "ST": np.nan, "ST_low": np.nan, "ST_high": np.nan,
                         "rank": int(rank[j]), "units": SENSITIVITY_OUTPUTS[name][0]})
    # the most influential: largest mu* relative to each output's largest, over the outputs
    chosen = [int(j) for j in np.argsort(-rel, kind="stable")[:top]] if top else []
    selected = [keys[j] for j in chosen]

    y_s: dict[str, np.ndarray] = {}
    if chosen:
        sub = [priors[j] for j in chosen]
        u_s = sobol_design(len(sub), sobol_samples, root_seed)
        x_s = to_values(sub, u_s)
        y_s = _stage("sobol", scenario, base_dir, sub, x_s,
                     None if out_dir is None else out_dir / "sobol.zarr", counts=counts,
                     **common)
        sub_problem = _problem(selected)
        for name, y in y_s.items():
            if np.nanvar(y) > 0:
                res = sobol_analyze.analyze(sub_problem, y, calc_second_order=False,
                                            num_resamples=bootstrap, conf_level=float(level),
                                            seed=root_seed % 2**32)
                s1, s1c = np.asarray(res["S1"], float), np.asarray(res["S1_conf"], float)
                st, stc = np.asarray(res["ST"], float), np.asarray(res["ST_conf"], float)
            else:  # the output does not vary: no variance to apportion
                s1 = s1c = st = stc = np.full(len(sub), np.nan)
            s1_lo, s1_hi = _interval(s1, s1c)
            st_lo, st_hi = _interval(st, stc)
            order = np.argsort(-np.nan_to_num(st, nan=-1.0), kind="stable")
            rank = np.empty(len(sub), int)
            rank[order] = np.arange(1, len(sub) + 1)
            for j, key in enumerate(selected):
                rows.append({"stage": "sobol", "output": name, "parameter": key,
                             "mu_star": np.nan, "mu_star_low": np.nan, "mu_star_high": np.nan,
                             "sigma": np.nan, "S1": s1[j], "S1_low": s1_lo[j],
                             "S1_high": s1_hi[j], "ST": st[j], "ST_low": st_lo[j],
                             "ST_high": st_hi[j], "rank": int(rank[j]),
                             "units": SENSITIVITY_OUTPUTS[name][0]})
        y_s["values"] = x_s
        y_s["design"] = u_s
    y_m["values"] = x_m
    y_m["design"] = u_m
    table = pd.DataFrame(rows)
    settings = {"scenario": scenario.name, "priors": prior_file, "replicates": replicates,
                "trajectories": trajectories, "levels": levels, "top": top,
                "sobol_samples": sobol_samples, "bootstrap": bootstrap, "level": float(level),
                "seed": root_seed, "scale": int(scenario.population.scale)}
    result = SensitivityResult(table=table, selected=selected, morris_outputs=y_m,
                               sobol_outputs=y_s, runs=counts, settings=settings)
    if out_dir is not None:
        csv_path = out_dir / "sensitivity.csv"
        table.to_csv(csv_path, index=False, float_format="%.6g")
        result.files.update(table=csv_path, morris=out_dir / "morris.zarr")
        if chosen:
            result.files["sobol"] = out_dir / "sobol.zarr"
    fig_path = figure if figure is not None else (
        out_dir / "sensitivity.png" if out_dir is not None else None)
    if fig_path is not None:
        plot_sensitivity(result, fig_path)
        result.files["figure"] = Path(fig_path)
    return result


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g} bn"
    if a >= 1e5:
        return f"{v / 1e6:.3g} M"
    return f"{v:.3g}"


def format_sensitivity(result: SensitivityResult) -> str:
    """The table as text: Morris ranking per output, then the Sobol indices."""
    t = result.table
    s = result.settings
    lines = [f"Sensitivity of {s.get('scenario', '?')} (1:{s.get('scale', '?')}, "
             f"{s.get('replicates', '?')} replicates per point, common random numbers; "
             f"{s.get('level', 0.9):.0%} bootstrap intervals)"]
    for stage in ("morris", "sobol"):
        part = t[t["stage"] == stage]
        if part.empty:
            continue
        if stage == "morris":
            lines.append(f"\nMorris screening ({s.get('trajectories')} trajectories, "
                         f"{s.get('levels')} levels): mu* [interval], sigma; effect of the "
                         "parameter moving over its prior")
        else:
            lines.append(f"\nSobol indices ({s.get('sobol_samples')} base samples) on "
                         + ", ".join(result.selected) + ": S1 [interval], ST [interval]")
        for name in SENSITIVITY_OUTPUTS:
            rows = part[part["output"] == name].sort_values("rank")
            if rows.empty:
                continue
            lines.append(f"  {name} ({SENSITIVITY_OUTPUTS[name][0]})")
            w = max(len(p) for p in rows["parameter"])
            for r in rows.itertuples():
                if stage == "morris":
                    lines.append(f"    {r.rank:>2}. {r.parameter:<{w}}  mu* {_fmt(r.mu_star)} "
                                 f"[{_fmt(r.mu_star_low)}, {_fmt(r.mu_star_high)}]  "
                                 f"sigma {_fmt(r.sigma)}")
                elif not np.isfinite(r.ST):
                    lines.append(f"    {r.rank:>2}. {r.parameter:<{w}}  - (the output does not "
                                 "vary over the design: no variance to apportion)")
                else:
                    lines.append(f"    {r.rank:>2}. {r.parameter:<{w}}  S1 {r.S1:.2f} "
                                 f"[{r.S1_low:.2f}, {r.S1_high:.2f}]  ST {r.ST:.2f} "
                                 f"[{r.ST_low:.2f}, {r.ST_high:.2f}]")
    return "\n".join(lines)


def plot_sensitivity(result: SensitivityResult, path: str | Path | None = None) -> Any:
    """Morris ``mu*`` (top row) and Sobol ``S1``/``ST`` (bottom row) per output, with intervals."""
    from povsim.plotting.common import new_figure, panel_letter, save

    t = result.table
    names = list(SENSITIVITY_OUTPUTS)
    has_sobol = bool((t["stage"] == "sobol").any())
    nrows = 2 if has_sobol else 1
    fig, axes = new_figure(4.2 * len(names), 3.2 * nrows + 0.8, nrows, len(names))
    axes = np.atleast_2d(axes)
    for k, name in enumerate(names):
        ax = axes[0, k]
        m = t[(t["stage"] == "morris") & (t["output"] == name)].sort_values("mu_star")
        y = np.arange(len(m))
        err = np.vstack([m["mu_star"] - m["mu_star_low"], m["mu_star_high"] - m["mu_star"]])
        ax.barh(y, m["mu_star"], xerr=np.clip(np.nan_to_num(err), 0, None), color="C0",
                alpha=0.8, capsize=2)
        ax.set_yticks(y)
        ax.set_yticklabels(m["parameter"], fontsize=6)
        if not (m["mu_star"].fillna(0) > 0).any():
            ax.text(0.5, 0.5, "the output does not vary\nover the design", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8, color="0.4")
        ax.set_title(f"Morris mu*: {name}\n({SENSITIVITY_OUTPUTS[name][0]})", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
        panel_letter(ax, "abcdefgh"[k])
        if has_sobol:
            ax = axes[1, k]
            s = t[(t["stage"] == "sobol") & (t["output"] == name)]
            y = np.arange(len(s))
            for off, col, c in ((-0.2, "S1", "C1"), (0.2, "ST", "C2")):
                v = s[col].to_numpy(float)
                e = np.vstack([v - s[f"{col}_low"].to_numpy(float),
                               s[f"{col}_high"].to_numpy(float) - v])
                ax.barh(y + off, np.nan_to_num(v), height=0.4, color=c, label=col,
                        xerr=np.clip(np.nan_to_num(e), 0, None), capsize=2)
            ax.set_yticks(y)
            ax.set_yticklabels(s["parameter"], fontsize=6)
            if not s["ST"].notna().any():
                ax.text(0.5, 0.5, "no variance to apportion\n(the output does not vary)",
                        ha="center", va="center", transform=ax.transAxes, fontsize=8,
                        color="0.4")
            ax.set_xlim(left=min(0.0, float(np.nanmin(s[["S1_low", "ST_low"]].to_numpy(float)))
                             if s[["S1_low", "ST_low"]].notna().any().any() else 0.0))
            ax.set_title(f"Sobol: {name}", fontsize=9)
            ax.grid(alpha=0.3, axis="x")
            ax.legend(fontsize=7, loc="lower right")
            panel_letter(ax, "efghijkl"[k])
    st = result.settings
    fig.suptitle(f"Sensitivity of the 2020 targets ({st.get('scenario', '?')}, 1:"
                 f"{st.get('scale', '?')}, {st.get('replicates', '?')} replicates per point, "
                 f"{st.get('level', 0.9):.0%} bootstrap intervals)", fontsize=10)
    return save(fig, path)
