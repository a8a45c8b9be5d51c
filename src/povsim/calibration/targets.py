"""Calibration targets: observations from ``calibration/``, and the model measures they compare to.

A *measure* is a function of the result :class:`xarray.Dataset` of :func:`povsim.run` returning
one number (``registered_poor_yearend(ds, year=2016)``). Measures live in a small registry
(:data:`MEASURES`, :func:`register_measure`); when the engine renames or adds variables, only the
measure changes, never the targets file or the fit.

A targets file (``calibration/targets.yaml``) lists every observation the fit uses::

    data_dir: .                     # where the source CSV files are (relative to this file)
    targets:
      - name: registered_poor_2016
        measure: registered_poor_yearend
        args: {year: 2016}
        observed: 2720000
        tolerance: 54400
        weight: 1.0
        source: {file: sichuan_poor_population.csv, series: registered_poor_population_yearend,
                 region: Sichuan, year: 2016}
        why: "..."
    not_used:                       # observations deliberately left out, each with its reason
      - source: {...}
        why: "..."

Loading checks the schema (pydantic), that every measure is registered and takes the given
arguments, and that every ``source`` row exists in its file with ``value * factor == observed``
(``factor`` converts e.g. percent to a fraction). Errors name the file, the key and what was
expected.

Some measures need a quantity the standard Dataset does not hold (the illness-cause share of the
register); they declare an *extra output* (:data:`EXTRA_OUTPUTS`) which the calibration's runs
record through :func:`povsim.registry.register_output` only while they run.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import math
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from povsim.errors import PovsimError, ScenarioError

from .priors import validation_error

__all__ = ["EXTRA_OUTPUTS", "MEASURES", "Measure", "Target", "TargetSet", "load_targets",
           "recording_extras", "register_measure", "targets_from_mapping"]


# --------------------------------------------------------------------------------------------
# measures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A registered measure: ``func(ds, **args) -> float``, its unit and description."""

    name: str
    func: Callable[..., float]
    units: str
    description: str
    needs: tuple[str, ...] = ()

    def __call__(self, ds: xr.Dataset, **args: Any) -> float:
        return float(self.func(ds, **args))

    def check_args(self, args: Mapping[str, Any]) -> None:
        """Raise ``TypeError`` when ``args`` do not fit the function's keyword arguments."""
        inspect.signature(self.func).bind(None, **args)


#: name -> Measure
MEASURES: dict[str, Measure] = {}

#: name -> ``func(model)`` returning ``{variable: (dims, values, attrs)}`` (see
#: :func:`povsim.registry.register_output`); recorded only in calibration runs
EXTRA_OUTPUTS: dict[str, Callable[..., Any]] = {}


def register_measure(name: str, func: Callable[..., float], *, units: str, description: str,
                     needs: tuple[str, ...] = (), replace: bool = False) -> None:
    """Register a measure under ``name``.

    Parameters
    ----------
    name
        What a targets file writes under ``measure:``.
    func
        ``func(ds, **args) -> float``; ``ds`` is one run's Dataset.
    units, description
        Shown in the report.
    needs
        Names in :data:`EXTRA_OUTPUTS` that runs must record for this measure.
    replace
        Allow replacing a registered measure.
    """
    if name in MEASURES and not replace:
        raise ValueError(f"a measure named {name!r} is already registered")
    for n in needs:
        if n not in EXTRA_OUTPUTS:
            raise ValueError(f"measure {name!r} needs the unknown extra output {n!r}")
    MEASURES[name] = Measure(name, func, units, description, tuple(needs))


def _year(ds: xr.Dataset, var: str, year: int) -> xr.DataArray:
    if var not in ds:
        raise PovsimError(f"the run's Dataset has no variable {var!r} (needed by a calibration "
                          "measure)")
    years = [int(y) for y in ds["year"].values]
    if year not in years:
        raise PovsimError(f"the run has no year {year} (it has {years[0]}-{years[-1]})")
    return ds[var].sel(year=year)


def _region(da: xr.DataArray, region: str | None) -> float:
    if region is None:
        return float(da.sum())
    regions = [str(r) for r in da["region"].values]
    if region not in regions:
        raise PovsimError(f"unknown region {region!r}; known: {', '.join(regions)}")
    return float(da.sel(region=region))


def registered_poor_yearend(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """Registered poor (persons) at the end of ``year`` (the base year is the starting stock)."""
    return _region(_year(ds, "registered_poor", year), region)


def exited_persons(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """People who exited the register during ``year`` (lifted out, incl. review removals)."""
    return _region(_year(ds, "exited", year), region)


def lifted_out_persons(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """People lifted out during ``year``: exits less the review's removals of the wrongly
    registered (who were never lifted out)."""
    return (_region(_year(ds, "exited", year), region)
            - _region(_year(ds, "exited_by_review", year), region))


def inflow_persons(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """People entering the register during ``year``: returns plus new poor."""
    return (_region(_year(ds, "returned", year), region)
            + _region(_year(ds, "new_poor", year), region))


def _cumulative_flow(ds: xr.Dataset, var: str, year: int, region: str | None) -> float:
    now = _region(_year(ds, var, year), region)
    years = [int(y) for y in ds["year"].values]
    before = _region(_year(ds, var, year - 1), region) if year - 1 in years else 0.0
    return now - (0.0 if math.isnan(before) else before)


def counties_exited(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """Poor counties that exited during ``year`` (cumulative count, differenced)."""
    return _cumulative_flow(ds, "counties_exited", year, region)


def villages_exited(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """Poor villages that exited during ``year`` (cumulative count, differenced)."""
    return _cumulative_flow(ds, "villages_exited", year, region)


def incidence(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """Registered poor / rural population at the end of ``year`` (a fraction)."""
    return (_region(_year(ds, "registered_poor", year), region)
            / max(_region(_year(ds, "rural_population", year), region), 1.0))


def registered_mean_income(ds: xr.Dataset, year: int, region: str | None = None) -> float:
    """Mean per-capita net income of the registered poor at the end of ``year`` (yuan)."""
    inc = _year(ds, "registered_mean_income", year)
    reg = _year(ds, "registered_poor", year)
    if region is not None:
        return _region(inc, region)
    w = reg.values.astype(float)
    v = inc.values.astype(float)
    ok = np.isfinite(v) & (w > 0)
    return float((v[ok] * w[ok]).sum() / max(w[ok].sum(), 1e-9))


def poor_county_income_growth(ds: xr.Dataset, year: int) -> float:
    """Nominal growth of the mean per-capita income in the 88 poor counties from ``year - 1``."""
    now = float(_year(ds, "poor_county_mean_income", year))
    before = float(_year(ds, "poor_county_mean_income", year - 1))
    return now / before - 1.0


def _illness_output(model: Any) -> dict[str, Any]:
    """People on the register whose household is poor through illness (see the measure)."""
    from povsim.households import CAUSES

    hh = model.households
    reg = np.asarray(hh.registered, dtype=bool)
    cause = np.asarray(hh.cause)
    ill = cause == CAUSES.index("illness")
    chronic = getattr(hh, "chronic", None)
    if chronic is not None:
        ill = ill | ((cause < 0) & (np.asarray(chronic) > 0))
    size = np.asarray(hh.size, dtype=np.float64)
    w = float(model.weight)
    return {"calibration_registered_ill": ((), np.array(float((size * (reg & ill)).sum()) * w),
                                           {"units": "persons",
                                            "description": "registered poor people poor "
                                                           "through illness"})}


EXTRA_OUTPUTS["illness_registered"] = _illness_output


def illness_cause_share(ds: xr.Dataset, year: int) -> float:
    """Share of registered poor people poor through illness at the end of ``year``.

    A household counts when its cause recorded at registration is illness or, for households
    registered during the run (which carry no cause code), when it has a chronically ill member.
    """
    ill = float(_year(ds, "calibration_registered_ill", year))
    reg = float(_year(ds, "registered_poor", year).sum())
    return ill / max(reg, 1.0)


for _name, _func, _units, _needs in (
    ("registered_poor_yearend", registered_poor_yearend, "persons", ()),
    ("exited_persons", exited_persons, "persons", ()),
    ("lifted_out_persons", lifted_out_persons, "persons", ()),
    ("inflow_persons", inflow_persons, "persons", ()),
    ("counties_exited", counties_exited, "counties", ()),
    ("villages_exited", villages_exited, "villages", ()),
    ("incidence", incidence, "1", ()),
    ("registered_mean_income", registered_mean_income, "yuan/person/year", ()),
    ("poor_county_income_growth", poor_county_income_growth, "1/year", ()),
    ("illness_cause_share", illness_cause_share, "1", ("illness_registered",)),
):
    register_measure(_name, _func, units=_units,
                     description=(_func.__doc__ or "").strip().splitlines()[0], needs=_needs)


@contextmanager
def recording_extras(names: set[str] | frozenset[str]) -> Iterator[None]:
    """Record the named extra outputs in the runs made inside this block."""
    from povsim import registry

    added = []
    try:
        for n in sorted(names):
            key = f"calibration_{n}"
            if key not in registry.OUTPUTS:
                registry.register_output(key, EXTRA_OUTPUTS[n])
                added.append(key)
        yield
    finally:
        for key in added:
            registry.unregister("output", key)


# --------------------------------------------------------------------------------------------
# the targets file
# --------------------------------------------------------------------------------------------


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(min_length=1)
    series: str = Field(min_length=1)
    region: str = Field(min_length=1)
    year: int
    factor: float = 1.0


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    measure: str
    args: dict[str, Any] = Field(default_factory=dict)
    observed: float
    tolerance: float = Field(gt=0)
    weight: float = Field(ge=0)
    source: _Source
    why: str = Field(min_length=1)


class _Unused(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: _Source
    why: str = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    data_dir: str = "."
    targets: list[_Target] = Field(min_length=1)
    not_used: list[_Unused] = Field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """One observation and the measure that the model compares to it.

    ``distance term = weight * |simulated - observed| / tolerance``.

    Attributes
    ----------
    name
        The target's name (unique in its file).
    measure
        The name of the measure computed on a run (a key of ``MEASURES``).
    args
        The measure's arguments (e.g. the year).
    observed
        The observed value, in the measure's unit.
    tolerance
        The difference counted as one unit of distance (same unit).
    weight
        Weight of the term in the distance; ``0``: shown as a check, not fitted.
    source
        The data row the observation comes from (``file``, ``series``, ``region``, ``year``).
    why
        Why the target is there (and why its tolerance).
    """

    name: str
    measure: str
    args: Mapping[str, Any]
    observed: float
    tolerance: float
    weight: float
    source: Mapping[str, Any]
    why: str

    def simulate(self, ds: xr.Dataset) -> float:
        """This target's measure on one run's Dataset."""
        return MEASURES[self.measure](ds, **dict(self.args))

    @property
    def source_label(self) -> str:
        s = self.source
        return f"{s['file']}: {s['series']} {s['region']} {s['year']}"


@dataclass(frozen=True)
class TargetSet:
    """The validated contents of a targets file.

    Attributes
    ----------
    path
        The targets file.
    targets
        Its targets, in file order.
    not_used
        The entries listed as not used, with the reason (kept for the report).
    data_files
        ``{file path: sha256}`` of every data file a target or an unused entry cites.
    """

    path: Path
    targets: tuple[Target, ...]
    not_used: tuple[Mapping[str, Any], ...] = ()
    data_files: Mapping[str, str] = field(default_factory=dict)
    """``{file path: sha256}`` of every data file a target or an unused entry cites."""

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def fitted(self) -> tuple[Target, ...]:
        """The targets with a positive weight (the others are shown as checks)."""
        return tuple(t for t in self.targets if t.weight > 0)

    def needs(self) -> frozenset[str]:
        """Extra outputs the runs must record for these targets."""
        return frozenset(n for t in self.targets for n in MEASURES[t.measure].needs)

    def observed(self) -> dict[str, float]:
        return {t.name: t.observed for t in self.targets}

    def summarize(self, ds: xr.Dataset) -> dict[str, float]:
        """Every target's measure on one run: ``{target name: value}``."""
        return {t.name: t.simulate(ds) for t in self.targets}

    def distance(self, sim: Mapping[str, float]) -> float:
        """Weighted sum of ``|sim - obs| / tolerance`` over the fitted targets."""
        total = 0.0
        for t in self.fitted:
            v = float(sim[t.name])
            if not math.isfinite(v):
                return math.inf
            total += t.weight * abs(v - t.observed) / t.tolerance
        return total


def _read_rows(path: Path, file: str, key: str) -> list[dict[str, str]]:
    if not path.is_file():
        raise ScenarioError(f"data file not found: {path}", file=file, key=key)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def targets_from_mapping(data: Any, file: str = "<targets>", base_dir: Path | None = None
                         ) -> TargetSet:
    """Validate a targets mapping (as read from YAML) against the measures and the data files.

    Raises
    ------
    ScenarioError
        Naming ``file``, the key path (``targets.3.source.year``) and what was expected.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError("a targets file is a mapping with a 'targets:' list, found "
                            f"{type(data).__name__}", file=file)
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, file) from None
    base = (base_dir or Path.cwd()) / parsed.data_dir
    cache: dict[str, list[dict[str, str]]] = {}
    hashes: dict[str, str] = {}

    def row_value(src: _Source, key: str) -> float:
        path = base / src.file
        if src.file not in cache:
            cache[src.file] = _read_rows(path, file, f"{key}.file")
            hashes[str(path.resolve())] = _sha256(path)
        rows = [r for r in cache[src.file] if r.get("series") == src.series
                and r.get("region") == src.region and str(r.get("year")) == str(src.year)]
        if not rows:
            raise ScenarioError(f"no row series={src.series!r} region={src.region!r} "
                                f"year={src.year} in {path}", file=file, key=key)
        try:
            return float(rows[0]["value"])
        except (KeyError, ValueError):
            raise ScenarioError(f"the row's value {rows[0].get('value')!r} in {path} is not a "
                                "number", file=file, key=key) from None

    names: set[str] = set()
    out = []
    for i, t in enumerate(parsed.targets):
        k = f"targets.{i}"
        if t.name in names:
            raise ScenarioError(f"two targets are named {t.name!r}", file=file, key=f"{k}.name")
        names.add(t.name)
        if t.measure not in MEASURES:
            raise ScenarioError(f"unknown measure {t.measure!r}", file=file, key=f"{k}.measure",
                                expected="one of " + ", ".join(sorted(MEASURES)))
        try:
            MEASURES[t.measure].check_args(t.args)
        except TypeError as exc:
            sig = str(inspect.signature(MEASURES[t.measure].func)).replace("(ds: 'xr.Dataset', ",
                                                                          "(")
            raise ScenarioError(f"arguments do not fit measure {t.measure}: {exc}", file=file,
                                key=f"{k}.args", expected=f"{t.measure}{sig}") from None
        value = row_value(t.source, f"{k}.source") * t.source.factor
        if not math.isclose(value, t.observed, rel_tol=1e-6, abs_tol=1e-9):
            raise ScenarioError(
                f"observed {t.observed:g} differs from the source row ({value:g} = value x "
                f"factor {t.source.factor:g})", file=file, key=f"{k}.observed",
                expected=f"{value:g}")
        out.append(Target(t.name, t.measure, dict(t.args), t.observed, t.tolerance, t.weight,
                          t.source.model_dump(), t.why))
    unused = []
    for i, u in enumerate(parsed.not_used):
        row_value(u.source, f"not_used.{i}.source")
        unused.append({"source": u.source.model_dump(), "why": u.why})
    if not any(t.weight > 0 for t in out):
        raise ScenarioError("every target has weight 0: nothing to fit", file=file,
                            key="targets", expected="at least one weight > 0")
    return TargetSet(path=Path(file), targets=tuple(out), not_used=tuple(unused),
                     data_files=hashes)


def load_targets(path: str | Path) -> TargetSet:
    """Read and validate a targets file (see the module docstring).

    Parameters
    ----------
    path
        The YAML file; its ``data_dir`` (default ``.``) is relative to the file's directory.

    Returns
    -------
    TargetSet
        The validated targets.

    Raises
    ------
    ScenarioError
        The file is missing, not YAML, or a target is invalid (unknown measure, wrong
        arguments, a source row that does not exist or disagrees with ``observed``).
    """
    from povsim.calibration.priors import _read_yaml

    path = Path(path)
    return targets_from_mapping(_read_yaml(path), str(path), path.resolve().parent)
