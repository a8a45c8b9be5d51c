"""The validation page: the baseline's fit to the sourced 2015-2016 figures in ``calibration/``.

Run from anywhere with the environment povsim is installed in::

    python docs/make_validation.py                 # print the page (Markdown) to stdout
    python docs/make_validation.py --replicates 10 --scale 100 -o validation.md

The docs build runs it (``docs/gen_pages.py``, at the defaults below), so the page always shows
the model as it is in the checkout being built, never a table typed by hand. Every observed
value is read from its row in ``calibration/`` (file, series, region, year); the model values
are the mean and the range over replicates of ``scenarios/baseline.yaml``, which use the seeds
``povsim.rng.replicate_seed(scenario seed, r)``.
"""

from __future__ import annotations

import argparse
import csv
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

#: defaults of the docs build: 1:100 is the baseline's own scale (scenarios/baseline.yaml);
#: 5 replicates keep the build to a few seconds and show the replicate spread
DEFAULT_SCALE = 100
DEFAULT_REPLICATES = 5


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


def render(replicates: int = DEFAULT_REPLICATES, scale: int = DEFAULT_SCALE) -> str:
    """The validation page in Markdown, from ``replicates`` fresh runs at 1:``scale``."""
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
    )


PAGE = """\
# Validation: how well the baseline fits 2015–2016

!!! warning "The baseline is not calibrated yet"
    The model's defaults come from published figures and stated assumptions, one by one
    ([scenario keys](parameters.md)); nothing has been fitted to the outcomes below. **Calibration**
    (`povsim calibrate`, likelihood-free ABC-SMC on the 2013–2016 figures) and the **hindcast of
    2017–2020** (`povsim hindcast`, judged against official outcomes the model never saw) are
    planned and do not exist yet. Until then, read the baseline's numbers as a mechanism
    illustration, not as an estimate.

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


def main(argv: list[str] | None = None) -> int:
    """Command line: print or write the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES)
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    text = render(args.replicates, args.scale)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
