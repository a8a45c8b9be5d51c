"""The ensemble store: a zarr directory that receives one region per run as each run finishes.

Layout (zarr format 3, no consolidated metadata)::

    STORE.zarr/              root group: the first *plan* (e.g. the scenarios of a comparison)
        registered_poor      (experiment, replicate, year, region), one chunk per run
        ...                  every variable of a run, with (experiment, replicate) in front
        done                 (experiment, replicate) int8, one chunk per run: 1 = stored
        knockouts/           a further plan, if any (same layout), e.g. pathways switched off

The store is created atomically (written under ``STORE.zarr.tmp`` and renamed) when the first
run finishes, from that run's structure. Each later run writes its chunks and *then* its
``done`` flag; zarr writes every chunk to a temporary file and renames it, so a run whose flag
is set is complete, and a run interrupted half-way is simply computed again. The root group's
``povsim_ensemble`` attribute records what the store is for (the scenarios' SHA-256, the root
seed, the replicates); reopening a store for a different ensemble is refused.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.scenario.schema import Scenario

__all__ = ["STORE_FORMAT", "EnsembleStore", "Experiment", "Plan", "open_ensemble"]

STORE_FORMAT = "povsim-ensemble/1"
SPEC_ATTR = "povsim_ensemble"


@dataclass(frozen=True)
class Experiment:
    """One scenario of an ensemble (a compared file, a point of a sweep design).

    Attributes
    ----------
    label
        Its name along the experiment dimension (unique within a plan).
    scenario
        The fully overridden scenario.
    params
        The swept keys and their values (``{"budget.scale": 0.75}``), empty for a comparison.
    base_dir
        Directory for the scenario's relative data paths.
    """

    label: str
    scenario: Scenario
    params: dict[str, Any] = field(default_factory=dict)
    base_dir: str | None = None


@dataclass(frozen=True)
class Plan:
    """A set of experiments stored together along one dimension (``experiment``/``scenario``)."""

    dim: str
    experiments: Sequence[Experiment]
    group: str = ""  # zarr group inside the store; "" is the root

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.experiments]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def make_spec(plans: Sequence[Plan], replicates: int, root_seed: int, crn: bool,
              attribution: bool) -> dict[str, Any]:
    """What identifies an ensemble: equal specs ⇒ the same runs with the same seeds."""
    return {
        "format": STORE_FORMAT,
        "root_seed": int(root_seed),
        "replicates": int(replicates),
        "common_random_numbers": bool(crn),
        "attribution": bool(attribution),
        "plans": [
            {"group": p.group, "dim": p.dim, "labels": p.labels,
             "scenario_sha256": [e.scenario.sha256() for e in p.experiments]}
            for p in plans
        ],
    }


def _describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    for key in ("format", "root_seed", "replicates", "common_random_numbers", "attribution"):
        if old.get(key) != new.get(key):
            return f"{key}: store has {old.get(key)!r}, this command asks for {new.get(key)!r}"
    op, np_ = old.get("plans", []), new.get("plans", [])
    if len(op) != len(np_):
        return "the set of experiment groups differs"
    for a, b in zip(op, np_):
        if a["labels"] != b["labels"]:
            return f"experiments differ: store has {a['labels']}, this command asks for {b['labels']}"
        for lab, s1, s2 in zip(a["labels"], a["scenario_sha256"], b["scenario_sha256"]):
            if s1 != s2:
                return (f"scenario {lab!r} has changed since the store was written "
                        f"(sha256 {s1[:12]} → {s2[:12]}; edited file or new schema defaults)")
    return "the ensemble differs"


def _param_coord(values: list[Any]) -> np.ndarray:
    """Values of one swept key as a coordinate array (numbers stay numbers)."""
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           or v is None for v in values):
        if any(v is None for v in values) or any(isinstance(v, (float, np.floating))
                                                 for v in values):
            return np.array([np.nan if v is None else float(v) for v in values])
        return np.array([int(v) for v in values], dtype=np.int64)
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    return np.array([v if isinstance(v, str) else json.dumps(_jsonable(v)) for v in values],
                    dtype=object)


def _strings_to_object(ds: xr.Dataset) -> xr.Dataset:
    """Unicode coordinates as variable-length strings (zarr 3 has a spec for those)."""
    upd = {}
    for name, var in ds.coords.items():
        if var.dtype.kind == "U":
            upd[name] = var.astype(object)
    return ds.assign_coords(upd) if upd else ds


def plan_years(plan_list: Sequence[Plan]) -> np.ndarray:
    """Union of the calendars of every experiment (the base year first)."""
    years: set[int] = set()
    for p in plan_list:
        for e in p.experiments:
            cal = e.scenario.calendar
            years.update(range(int(cal.base_year), int(cal.end_year) + 1))
    return np.array(sorted(years), dtype=np.int64)


class EnsembleStore:
    """Reads and writes an ensemble's zarr store (see the module docstring).

    Parameters
    ----------
    path
        The ``.zarr`` directory.
    plans
        The experiment groups of the ensemble.
    replicates
        Replicates per experiment.
    seeds
        Seed of every run: ``seeds[plan_index][experiment, replicate]``.
    spec
        The ensemble's identity (:func:`make_spec`).
    """

    def __init__(self, path: str | Path, plans: Sequence[Plan], replicates: int,
                 seeds: Sequence[np.ndarray], spec: dict[str, Any],
                 attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.plans = list(plans)
        self.replicates = int(replicates)
        self.seeds = [np.asarray(s) for s in seeds]
        self.spec = spec
        self.attrs = dict(attrs or {})
        self._groups: dict[str, Any] = {}
        self._template_vars: dict[str, list[str]] = {}
        self._coords: dict[str, dict[str, np.ndarray]] = {}
        self._warned: set[str] = set()
        self._arrays: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the store has been created (its root metadata exists)."""
        return (self.path / "zarr.json").exists()

    def check(self) -> None:
        """Refuse a store that belongs to another ensemble (or is not an ensemble store)."""
        if self.path.exists() and not self.exists():
            if self.path.is_dir() and not any(self.path.iterdir()):
                self.path.rmdir()
                return
            raise PovsimError(f"{self.path} exists and is not a povsim ensemble store; "
                              "choose another --output or remove it")
        if not self.exists():
            return
        import zarr

        try:
            root = zarr.open_group(str(self.path), mode="r")
            old = json.loads(root.attrs.get(SPEC_ATTR, "null"))
        except Exception as exc:  # noqa: BLE001 - any unreadable store
            raise PovsimError(f"{self.path}: cannot read the store ({exc})") from None
        if not isinstance(old, dict) or old.get("format") != STORE_FORMAT:
            raise PovsimError(f"{self.path} is not a povsim ensemble store; choose another "
                              "--output or remove it")
        if old != self.spec:
            raise PovsimError(
                f"{self.path} holds a different ensemble ({_describe_difference(old, self.spec)});"
                " use another --output, or --overwrite to start again"
            )

    def remove(self) -> None:
        """Delete the store (``--overwrite``)."""
        for p in (self.path, self._tmp_path()):
            if p.exists():
                shutil.rmtree(p)

    def _tmp_path(self) -> Path:
        return self.path.with_name(self.path.name + ".tmp")

    # ------------------------------------------------------------------------------------
    def done(self) -> list[np.ndarray]:
        """For every plan, a boolean (experiment, replicate) array: the run is stored."""
        out = []
        if not self.exists():
            return [np.zeros((len(p.experiments), self.replicates), dtype=bool)
                    for p in self.plans]
        for p in self.plans:
            arr = self._group(p.group)["done"]
            try:
                vals = np.asarray(arr[...]) == 1
            except Exception:  # noqa: BLE001 - a damaged flag: read flag by flag
                vals = np.zeros(arr.shape, dtype=bool)
                for e in range(arr.shape[0]):
                    for r in range(arr.shape[1]):
                        try:
                            vals[e, r] = int(arr[e, r]) == 1
                        except Exception:  # noqa: BLE001
                            vals[e, r] = False
            out.append(vals)
        return out

    def _group(self, group: str) -> Any:
        import zarr

        if group not in self._groups:
            self._groups[group] = zarr.open_group(str(self.path), mode="r+", path=group or None)
        return self._groups[group]

    # ------------------------------------------------------------------------------------
    def create(self, first: xr.Dataset) -> None:
        """Create the store from the structure of the first finished run (atomically)."""
        tmp = self._tmp_path()
        if tmp.exists():
            shutil.rmtree(tmp)
        years = plan_years(self.plans)
        run = first.reindex(year=years) if "year" in first.dims else first
        run = _strings_to_object(run.drop_attrs(deep=False))
        for i, plan in enumerate(self.plans):
            tpl = self._template(run, plan, self.seeds[i])
            if i == 0:
                tpl.attrs.update(self.attrs)
                tpl.attrs[SPEC_ATTR] = json.dumps(self.spec, sort_keys=True)
            enc = {name: {"chunks": (1, 1) + tuple(int(s) for s in var.shape[2:])}
                   for name, var in tpl.data_vars.items()}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tpl.to_zarr(str(tmp), mode="w" if i == 0 else "a", group=plan.group or None,
                            compute=False, consolidated=False, encoding=enc)
            # the done flags must hold real zeros, not a fill value
            import zarr

            g = zarr.open_group(str(tmp), mode="r+", path=plan.group or None)
            g["done"][...] = np.zeros(g["done"].shape, dtype=np.int8)
        tmp.rename(self.path)
        self._groups.clear()
        self._arrays.clear()

    def _template(self, run: xr.Dataset, plan: Plan, seeds: np.ndarray) -> xr.Dataset:
        import dask.array as da

        E, R = len(plan.experiments), self.replicates
        dim = plan.dim
        data_vars = {}
        for name, var in run.data_vars.items():
            shape = (E, R) + var.shape
            data_vars[name] = ((dim, "replicate") + var.dims,
                               da.full(shape, np.nan, dtype=np.float64,
                                       chunks=(1, 1) + var.shape),
                               dict(var.attrs))
        data_vars["done"] = ((dim, "replicate"), da.zeros((E, R), dtype=np.int8, chunks=(1, 1)),
                             {"description": "1 when the run (experiment, replicate) is stored"})
        coords: dict[str, Any] = {name: c.variable for name, c in run.coords.items()}
        coords[dim] = (dim, np.array(plan.labels, dtype=object))
        coords["replicate"] = ("replicate", np.arange(R, dtype=np.int64))
        coords["scenario_name"] = (dim, np.array([e.scenario.name for e in plan.experiments],
                                                 dtype=object))
        coords["scenario_sha256"] = (dim, np.array([e.scenario.sha256()
                                                    for e in plan.experiments], dtype=object))
        keys: list[str] = []
        for e in plan.experiments:
            for k in e.params:
                if k not in keys:
                    keys.append(k)
        for k in keys:
            coords[k] = (dim, _param_coord([e.params.get(k) for e in plan.experiments]))
        if seeds.ndim == 1:
            coords["seed"] = ("replicate", seeds.astype(np.int64))
        else:
            coords["seed"] = ((dim, "replicate"), seeds.astype(np.int64))
        coords["scenario_json"] = (dim, np.array([e.scenario.model_dump_json()
                                                  for e in plan.experiments], dtype=object))
        ds = xr.Dataset(data_vars, coords=coords)
        ds.attrs["dim"] = dim
        ds.attrs["swept_keys"] = json.dumps(keys)
        return ds

    # ------------------------------------------------------------------------------------
    def _layout(self, group: str) -> tuple[list[str], dict[str, np.ndarray]]:
        if group not in self._template_vars:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tpl = xr.open_zarr(str(self.path), group=group or None, consolidated=False,
                                   chunks=None, decode_times=False)
            dim = tpl.attrs.get("dim", "experiment")
            names = [n for n in tpl.data_vars if n != "done"]
            coords = {}
            for name in tpl.dims:
                if name in (dim, "replicate") or name not in tpl.coords:
                    continue
                coords[str(name)] = tpl[name].values
            self._template_vars[group] = names
            self._coords[group] = coords
        return self._template_vars[group], self._coords[group]

    def write(self, plan_index: int, e: int, r: int, run: xr.Dataset) -> None:
        """Store one finished run: its chunks, then its ``done`` flag."""
        plan = self.plans[plan_index]
        names, coords = self._layout(plan.group)
        aligned = self._align(run, coords)
        g = self._group(plan.group)
        arrays = self._arrays.setdefault(plan.group, {})
        items = []
        for name in names:
            if name not in aligned:
                continue
            if name not in arrays:
                arrays[name] = g[name]
            target = arrays[name]
            var = aligned[name]
            vals = np.asarray(var.transpose(*self._dims_of(target, plan.dim)).values,
                              dtype=np.float64)
            items.append((target, vals))
        _put_all(items, (e, r))
        extra = set(aligned.data_vars) - set(names)
        for name in sorted(extra - self._warned):
            warnings.warn(f"run output {name!r} is not in the store's layout and is not stored",
                          stacklevel=2)
            self._warned.add(name)
        g["done"][e, r] = np.int8(1)

    @staticmethod
    def _dims_of(arr: Any, dim: str) -> list[str]:
        names = arr.metadata.dimension_names
        return [n for n in names if n not in (dim, "replicate")]

    def _align(self, run: xr.Dataset, coords: dict[str, np.ndarray]) -> xr.Dataset:
        indexers = {}
        for name, values in coords.items():
            if name not in run.dims:
                continue
            have = run[name].values if name in run.coords else None
            if have is None or (have.shape == values.shape and (have == values).all()):
                continue
            missing = set(have.tolist()) - set(values.tolist())
            if missing:
                raise PovsimError(
                    f"a run produced {name} values the store does not have "
                    f"({sorted(map(str, missing))[:5]}); scenarios of one ensemble must share "
                    f"their {name} dimension"
                )
            indexers[name] = values
        return run.reindex(indexers) if indexers else run


def _put_all(items: list[tuple[Any, np.ndarray]], index: tuple[int, int]) -> None:
    """Write one run's chunk of every array, concurrently when zarr allows it."""
    try:
        import asyncio

        from zarr.core.sync import sync

        async def put() -> None:
            await asyncio.gather(*(a._async_array.setitem(index, v) for a, v in items))

        coros_ok = all(hasattr(a, "_async_array") for a, _ in items)
    except ImportError:  # pragma: no cover - other zarr versions
        coros_ok = False
    if coros_ok:
        sync(put())
        return
    for a, v in items:  # pragma: no cover - fallback
        a[index] = v


def open_ensemble(path: str | Path, group: str | None = None) -> xr.Dataset:
    """Open an ensemble store as an :class:`xarray.Dataset` (lazily loaded, no dask)."""
    path = Path(path)
    if not (path / "zarr.json").exists():
        raise PovsimError(f"{path} is not an ensemble store (no zarr.json)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(str(path), group=group or None, consolidated=False, chunks=None)
    # variable-length strings come back as numpy's StringDType: make them ordinary strings
    upd = {}
    for name, var in ds.variables.items():
        if var.dtype.kind == "T":
            vals = np.asarray(var.values, dtype=object)
            upd[name] = (var.dims, np.array(vals.tolist(), dtype=str).reshape(vals.shape),
                         var.attrs)
    if upd:
        coords = {k: v for k, v in upd.items() if k in ds.coords}
        data = {k: v for k, v in upd.items() if k not in ds.coords}
        ds = ds.assign_coords(coords).assign(data)
    return ds


def write_group(ds: xr.Dataset, path: str | Path, group: str) -> None:
    """Write (replace) a small Dataset as a group of an ensemble store (e.g. ``frontier``)."""
    upd = {name: var.astype(object) for name, var in ds.variables.items()
           if var.dtype.kind == "U"}
    out = ds.copy()
    for name, var in upd.items():
        if name in out.coords:
            out = out.assign_coords({name: var})
        else:
            out[name] = var
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.to_zarr(str(path), group=group, mode="w", consolidated=False)
