"""Reading the calibration tables the population is built from.

The tables ship with povsim (``calibration/`` in the repository, ``povsim.calibration_data`` when
installed). A scenario names them as ``calibration:regions.csv`` (the shipped file) or as a path
relative to the scenario file.
"""

from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from povsim.errors import DataError, ScenarioError
from povsim.scenario.schema import REGIONS

if TYPE_CHECKING:
    from povsim.scenario.schema import Scenario

__all__ = [
    "REGION_SERIES",
    "CountyRow",
    "InputTables",
    "RegionTable",
    "check_inputs",
    "read_counties",
    "read_regions",
    "resolve_data_path",
]

#: series of the regions table the population is built from (one row per region each)
REGION_SERIES = (
    "registered_poor", "rural_population", "poor_villages", "household_size", "hazard_zone_share",
)


def resolve_data_path(name: str, base_dir: str | Path | None = None) -> Path:
    """Path of a data file named in a scenario (``calibration:<file>`` or a relative path)."""
    if name.startswith("calibration:"):
        fname = name.split(":", 1)[1]
        res = importlib.resources.files("povsim.calibration_data") / fname
        path = Path(str(res))
    else:
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
    if not path.is_file():
        raise DataError(f"data file {name!r} not found (looked at {path})")
    return path


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            return list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None


@dataclass(frozen=True)
class RegionTable:
    """Region-level figures: ``values[series][region]`` (see calibration/regions.csv)."""

    values: dict[str, dict[str, float]]
    sources: dict[str, dict[str, str]]

    def get(self, series: str, region: str) -> float:
        """One figure; :class:`DataError` naming the series and region if absent."""
        try:
            return self.values[series][region]
        except KeyError:
            raise DataError(f"regions table has no {series!r} row for region {region!r}") from None


def read_regions(path: Path) -> RegionTable:
    """Read a tidy ``series,region,year,value,unit,source,confidence`` region table."""
    rows = _read_csv(path, ("series", "region", "value", "source"))
    values: dict[str, dict[str, float]] = {}
    sources: dict[str, dict[str, str]] = {}
    for i, row in enumerate(rows, start=2):
        region = row["region"]
        if region not in REGIONS:
            raise DataError(f"{path}:{i}: unknown region {region!r}; known: {', '.join(REGIONS)}")
        if not row["source"].strip():
            raise DataError(f"{path}:{i}: row {row['series']}/{region} has no source")
        try:
            value = float(row["value"])
        except ValueError:
            raise DataError(f"{path}:{i}: value {row['value']!r} is not a number") from None
        values.setdefault(row["series"], {})[region] = value
        sources.setdefault(row["series"], {})[region] = row["source"]
    return RegionTable(values, sources)


@dataclass(frozen=True)
class CountyRow:
    """One county of calibration/counties.csv.

    ``registered_poor`` is the county's sourced registered poor in the base year (persons) or
    ``None`` where the sources give none (the county then gets a drawn share of its region's
    total: ``population.county_heterogeneity``).
    """

    name: str
    prefecture: str
    region: str
    poor: bool
    registered_poor: float | None = None


def read_counties(path: Path) -> list[CountyRow]:
    """Read the county list (88 poor counties and the other counties with poverty tasks)."""
    rows = _read_csv(path, ("county", "prefecture", "region", "poor_county"))
    if rows and "poverty_weight" in rows[0]:
        raise DataError(
            f"{path}: column poverty_weight is no longer read (it was an assumption tied to the "
            "2016 exit batch, an outcome); give a county's sourced registered poor in "
            "registered_poor (persons, or empty), the others differ by "
            "population.county_heterogeneity")
    out: list[CountyRow] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):
        if row["region"] not in REGIONS:
            raise DataError(f"{path}:{i}: unknown region {row['region']!r}")
        if row["county"] in seen:
            raise DataError(f"{path}:{i}: county {row['county']!r} listed twice")
        seen.add(row["county"])
        try:
            poor = bool(int(row["poor_county"]))
        except ValueError:
            raise DataError(f"{path}:{i}: poor_county must be 0 or 1, found "
                            f"{row['poor_county']!r}") from None
        text = (row.get("registered_poor") or "").strip()
        reg = None
        if text:
            try:
                reg = float(text)
            except ValueError:
                raise DataError(f"{path}:{i}: registered_poor must be a number of persons or "
                                f"empty, found {text!r}") from None
            if not np.isfinite(reg) or reg <= 0:
                raise DataError(f"{path}:{i}: registered_poor must be > 0 persons or empty, "
                                f"found {text!r}")
        out.append(CountyRow(row["county"], row["prefecture"], row["region"], poor, reg))
    # households must be sorted by county and counties grouped by region
    out.sort(key=lambda r: REGIONS.index(r.region))
    return out


@dataclass(frozen=True)
class InputTables:
    """The data a scenario's population is built from, read and checked by :func:`check_inputs`."""

    regions: RegionTable
    counties: list[CountyRow]


def check_inputs(
    scenario: Scenario, base_dir: str | Path | None = None, *, file: str | None = None
) -> InputTables:
    """Read the data files a scenario names and check the places it names against them.

    ``povsim validate`` and ``povsim run`` (before simulating) call this, and the population is
    built from what it returns, so a scenario that validates finds its data when it runs.

    Parameters
    ----------
    scenario
        A validated scenario.
    base_dir
        Directory that relative data-file paths are resolved against (the scenario's).
    file
        The scenario file, named in the messages.

    Returns
    -------
    InputTables
        The regions and counties tables.

    Raises
    ------
    ScenarioError
        A data file named by ``population.regions_file`` or ``population.counties_file`` is
        missing, unreadable or malformed, lacks a series for a region, or a disaster event
        names a county the counties file does not list. The message names the scenario file,
        the key and the data file.
    """
    pop = scenario.population

    def read(key: str, name: str, reader):  # type: ignore[no-untyped-def]
        try:
            return reader(resolve_data_path(name, base_dir))
        except DataError as exc:
            raise ScenarioError(f"cannot use the data file {name!r}: {exc}", file=file,
                                key=f"population.{key}") from None

    regions = read("regions_file", pop.regions_file, read_regions)
    counties = read("counties_file", pop.counties_file, read_counties)
    for series in REGION_SERIES:
        missing = [r for r in REGIONS if r not in regions.values.get(series, {})]
        if missing:
            raise ScenarioError(
                f"the data file {pop.regions_file!r} has no {series!r} row for "
                f"{', '.join(missing)}", file=file, key="population.regions_file",
                expected=f"one {series!r} row per region")
    names = {c.name for c in counties}
    example = counties[0].name if counties else "a county name"
    for i, event in enumerate(scenario.shocks.disasters.events):
        for j, county in enumerate(event.counties):
            if county not in names:
                raise ScenarioError(
                    f"unknown county {county!r}", file=file,
                    key=f"shocks.disasters.events.{i}.counties.{j}",
                    expected=f"a county of {pop.counties_file} (e.g. {example})")
    return InputTables(regions, counties)
