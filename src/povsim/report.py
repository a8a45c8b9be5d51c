"""``povsim report``: one self-contained HTML file that answers "do the targets hold?".

``povsim report A.yaml [B.yaml ...] --output report.html`` runs the scenarios side by side
(:func:`povsim.compare`, common random numbers) and writes the report; ``povsim report
results.nc`` (or a ``.zarr`` store) writes it from stored results without running anything.

The file holds, with no external resource (every figure is an embedded PNG, the style is
inline, there is no script): the target table, the figures of :mod:`povsim.plotting` and
:mod:`povsim.ensembles.plotting` that apply to the results, every parameter of each scenario
with its unit and source, the provenance of the results, and a section reserved for the
calibration fit, which says plainly that there is none yet.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from povsim.errors import PovsimError

__all__ = ["add_command", "build_report", "load_results", "render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
color:#1b1b1b;background:#fafafa;line-height:1.45}
main{max-width:1200px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;
margin-top:2.4rem}h3{margin-top:1.6rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef4fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.held{color:#007a5a;font-weight:600}.missed{color:#b34700;font-weight:600}
.partly{color:#9a6a00;font-weight:600}
figure{margin:1.2rem 0 2rem}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.88rem;color:#444;margin-top:.3rem}
.note{background:#fff7e6;border-left:4px solid #E69F00;padding:.6rem 1rem}
.small{font-size:.82rem;color:#555}code{font-size:.88em}
nav ul{columns:2;font-size:.92rem}details{margin:.5rem 0}
td.src{font-size:.8rem;color:#333;min-width:18rem;word-break:break-word}
td.val{max-width:18rem;word-break:break-word}td.band{white-space:nowrap}
"""


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def load_results(path: str | Path) -> Any:
    """Read stored results: a run (``povsim run``) or an ensemble (``compare``/``sweep``).

    Parameters
    ----------
    path
        A run's ``.nc`` or ``.zarr``, or an ensemble store or netCDF file.

    Returns
    -------
    xarray.Dataset
        The results, loaded into memory.

    Raises
    ------
    PovsimError
        The path does not exist or is not a povsim results file (netCDF ``.nc`` or zarr).
    """
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise PovsimError(f"{p}: no such results file")
    try:
        if p.is_dir():
            if (p / "zarr.json").exists() or (p / ".zgroup").exists():
                try:
                    from povsim.ensembles import open_ensemble

                    return open_ensemble(p).load()
                except PovsimError:
                    return xr.open_zarr(p, consolidated=False).load()
            raise PovsimError(f"{p}: a directory that is not a zarr store")
        with xr.open_dataset(p) as ds:
            return ds.load()
    except PovsimError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a results file"
        raise PovsimError(f"{p}: not a povsim results file (expected the netCDF .nc or zarr "
                          f"store written by povsim run, compare or sweep; {type(exc).__name__})"
                          ) from None


def _is_results(path: str) -> bool:
    p = Path(path)
    return p.suffix.lower() in (".nc", ".zarr", ".nc4") or p.is_dir()


# ---------------------------------------------------------------------------------------------
# pieces of HTML
# ---------------------------------------------------------------------------------------------
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _png(fig: Any, tight: bool = True) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, **({"bbox_inches": "tight"} if tight else {}))
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(fig: Any, alt: str, caption: str, anchor: str, tight: bool = True) -> str:
    """``tight=False`` for a figure already laid out tight (one drawing fewer)."""
    from povsim.plotting.common import save

    save(fig, None)  # fonts for any non-ASCII label
    return (f'<figure id="{_e(anchor)}"><img alt="{_e(alt)}" '
            f'src="data:image/png;base64,{_png(fig, tight)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _fmt_num(v: float, unit: str = "") -> str:
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 1e9 and unit == "yuan":
        return f"{v / 1e9:,.1f} bn yuan"
    if abs(v) >= 100:
        return f"{v:,.0f}" + (f" {unit}" if unit else "")
    return f"{v:.3g}" + (f" {unit}" if unit else "")


def _target_tables(ds: Any) -> str:
    """The targets: held or P(holds), year met, shortfall — per scenario."""
    import numpy as np

    from povsim.plotting.common import ensemble_dim, experiments, scenario_of
    from povsim.plotting.names import target_label

    out = []
    dim = ensemble_dim(ds)
    if dim is None:
        from povsim.targets import evaluate

        rows = evaluate(ds, scenario_of(ds))
        out.append("<table><tr><th>target</th><th>held</th><th>year met</th>"
                   "<th>shortfall at the target year</th></tr>")
        for r in rows:
            cls = "held" if r.held else "missed"
            out.append(f"<tr><td>{_e(r.label)}</td><td class='{cls}'>"
                       f"{'yes' if r.held else 'no'}</td><td>"
                       f"{r.year_met if r.year_met is not None else '-'}</td><td class='num'>"
                       f"{'-' if r.held else _e(_fmt_num(r.shortfall, r.unit))}</td></tr>")
        out.append("</table>")
        return "\n".join(out)
    labels = [lab for lab, _ in experiments(ds)]
    targets = [str(t) for t in ds["target"].values]
    tl = ([str(x) for x in ds["target_label"].values] if "target_label" in ds.coords
          else [target_label(t) for t in targets])
    units = ([str(x) for x in ds["target_unit"].values] if "target_unit" in ds.coords
             else [""] * len(targets))
    level = float(ds.attrs.get("interval", 0.9))
    ok = (ds["done"] == 1) if "done" in ds else None
    if "p_held" in ds:
        p = ds["p_held"]
    else:
        held = ds["target_held"] if ok is None else ds["target_held"].where(ok)
        p = held.mean("replicate")
    for lab in labels:
        sub = ds.sel({dim: lab})
        n = int(sub["n_runs"]) if "n_runs" in sub else int(ds.sizes["replicate"])
        out.append(f"<h3>{_e(lab)} <span class='small'>({n} runs)</span></h3>")
        head = ("<tr><th>target</th><th>P(holds)</th>"
                + (f"<th>{100 * level:.0f}% interval</th>" if "p_held_lo" in ds else "")
                + ("<th>median year met</th>" if "median_year_met" in ds else "")
                + ("<th>median shortfall</th>" if "shortfall_median" in ds else "")
                + ("<th>P(holds) minus the first scenario</th>"
                   if "diff_p_held" in ds and lab != labels[0] else "") + "</tr>")
        out.append("<table>" + head)
        for ti, t in enumerate(targets):
            pv = float(p.sel({dim: lab, "target": t}))
            cls = "held" if pv >= 0.9 else "missed" if pv <= 0.1 else "partly"
            row = f"<tr><td>{_e(tl[ti])}</td><td class='num {cls}'>{pv:.2f}</td>"
            if "p_held_lo" in ds:
                lo = float(sub["p_held_lo"].sel(target=t))
                hi = float(sub["p_held_hi"].sel(target=t))
                row += f"<td class='num'>[{lo:.2f}, {hi:.2f}]</td>"
            if "median_year_met" in ds:
                y = float(sub["median_year_met"].sel(target=t))
                row += f"<td>{int(y) if np.isfinite(y) else 'not met in most runs'}</td>"
            if "shortfall_median" in ds:
                row += (f"<td class='num'>"
                        f"{_e(_fmt_num(float(sub['shortfall_median'].sel(target=t)), units[ti]))}"
                        "</td>")
            if "diff_p_held" in ds and lab != labels[0]:
                d = float(sub["diff_p_held"].sel(target=t))
                lo = float(sub["diff_p_held_lo"].sel(target=t))
                hi = float(sub["diff_p_held_hi"].sel(target=t))
                row += f"<td class='num'>{d:+.2f} [{lo:+.2f}, {hi:+.2f}]</td>"
            out.append(row + "</tr>")
        out.append("</table>")
    out.append("<p class='small'>P(holds): share of the runs in which the target holds "
               "(Wilson interval). Green: 0.9 or more; orange: in between; red: 0.1 or "
               "less.</p>")
    return "\n".join(out)


def _parameters(ds: Any) -> str:
    """Every parameter of each scenario with its unit and source (others: what differs)."""
    from pydantic import BaseModel

    from povsim.plotting.common import experiments, scenario_of
    from povsim.scenario.schema import iter_parameters

    out = []
    first: dict[str, str] | None = None
    for lab, runs in experiments(ds):
        scn = scenario_of(runs)
        if scn is None:
            out.append(f"<p>{_e(lab)}: the scenario is not recorded in these results.</p>")
            continue
        rows = []
        values: dict[str, str] = {}
        for key, value, meta in iter_parameters(scn):
            if isinstance(value, BaseModel):
                continue
            if isinstance(value, dict) and value and isinstance(next(iter(value.values())),
                                                                BaseModel):
                continue
            text = json.dumps(value, default=str, ensure_ascii=False) \
                if not isinstance(value, str) else value
            values[key] = text
            rows.append((key, text, meta.get("unit", ""), meta.get("source", "")))
        if first is None:
            first = values
            shown = rows
            intro = (f"<p>All {len(rows)} parameters of <b>{_e(lab)}</b> (the reference), "
                     "with their unit and source (as <code>povsim show --sources</code> "
                     "prints them).</p>")
        else:
            shown = [r for r in rows if first.get(r[0]) != r[1]]
            intro = (f"<p><b>{_e(lab)}</b>: the {len(shown)} parameters that differ from the "
                     "reference.</p>")
        table = ["<table><tr><th>key</th><th>value</th><th>unit</th><th>source</th></tr>"]
        for key, text, unit, src in shown:
            short = text if len(text) <= 160 else text[:157] + "..."
            table.append(f"<tr><td><code>{_e(key)}</code></td><td class='val'><code>{_e(short)}</code>"
                         f"</td><td>{_e(unit)}</td><td class='src'>{_e(src)}</td></tr>")
        table.append("</table>")
        out.append(f"<h3>{_e(lab)}</h3>{intro}<details open><summary>parameters of "
                   f"{_e(lab)}</summary>{''.join(table)}</details>")
    return "\n".join(out)


def _provenance(ds: Any, inputs: Sequence[str], command: str) -> str:
    import importlib.metadata as md

    from povsim.plotting.common import ensemble_dim, experiments
    from povsim.results import povsim_version

    rows = [("report written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("command", command), ("inputs", ", ".join(inputs)),
            ("povsim (report)", povsim_version()),
            ("python", platform.python_version())]
    for pkg in ("numpy", "xarray", "mesa", "matplotlib", "dask", "zarr", "pydantic"):
        try:
            rows.append((pkg, md.version(pkg)))
        except md.PackageNotFoundError:
            continue
    for k in ("povsim_version", "seed", "scale", "n_households", "scenario_sha256",
              "complete", "git_commit", "created", "command"):
        if k in ds.attrs:
            rows.append((f"results: {k}", ds.attrs[k]))
    dim = ensemble_dim(ds)
    if dim is not None:
        meta = ds.attrs.get("povsim_ensemble")
        if meta:
            try:
                m = json.loads(meta)
                rows.append(("ensemble", (f"{m.get('replicates')} replicates, root seed "
                                          f"{m.get('root_seed')}, common random numbers "
                                          f"{m.get('common_random_numbers')}")))
            except ValueError:
                pass
        for lab, runs in experiments(ds):
            sha = runs["scenario_sha256"].values if "scenario_sha256" in runs.coords else None
            if sha is not None:
                rows.append((f"{lab}: scenario sha256", str(sha.ravel()[0])))
        if "seed" in ds.coords:
            rows.append(("replicate seeds", ", ".join(str(int(s)) for s in
                                                      ds["seed"].values.ravel()[:50])))
    body = "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


# ---------------------------------------------------------------------------------------------
# the figures that apply
# ---------------------------------------------------------------------------------------------
def _figures(ds: Any, log: Callable[[str], None] | None) -> list[tuple[str, str, str]]:
    """``(anchor, title, html)`` of every figure that applies to the results."""
    from povsim import plotting as P
    from povsim.plotting.common import ensemble_dim, swept_keys

    dim = ensemble_dim(ds)
    keys = swept_keys(ds) if dim is not None else []
    is_sweep = dim == "experiment" and bool(keys)
    out: list[tuple[str, str, str]] = []

    def add(anchor: str, title: str, caption: str, draw: Callable[[], Any]) -> None:
        if log:
            log(f"drawing {title.lower()}")
        try:
            fig = draw()
        except PovsimError as exc:
            out.append((anchor, title, f"<p class='note'>{_e(exc)}</p>"))
            return
        out.append((anchor, title, _figure(fig, title, caption, anchor)))

    first = None if not is_sweep else str(ds[dim].values[0])
    if is_sweep:
        from povsim.ensembles.plotting import plot_frontier, plot_sweep

        add("sweep", "Sweep", "P(target holds) at every point of the sweep.",
            lambda: plot_sweep(ds))
        budget = [c for c, k in keys if k == "budget.scale"]
        if budget:
            from povsim.ensembles.frontier import frontier

            def draw_frontier() -> Any:
                try:  # the dotted key, or the coordinate's identifier if that is what it takes
                    fr = frontier(ds, key="budget.scale", n_boot=200)
                except PovsimError:
                    fr = frontier(ds, key=budget[0], n_boot=200)
                return plot_frontier(fr, ds)

            add("frontier", "Budget frontier", "For each target, the smallest budget at "
                "which it holds with probability 0.9 or more (diamonds, with a bootstrap "
                "interval).", draw_frontier)
        out.append(("sweep-note", "Figures of one design point",
                    ("<p class='small'>The figures below show one design point of the "
                     f"sweep, the first: <code>{_e(first)}</code>.</p>")))
    add("trajectory", "Registered poor against the target path",
        "Registered poor at each year end: one run draws a line, replicates a fan (median, "
        "25-75% and 5-95% of runs), against the straight path to zero by the target year and "
        "the pace of about one million fewer a year. Marks: whether each pace year met the "
        "pace (k/n: in k of n runs) and whether all registered poor were out by the target "
        "year.", lambda: P.plot_trajectory(ds, scenario=first))
    add("exits", "Exits against the targets",
        "People exiting each year against the pace; poor villages and counties exited by "
        "each year end against 'all by the target year'.",
        lambda: P.plot_exits(ds, scenario=first))
    if "exits_by_pathway" in ds or "exits_direct" in ds:
        add("attribution", "Which pathway carried the exits",
            "Exits by the pathway whose effect carried the household over the line that year "
            "(direct accounting)" + ("; last panel: the counterfactual contribution, the "
                                     "scenario minus the same scenario without the pathway."
                                     if "cf_exits_total" in ds else "."),
            lambda: P.plot_attribution(ds, scenario=first))
    add("spending", "Money spent", "Grants spent by pathway and by source; micro-credit "
        "principal lent to households is shown apart and not counted as money spent.",
        lambda: P.plot_spending(ds, scenario=first))
    if dim == "scenario":
        from povsim.ensembles.plotting import plot_comparison

        add("comparison", "Scenario comparison", "Targets, registered poor, paired "
            "differences from the first scenario (the same random numbers in every scenario) "
            "and attribution.", lambda: plot_comparison(ds))
    add("counties", "County exit timeline", "The 88 poor counties by region: exited by each "
        "year end (share of runs). Black dots: the official exit batches known from the "
        "sources.", lambda: P.plot_county_timeline(ds, scenario=first))
    add("hindcast", "Hindcast against the observations", "Simulated band against the sourced "
        "Sichuan figures of 2013-2016 (calibration tables).",
        lambda: P.plot_hindcast(ds, scenario=first))
    return out


# ---------------------------------------------------------------------------------------------
# the calibration fit
# ---------------------------------------------------------------------------------------------
#: what ``posterior=`` means when nothing is given: the posterior shipped with povsim
SHIPPED = "shipped"


def _load_fit(posterior: Any) -> Any:
    """A :class:`~povsim.calibration.fit.CalibrationFit`, or ``None`` when none is shipped."""
    from povsim.calibration.fit import CalibrationFit, load_fit

    if isinstance(posterior, CalibrationFit):
        return posterior
    return load_fit(None if posterior in (None, SHIPPED) else posterior)


def _calibration(fit: Any, log: Callable[[str], None] | None) -> str:
    """The "Calibration fit" section's body: settings, residuals, figures, parameters."""
    if fit is None:
        return ("<p class='note'><b>No calibration fit.</b> This povsim ships no posterior "
                "(<code>calibration/posterior.csv</code>, written by <code>povsim calibrate"
                "</code>), so there is no fit to the observations to show. Give one with "
                "<code>povsim report ... --posterior FILE</code>; leave this section out with "
                "<code>--no-calibration</code>.</p>")
    from povsim.calibration.fit import band_class
    from povsim.calibration.report import _fmt, fit_figure, marginals_figure

    post = fit.posterior
    out = [f"<p>The fit of {len(post.keys)} free parameters to the observations of "
           f"<code>{_e(fit.targets_file.name if fit.targets_file else 'targets.yaml')}</code> by "
           "approximate Bayesian computation (ABC-SMC): the particles of the final generation "
           "are the posterior, each particle's simulated measure is the mean of its replicates "
           "under common random numbers. The scenarios of this report use the calibrated values "
           "only where they extend <code>calibrated.yaml</code>; their own parameters are "
           "listed below.</p>",
           "<h3 id='calibration-settings'>Method and settings</h3><table>"]
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in fit.settings()]
    out.append("</table>")
    if fit.targets_changed():
        out.append("<p class='note'>The targets file has changed since this fit (its sha256 "
                   "differs from the one <code>calibrated.yaml</code> records): the observed "
                   "values and tolerances below are the current file's.</p>")
    out += ["<h3 id='calibration-residuals'>Fit to every target</h3>",
            "<p><i>residual / tolerance</i> is (posterior median &minus; observed) / tolerance: "
            "by how many tolerances the fitted model misses the observation. The tolerance "
            "carries the data's uncertainty and the model's noise at the calibration scale, so "
            "within &plusmn;1 (green) the model fits as closely as the figure can be trusted, "
            "between 1 and 2 (orange) it is near, beyond 2 (red) the fitted model misses the "
            "figure by more than the data and the noise explain. The 90&nbsp;% band is the "
            "5-95&nbsp;% range of the particles' measures (weighted): whether it reaches the "
            "observation says whether any well-supported parameter set does. Targets with "
            "weight 0 are checks: shown, not fitted.</p>",
            "<table><tr><th>target</th><th>observed</th><th>tolerance</th><th>weight</th>"
            "<th>posterior median</th><th>90% band</th><th>residual / tolerance</th>"
            "<th>source</th></tr>"]
    for r in fit.rows:
        check = " (check)" if r["weight"] <= 0 else ""
        out.append(f"<tr><td><code>{_e(r['target'])}</code>{check}</td><td class='num'>"
                   f"{_e(_fmt(r['observed']))}"
                   f"</td><td class='num'>{_e(_fmt(r['tolerance']))}</td><td class='num'>"
                   f"{r['weight']:g}</td><td class='num'>{_e(_fmt(r['median']))}</td>"
                   f"<td class='num band'>{_e(_fmt(r['low']))} &ndash; {_e(_fmt(r['high']))}"
                   "</td>"
                   f"<td class='num {band_class(r['z'])}'>{r['z']:+.2f}</td>"
                   f"<td class='src'>{_e(r['source'])}</td></tr>")
    for name in fit.missing:
        out.append(f"<tr><td><code>{_e(name)}</code></td><td colspan='7'>not in this posterior "
                   "(the target was added to the targets file after the fit)</td></tr>")
    out.append("</table>")
    if fit.extra:
        out.append("<p class='small'>The posterior also holds measures that are no longer "
                   "targets: " + ", ".join(f"<code>{_e(t)}</code>" for t in fit.extra)
                   + ".</p>")
    if fit.rows:
        if log:
            log("drawing the calibration fit")
        out.append(_figure(fit_figure(fit.rows), "Calibration fit",
                           "Each target: the observation &plusmn; its tolerance (orange band) "
                           "and the posterior median with its 5-95&nbsp;% band (blue).",
                           "calibration-fit", tight=False))
    out += ["<h3 id='calibration-parameters'>Parameters</h3>",
            "<p>Weighted posterior median and central 90&nbsp;% interval of every free "
            "parameter (final generation), with its prior from <code>"
            f"{_e(fit.priors_file.name if fit.priors_file else 'priors.yaml')}</code>.</p>",
            "<table><tr><th>key</th><th>prior</th><th>posterior median</th><th>90% interval"
            "</th><th>basis of the prior</th></tr>"]
    for p in fit.parameters():
        out.append(f"<tr><td><code>{_e(p['key'])}</code></td><td>"
                   f"{_e(p['prior'] or 'not in the priors file')}</td><td class='num'>"
                   f"{p['median']:.4g}</td><td class='num'>{p['low']:.4g} &ndash; "
                   f"{p['high']:.4g}</td><td class='src'>{_e(p['basis'])}</td></tr>")
    out.append("</table>")
    if fit.priors:
        if log:
            log("drawing the posterior marginals")
        out.append(_figure(marginals_figure(post, fit.priors), "Posterior marginals",
                           "Each parameter's weighted posterior histogram (final generation) "
                           "over its prior density (black).", "calibration-marginals",
                           tight=False))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def render_html(ds: Any, inputs: Sequence[str], command: str = "",
                log: Callable[[str], None] | None = None, title: str | None = None, *,
                posterior: Any = SHIPPED, calibration: bool = True) -> str:
    """The report of results ``ds`` as one HTML document (a string).

    Parameters
    ----------
    ds
        A run or an ensemble (:func:`povsim.run`, :func:`povsim.compare`, or read back with
        :func:`load_results`).
    inputs
        What the results came from (scenario files or a results file), listed under
        provenance.
    command
        The command line that made the report, listed under provenance.
    log
        Called with a one-line message per figure drawn.
    title
        The page title (default: ``"povsim report: "`` and the experiments' labels).
    posterior
        The calibration fit to show: a ``posterior.csv`` (or its directory), a
        :class:`~povsim.calibration.fit.CalibrationFit`, or ``"shipped"`` (the default): the
        posterior shipped with povsim, if any (the section then says plainly that there is none).
    calibration
        ``False`` leaves the calibration section out.

    Returns
    -------
    str
        A self-contained HTML document: the figures are embedded as PNG data URIs.

    Raises
    ------
    PovsimError
        ``posterior`` is missing, unreadable or not a posterior table.
    """
    from povsim.plotting.common import experiments

    fit = _load_fit(posterior) if calibration else None
    labels = [lab for lab, _ in experiments(ds)]
    title = title or f"povsim report: {', '.join(labels)}"
    figs = _figures(ds, log)
    obs_rows = ""
    try:
        from povsim.plotting import read_observations

        obs = read_observations()
        obs_rows = "".join(
            f"<tr><td>{_e(r.variable)}</td><td>{int(r.year)}</td><td class='num'>"
            f"{r.value:,.0f}</td><td>{_e(r.unit)}</td><td class='src'>{_e(r.file)}: "
            f"{_e(r.source)}</td></tr>" for r in obs.itertuples())
    except (OSError, KeyError, ValueError):
        obs_rows = ""
    nav = "".join(f"<li><a href='#{_e(a)}'>{_e(t)}</a></li>" for a, t, _ in figs)
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        ("<p class='small'>Agent-based simulation of Sichuan's 2015-2020 targeted poverty-"
         "alleviation campaign. Do the campaign's targets hold, when, where, with what "
         "probability, and which pathway did it?</p>"),
        "<nav><b>Contents</b><ul><li><a href='#targets'>Targets</a></li>" + nav +
        ("<li><a href='#calibration'>Calibration fit</a></li>" if calibration else "") +
        "<li><a href='#parameters'>Parameters and sources</a></li>"
        "<li><a href='#provenance'>Provenance</a></li></ul></nav>",
        "<h2 id='targets'>Targets</h2>", _target_tables(ds),
        "<h2 id='figures'>Figures</h2>",
    ]
    for anchor, t, body in figs:
        parts.append(f"<h3>{_e(t)}</h3>{body}")
    if obs_rows:
        parts.append("<h3 id='observations'>Observed figures of the hindcast</h3><table><tr>"
                     "<th>variable</th><th>year</th><th>value</th><th>unit</th><th>source</th>"
                     f"</tr>{obs_rows}</table>")
    if calibration:
        parts += ["<h2 id='calibration'>Calibration fit</h2>", _calibration(fit, log)]
    parts += [
        "<h2 id='parameters'>Parameters and their sources</h2>", _parameters(ds),
        "<h2 id='provenance'>Provenance</h2>", _provenance(ds, inputs, command),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def build_report(
    sources: Sequence[str | Path],
    output: str | Path,
    *,
    replicates: int = 5,
    seed: int | None = None,
    scale: int | None = None,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
    posterior: str | Path | None = None,
    calibration: bool = True,
) -> Path:
    """Write the HTML report of scenario files (run now) or of one stored results file.

    Parameters
    ----------
    sources
        Scenario YAML files (run with :func:`povsim.compare`: ``replicates`` runs each, common
        random numbers), or exactly one results file (``.nc`` or ``.zarr``; nothing is run).
    output
        The HTML file to write.
    replicates, seed, scale, workers
        For scenario files: replicates per scenario, root seed, ``population.scale``, worker
        processes (as for :func:`povsim.compare`).
    log
        Called with progress messages.
    command
        The command line recorded in the provenance (default: this process's).
    posterior
        The ``posterior.csv`` of the calibration fit to show (or its directory); ``None``: the
        one shipped with povsim (``calibration/posterior.csv``), if any.
    calibration
        ``False`` leaves the calibration section out (``--no-calibration``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    PovsimError
        Bad sources or output directory; a ``posterior`` that is missing, unreadable or not a
        posterior table (checked before anything is run).
    """
    srcs = [str(s) for s in sources]
    if not srcs:
        raise PovsimError("povsim report needs scenario files or one results file")
    out = Path(output)
    if not out.parent.exists():
        raise PovsimError(f"--output: directory {out.parent} does not exist")
    # read the fit first: a bad --posterior fails before any scenario runs
    fit = _load_fit(posterior) if calibration else None
    results = [s for s in srcs if _is_results(s)]
    if results:
        if len(srcs) > 1:
            raise PovsimError("povsim report takes scenario files or exactly one results file "
                              f"(.nc or .zarr), not both; got {', '.join(srcs)}")
        ds = load_results(results[0])
    else:
        if isinstance(replicates, bool) or int(replicates) < 1:
            raise PovsimError(f"--replicates must be at least 1, got {replicates!r}")
        from povsim.ensembles import compare

        if log:
            log(f"running {len(srcs)} scenario(s) x {replicates} replicates")
        ds = compare(srcs, replicates=int(replicates), seed=seed, scale=scale, workers=workers,
                     progress=False, log=log)
    cmd = command if command is not None else " ".join(["povsim", *sys.argv[1:]])
    text = render_html(ds, srcs, cmd, log, posterior=fit, calibration=calibration)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    """``povsim report``."""
    say = None if args.quiet else (lambda m: print(f"povsim: {m}", file=sys.stderr))
    path = build_report(args.sources, args.output, replicates=args.replicates, seed=args.seed,
                        scale=args.scale, workers=args.workers, log=say,
                        posterior=args.posterior, calibration=not args.no_calibration)
    if not args.quiet:
        print(f"povsim: wrote {path}", file=sys.stderr)
    return 0


def add_command(sub: Any) -> None:
    """Add ``report`` to the ``povsim`` sub-commands.

    Parameters
    ----------
    sub
        The sub-parsers object of the ``povsim`` parser (``ArgumentParser.add_subparsers()``).
    """
    r = sub.add_parser(
        "report", help="write one self-contained HTML report (targets, figures, parameters, "
                       "provenance)",
        description="Run scenario files side by side (or read one stored results file) and "
                    "write one HTML file with no external resource: the target table, the "
                    "figures, the calibration fit (the posterior shipped with povsim, or "
                    "--posterior FILE), every parameter with its source, and the provenance.")
    r.add_argument("sources", nargs="+", metavar="SCENARIO.yaml | RESULTS.nc",
                   help="scenario files (run now), or one results file (.nc or .zarr)")
    r.add_argument("--output", "-o", default="report.html", help="the HTML file to write")
    r.add_argument("--replicates", "-n", type=int, default=5, metavar="N",
                   help="runs per scenario (scenario files only; default 5)")
    r.add_argument("--seed", type=int, default=None, help="root seed (default: the scenario's)")
    r.add_argument("--scale", type=int, default=None, metavar="K",
                   help="simulate 1 in K households (population.scale)")
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (1: in this process)")
    cal = r.add_mutually_exclusive_group()
    cal.add_argument("--posterior", default=None, metavar="FILE",
                     help="the calibration fit to show: a posterior.csv written by povsim "
                          "calibrate (default: the one shipped with povsim, "
                          "calibration/posterior.csv, if any)")
    cal.add_argument("--no-calibration", action="store_true",
                     help="leave the calibration fit section out")
    r.add_argument("--quiet", "-q", action="store_true", help="no messages")
    r.set_defaults(func=cmd_report)
