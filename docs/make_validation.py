"""The validation page: the baseline's fit to the sourced 2015-2016 figures in ``calibration/``,
and the calibration's fit (the posterior shipped in ``calibration/posterior.csv``).

Run from anywhere with the environment povsim is installed in::

    python docs/make_validation.py                 # print the page (Markdown) to stdout
    python docs/make_validation.py --replicates 10 --scale 100 -o validation.md
    python docs/make_validation.py --posterior other/posterior.csv   # another fit's residuals

The docs build runs it (``docs/gen_pages.py``, at the defaults below), so the page always shows
the model as it is in the checkout being built, never a table typed by hand. Every observed
value is read from its row in ``calibration/`` (file, series, region, year); the model values
are the mean and the range over replicates of ``scenarios/baseline.yaml``, which use the seeds
``povsim.rng.replicate_seed(scenario seed, r)``. The calibration's residual table and fit figure
come from :mod:`povsim.calibration.fit` (the same as in ``povsim report``); without a shipped
posterior the page says so.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

import povsim
from povsim.rng import replicate_seed

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION = ROOT / "calibration"
BASELINE = ROOT / "scenarios" / "baseline.yaml"

#: defaults of the docs build: 1:10 is the baseline's own scale (scenarios/baseline.yaml), the
#: coarsest unbiased one (benchmarks/README.md); 3 replicates keep the build to ~20 s and show the
#: replicate spread
DEFAULT_SCALE = 10
DEFAULT_REPLICATES = 3


@dataclass(frozen=True)
class Observation:
    """One sourced figure and how to compute the same quantity from a run."""

    label: str
    file: str
    series: str
    region: str
    year: int
    unit: str  # "people", "share" (percent on the page), "villages", "counties"
    measure: str  # key of MEASURES


def _stock(ds: xr.Dataset, year: int) -> float:
    return float(ds["registered_poor"].sum("region").sel(year=year))


def _flow(name: str):
    def f(ds: xr.Dataset, year: int) -> float:
        return float(ds[name].sum("region").sel(year=year))

    return f


def _incidence(ds: xr.Dataset, year: int) -> float:
    reg = ds["registered_poor"].sum("region").sel(year=year)
    return float(reg / ds["rural_population"].sum("region").sel(year=year))


def _region_incidence(region: str):
    def f(ds: xr.Dataset, year: int) -> float:
        return float(ds["incidence"].sel(year=year, region=region))

    return f


def _villages_in_year(ds: xr.Dataset, year: int) -> float:
    cum = ds["villages_exited"].sum("region")
    return float(cum.sel(year=year) - cum.sel(year=year - 1))


def _counties_by(ds: xr.Dataset, year: int) -> float:
    return float(ds["counties_exited"].sum("region").sel(year=year))


def _inflow(ds: xr.Dataset, year: int) -> float:
    return _flow("returned")(ds, year) + _flow("new_poor")(ds, year)


MEASURES = {
    "stock": _stock,
    "exited": _flow("exited"),
    "inflow": _inflow,
    "incidence": _incidence,
    "incidence_tibetan": _region_incidence("tibetan_plateau"),
    "incidence_yi": _region_incidence("liangshan_yi"),
    "villages_in_year": _villages_in_year,
    "counties_by": _counties_by,
}

P = "sichuan_poor_population.csv"
OBSERVATIONS = [
    Observation(
        "registered poor at year end",
        P,
        "registered_poor_population_yearend",
        "Sichuan",
        2015,
        "people",
        "stock",
    ),
    Observation(
        "registered poor at year end",
        P,
        "registered_poor_population_yearend",
        "Sichuan",
        2016,
        "people",
        "stock",
    ),
    Observation(
        "people lifted out in the year",
        P,
        "people_lifted_out_derived_from_stock",
        "Sichuan",
        2015,
        "people",
        "exited",
    ),
    Observation(
        "people lifted out in the year",
        P,
        "people_lifted_out_reported",
        "Sichuan",
        2016,
        "people",
        "exited",
    ),
    Observation(
        "registered incidence at year end",
        P,
        "poverty_incidence_registered",
        "Sichuan",
        2015,
        "share",
        "incidence",
    ),
    Observation(
        "registered incidence at year end",
        P,
        "poverty_incidence_registered",
        "Sichuan",
        2016,
        "share",
        "incidence",
    ),
    Observation(
        "incidence, plateau Tibetan areas",
        P,
        "poverty_incidence",
        "Sichuan:Tibetan plateau (高原藏区)",
        2016,
        "share",
        "incidence_tibetan",
    ),
    Observation(
        "incidence, Liangshan Yi areas",
        P,
        "poverty_incidence",
        "Sichuan:Yi area (大小凉山彝区)",
        2016,
        "share",
        "incidence_yi",
    ),
    Observation(
        "poor villages exited in the year",
        "sichuan_village_exits.csv",
        "villages_exited",
        "Sichuan",
        2016,
        "villages",
        "villages_in_year",
    ),
    Observation(
        "poor counties exited by year end",
        "sichuan_county_exits.csv",
        "counties_exited_in_batch_year",
        "Sichuan",
        2016,
        "counties",
        "counties_by",
    ),
]


def observed(obs: Observation) -> tuple[float, str, str]:
    """The sourced value of ``obs`` (in the file's unit), its source and its confidence."""
    path = CALIBRATION / obs.file
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if (row["series"], row["region"], int(row["year"])) == (
                obs.series,
                obs.region,
                obs.year,
            ):
                return float(row["value"]), row["source"], row["confidence"]
    raise LookupError(f"{path}: no row {obs.series!r}, {obs.region!r}, {obs.year}")


def run_replicates(replicates: int, scale: int) -> list[xr.Dataset]:
    """Run the baseline ``replicates`` times at 1:``scale`` with the replicate seeds."""
    scn = povsim.load_scenario(BASELINE)
    return [
        povsim.run(scn, seed=replicate_seed(scn.seed, r), scale=scale) for r in range(replicates)
    ]


def _fmt(value: float, unit: str) -> str:
    if unit == "share":
        return f"{100 * value:.1f} %"
    if unit == "people":
        return f"{value / 1e6:.2f} M"
    return f"{value:,.0f}"


def _baseline_extends_calibration() -> bool:
    """Whether ``scenarios/baseline.yaml`` chains a ``calibrated.yaml`` (its ``extends``)."""
    import yaml

    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8")) or {}
    ext = data.get("extends") or []
    ext = [ext] if isinstance(ext, str) else ext
    return any("calibrated" in str(e) for e in ext)


def _wrap(text: str) -> str:
    """Let a long identifier break after its underscores."""
    return text.replace("_", "_<wbr>")


def calibration_section(posterior: str | Path | None = None) -> str:
    """The page's "calibration fit" section (Markdown): residual table and fit figure.

    ``posterior`` is a ``posterior.csv``; ``None`` means the one shipped with povsim
    (``calibration/posterior.csv``), and when there is none the section says so.
    """
    from povsim.calibration.fit import load_fit
    from povsim.calibration.report import _fmt, fit_figure

    fit = load_fit(posterior)
    if fit is None:
        return NO_FIT
    post = fit.posterior
    rows = []
    for r in fit.rows:
        name = _wrap(r["target"]) + (" (check)" if r["weight"] <= 0 else "")
        file, _, rest = r["source"].partition(": ")
        rows.append(
            f"| {name} | {_fmt(r['observed'])}<br>± {_fmt(r['tolerance'])} | {r['weight']:g} | "
            f"**{_fmt(r['median'])}**<br>{_fmt(r['low'])} – {_fmt(r['high'])} | "
            f"{r['z']:+.2f} | `{file}`<br>{_wrap(rest)} |"
        )
    rows += [f"| {_wrap(name)} | | | not in this posterior | | |" for name in fit.missing]
    buf = io.BytesIO()
    fit_figure(fit.rows).savefig(buf, format="png", dpi=90)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    h = fit.header
    uses = (
        "`scenarios/baseline.yaml` chains its `calibrated.yaml`, so the baseline's table above "
        "is the calibrated model"
        if _baseline_extends_calibration()
        else "`scenarios/baseline.yaml` does not chain `calibrated.yaml`, so the baseline's "
        "table above is the model at its sourced defaults, not the calibrated one"
    )
    changed = (
        "\n\n!!! note\n    The targets file has changed since this fit (its sha256 differs from "
        "the one `calibrated.yaml` records): the observed values and tolerances are the current "
        "file's.\n"
        if fit.targets_changed()
        else ""
    )
    what = (
        "The posterior shipped with povsim (`calibration/posterior.csv`; its overlay of posterior "
        "medians is `calibration/calibrated.yaml`)"
        if posterior is None
        else f"The posterior `{fit.path}`"
    )
    return FIT.format(
        what=what,
        n_keys=len(post.keys),
        n_targets=len(fit.rows) + len(fit.missing),
        particles=len(post.final),
        generations=post.generations,
        epsilon=f"{post.epsilon:.4g}",
        date=h.get("date", "date not recorded"),
        settings=h.get("settings", "not recorded"),
        uses=uses,
        changed=changed,
        table="\n".join(rows),
        png=png,
    )


def render(
    replicates: int = DEFAULT_REPLICATES,
    scale: int = DEFAULT_SCALE,
    posterior: str | Path | None = None,
) -> str:
    """The validation page in Markdown, from ``replicates`` fresh runs at 1:``scale`` and the
    calibration's posterior (``posterior``; default: the one shipped with povsim, if any)."""
    calibration = calibration_section(posterior)
    from povsim.calibration.fit import shipped_posterior

    fitted = posterior is not None or shipped_posterior() is not None
    t0 = time.perf_counter()
    runs = run_replicates(replicates, scale)
    elapsed = time.perf_counter() - t0
    rows = []
    for obs in OBSERVATIONS:
        value, _source, confidence = observed(obs)
        target = value / 100 if obs.unit == "share" else value
        sims = np.array([MEASURES[obs.measure](ds, obs.year) for ds in runs])
        mean = float(sims.mean())
        off = (mean - target) / target if target else float("nan")
        rows.append(
            f"| {obs.label} | {obs.year} | {_fmt(target, obs.unit)} | **{_fmt(mean, obs.unit)}** "
            f"<br>{_fmt(sims.min(), obs.unit)} – {_fmt(sims.max(), obs.unit)} | {off:+.0%} "
            f"| `{obs.file}`<br>{obs.series.replace('_', '_<wbr>')} ({confidence}) |"
        )
    inflow = np.array([_inflow(ds, 2016) for ds in runs])
    ds0 = runs[0]
    return PAGE.format(
        table="\n".join(rows),
        replicates=replicates,
        scale=scale,
        last=replicates - 1,
        version=ds0.attrs.get("povsim_version", "?"),
        sha=str(ds0.attrs.get("scenario_sha256", "?"))[:12],
        households=int(ds0.attrs.get("n_households", 0)),
        elapsed=elapsed,
        inflow=f"{inflow.mean() / 1e6:.2f} M",
        status=STATUS_FIT if fitted else STATUS_NO_FIT,
        calibration=calibration,
    )


PAGE = """\
# Validation: how well the baseline fits 2015–2016

{status}

## The baseline's replicate fit

The table compares `scenarios/baseline.yaml` with every sourced figure of the calibration window
that the model produces. It was made by `docs/make_validation.py` during the build of this site,
from {replicates} fresh runs at 1:{scale} (about {households:,} simulated households each;
replicates 0–{last} of the scenario's seed, `povsim.rng.replicate_seed(seed, r)`; povsim {version}, scenario sha256 `{sha}…`; {elapsed:.0f} s), so it shows the
model as it is in the code that built these pages. *Model* is the mean over the replicates
(in bold) and below it the lowest and highest replicate, *off* the relative difference of the mean from the
observation.

| quantity | year | observed | model<br>range | off | source in `calibration/` (confidence) |
|---|---|---|---|---|---|
{table}

The regional incidences compare the model's region (all its counties' registered poor over
their rural population) with figures whose sources define the area slightly differently (the
plateau figure covers the Tibetan areas' counties; the Yi figure the Greater and Lesser Liangshan
Yi areas), so read them as a rough check of the regional depth of poverty.

Not in the table: the end-2014 stock (4,976,500 people, the seed's figure) is an *input* — the
synthetic population starts on it exactly at 1:1 and within rounding at coarser scales — and the
2013 figures precede the model's calendar (it starts in January 2015). Regional stocks of 2013
set the regional split of the starting population (`calibration/regions.csv`), so they are inputs
too.

{calibration}

## Where the model is known to be off

The misses above are real and have known causes, listed in the open validity issue and
summarised in the [model description](model.md#known-limitations):

- **The stock falls too slowly at first and the flows are too large.** In 2016 the sourced
  figures leave almost no room for people entering the register (3.80 M − 1.078 M lifted out =
  2.72 M), but the model registers about {inflow} returns and new poor that year, while its exits
  run above the sourced 1.078 M.
- **Relocation sets the pace and is built against the seed**: the household's contribution and
  moving losses are charged to the year's income, so a household that has just moved fails the
  income test; the model also starts with more willing hazard-zone households than the sourced
  relocation total.
- **Dibao pays exactly the gap to the line**, so enrolled households sit on it and any bill
  pushes them back below; most returns are dibao households.
- **Counties within a region are identical**, so they exit together, region by region.
- **Results depend on the scale** (village and county exits most): compare runs at one scale
  only, and prefer 1:10 or finer for county and village counts.
"""


STATUS_NO_FIT = """\
!!! warning "The baseline is not calibrated"
    The model's defaults come from published figures and stated assumptions, one by one
    ([scenario keys](parameters.md)); nothing has been fitted to the outcomes below, and this
    povsim ships no calibration (no `calibration/posterior.csv`). `povsim calibrate`
    ([calibration](calibration.md), likelihood-free ABC-SMC on the 2013–2016 figures) makes one;
    until one is shipped, read the baseline's numbers as a mechanism illustration, not as an
    estimate."""

STATUS_FIT = """\
!!! note "Two fits on this page"
    The first table is `scenarios/baseline.yaml` run now, against every sourced figure of
    2015–2016 it produces; [the calibration's fit](#the-calibrations-fit) below is the ABC-SMC
    posterior (made by `povsim calibrate`, [calibration](calibration.md)) against the targets it
    was fitted to."""

NO_FIT = """\
## The calibration's fit

No posterior is shipped with this povsim (`calibration/posterior.csv`, written by
`povsim calibrate`; see [calibration](calibration.md)), so there is no calibration fit to show:
nothing has been fitted to the observations. `povsim report ... --posterior FILE` shows the fit
of a posterior you made."""

FIT = """\
## The calibration's fit

{what}: an ABC-SMC fit ({date}) of {n_keys} free parameters to the
{n_targets} targets of `calibration/targets.yaml`, {particles} particles in the last of
{generations} generations, final epsilon {epsilon} (tolerance units; settings: {settings}).
{uses}.{changed}

*Posterior* is the weighted median of the final generation's simulated measure (in bold) and
below it the 90 % band (5–95 % of the particles, weighted); each particle's measure is the mean
of its replicates. **Residual / tolerance** is (posterior median − observed) / tolerance: by
how many tolerances the fitted model misses the figure. The tolerance carries the data's
uncertainty and the model's noise at the calibration scale, so within ±1 the model fits as
closely as the figure can be trusted, and beyond ±2 it misses by more than the data and the
noise explain. Targets marked *check* have weight 0: shown, not fitted. The same table is in
every `povsim report`.

| target | observed<br>± tolerance | weight | posterior<br>90 % band | residual / tolerance | source in `calibration/` |
|---|---|---|---|---|---|
{table}

![The posterior band of every target against its observation ± tolerance](data:image/png;base64,{png})"""


def main(argv: list[str] | None = None) -> int:
    """Command line: print or write the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES)
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument(
        "--posterior", type=Path, default=None, help="a posterior.csv (default: the shipped one)"
    )
    args = parser.parse_args(argv)
    text = render(args.replicates, args.scale, args.posterior)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
