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

from povsim.errors import DataError
from povsim.scenario.schema import REGIONS

__all__ = ["CountyRow", "RegionTable", "read_counties", "read_regions", "resolve_data_path"]


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
    """One county of calibration/counties.csv."""

    name: str
    prefecture: str
    region: str
    poor: bool
    poverty_weight: float


def read_counties(path: Path) -> list[CountyRow]:
    """Read the county list (88 poor counties and the other counties with poverty tasks)."""
    rows = _read_csv(path, ("county", "prefecture", "region", "poor_county", "poverty_weight"))
    out: list[CountyRow] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):
        if row["region"] not in REGIONS:
            raise DataError(f"{path}:{i}: unknown region {row['region']!r}")
        if row["county"] in seen:
            raise DataError(f"{path}:{i}: county {row['county']!r} listed twice")
        seen.add(row["county"])
        try:
            weight = float(row["poverty_weight"])
            poor = bool(int(row["poor_county"]))
        except ValueError:
            raise DataError(f"{path}:{i}: poor_county/poverty_weight must be numbers") from None
        if weight <= 0:
            raise DataError(f"{path}:{i}: poverty_weight must be > 0, found {weight}")
        out.append(CountyRow(row["county"], row["prefecture"], row["region"], poor, weight))
    # households must be sorted by county and counties grouped by region
    out.sort(key=lambda r: REGIONS.index(r.region))
    return out
