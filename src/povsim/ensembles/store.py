"""The ensemble store: a zarr directory that receives the runs of an ensemble as they finish.

Layout (zarr format 3 with zarr 3, format 2 with zarr 2; no consolidated metadata)::

    STORE.zarr/              root group: the first *plan* (e.g. the scenarios of a comparison)
        registered_poor      (experiment, replicate, year, region), a chunk per 16 runs
        ...                  every variable of a run, with (experiment, replicate) in front
        run_checksum         (experiment, replicate) int64: checksum of the run's stored values
        done                 (experiment, replicate) int8: 1 = stored
        knockouts/           a further plan, if any (same layout), e.g. pathways switched off
    STORE.zarr.lock          while a povsim process writes the store (pid, host, command)

Everything goes through public APIs: :meth:`xarray.Dataset.to_zarr` (``compute=False``) writes
the empty layout, :func:`zarr.open_group` gives the arrays (a run is written into each with
zarr 3's :attr:`zarr.Array.async_array`, all concurrently, or item assignment with zarr 2),
their attributes and :meth:`zarr.Array.resize` for growing. (``to_zarr(region=...)`` would also
do, but costs about a second per run: it re-reads every array's metadata.)

Safety
------
* **Created atomically**, when the first run finishes, from that run's structure: written in a
  temporary directory next to it and renamed. The root carries povsim's marker
  (:data:`povsim.outputs.MARKER`); ``--overwrite`` deletes only a store that has it.
* **One writer at a time**: :class:`StoreLock` (an advisory ``flock`` on ``STORE.zarr.lock``,
  released by the kernel when the process dies, so a crashed writer leaves no stale lock). A
  second writer is refused with a message naming the process that holds it.
* **Written by the chunk**: a chunk holds up to :data:`REPLICATE_CHUNK` replicates of one
  experiment, so finished runs wait in memory for the rest of their chunk (at most
  :data:`FLUSH_SECONDS`) and are written together; an interruption (Ctrl-C) or an error writes
  every run held first.
* **Every run is checked**: a run writes its chunks and its checksum (:func:`run_checksum`,
  BLAKE2b of every variable's values), *then* its ``done`` flag. On resume and on
  :func:`open_ensemble` every stored run is read back and its checksum compared: a missing chunk
  (which zarr would read as ``NaN``) or a corrupt one is detected; resuming computes those runs
  again, :func:`open_ensemble` refuses to return them.
* **Identity**: the root's ``povsim_ensemble`` attribute records what the store is for (the
  scenarios' SHA-256, the root seed, the replicates); reopening it for a different ensemble is
  refused — except with *more* replicates, which grows the store (the stored replicates are kept
  bit for bit; replicate ``r``'s seed does not depend on how many there are).
* **Self-describing**: every variable has ``units``, a ``description`` and ``povsim_version``;
  swept keys are coordinates with identifier names (``budget.scale`` → ``budget_scale``, the
  dotted key in the coordinate's ``key`` attribute and in the group's ``swept_keys``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.outputs import ENSEMBLE_KIND, is_povsim_dir, marker_attrs, remove_povsim_dir, temp_dir
from povsim.results import povsim_version
from povsim.scenario.schema import Scenario

__all__ = ["STORE_FORMAT", "EnsembleStore", "Experiment", "Plan", "StoreLock", "coord_name",
           "open_ensemble", "run_checksum", "swept_coord", "verify_runs"]

#: version 2: checksums, markers, identifier coordinates (version 1 stores are refused with a
#: message; ``--overwrite`` replaces them)
STORE_FORMAT = "povsim-ensemble/2"
SPEC_ATTR = "povsim_ensemble"
#: set while a store grows to more replicates (so an interrupted grow is finished next time)
GROWING_ATTR = "povsim_growing"
#: variables of the store that are not the run's own
_BOOKKEEPING = ("done", "run_checksum")

#: Most replicates of one experiment in one chunk of a new store (assumption: zarr writes a
#: chunk in ~0.8 ms of CPU whatever its size, and a run of the baseline has ~65 variables, so
#: one chunk per run cost ~50 ms of the writing process's time per run, a quarter of a core at
#: 1:100 on 2 workers; 16 runs a chunk cost ~3 ms a run. A damaged chunk makes its runs be
#: computed again, all of them.)
REPLICATE_CHUNK = 16

#: Seconds a finished run may wait in memory for the other runs of its chunk (assumption:
#: bounds what a writer killed outright, not interrupted, loses; Ctrl-C and errors write
#: everything held first). A run is written at once when the next one is not expected within
#: that time (the time between the last two arrivals), so long runs are never held.
FLUSH_SECONDS = 10.0

#: the store's clock (a function, so that a test can replace it)
_clock = time.monotonic


def replicate_chunk(replicates: int) -> int:
    """Replicates per chunk of a new store of ``replicates`` replicates per experiment."""
    return max(1, min(int(replicates), REPLICATE_CHUNK))


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
    """A set of experiments stored together along one dimension (``experiment``/``scenario``).

    Attributes
    ----------
    dim
        The experiment dimension: ``"scenario"`` (a comparison) or ``"experiment"`` (a sweep).
    experiments
        The experiments, in the order of the dimension.
    group
        The zarr group inside the store (``""``: the root; ``"knockouts"`` for the
        counterfactual variants).
    """

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
            msg = f"{key}: store has {old.get(key)!r}, this command asks for {new.get(key)!r}"
            if key == "replicates":
                msg += " (a store can grow to more replicates, not shrink)"
            return msg
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


_RESERVED = {"experiment", "scenario", "replicate", "seed", "done", "run_checksum",
             "scenario_name", "scenario_sha256", "scenario_json", "year", "region", "county",
             "pathway", "source", "target", "attribution", "quantile", "hazard", "service"}


def coord_name(key: str, taken: Sequence[str] = ()) -> str:
    """An identifier naming the coordinate of a swept key: ``budget.scale`` → ``budget_scale``.

    Characters that cannot be in a Python identifier become ``_``; a name that would collide
    with the store's own names (or ``taken``) is prefixed with ``param_``.
    """
    name = re.sub(r"\W", "_", str(key), flags=re.ASCII)
    if not name or name[0].isdigit():
        name = "_" + name
    while name in _RESERVED or name in taken:
        name = "param_" + name
    return name


def _coord_names(keys: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k in keys:
        out[k] = coord_name(k, list(out.values()))
    return out


def swept_coord(ds: xr.Dataset, key: str) -> str | None:
    """The name of the coordinate that holds swept ``key`` in ``ds`` (``None``: not swept)."""
    mapping = ds.attrs.get("swept_coords")
    if isinstance(mapping, str):
        try:
            name = json.loads(mapping).get(key)
        except (ValueError, AttributeError):
            name = None
        if name in ds.coords:
            return str(name)
    for name, c in ds.coords.items():
        if c.attrs.get("key") == key:
            return str(name)
    if key in ds.coords:
        return key
    return None


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
    """Unicode arrays as variable-length strings (zarr 3 has a specification for those)."""
    from povsim.outputs import for_zarr

    return for_zarr(ds)


def plan_years(plan_list: Sequence[Plan]) -> np.ndarray:
    """Union of the calendars of every experiment (the base year first)."""
    years: set[int] = set()
    for p in plan_list:
        for e in p.experiments:
            cal = e.scenario.calendar
            years.update(range(int(cal.base_year), int(cal.end_year) + 1))
    return np.array(sorted(years), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# one writer at a time
# ---------------------------------------------------------------------------------------------
#: locks this process holds: lock path -> [file descriptor, depth] (re-entrant in one process)
_HELD: dict[str, list[int]] = {}


class StoreLock:
    """One writer at a time: an exclusive advisory lock on ``STORE.lock`` next to the store.

    The lock is a ``flock`` on the file, which the kernel releases when the process ends (even
    when it is killed), so a crashed writer never leaves a stale lock; the file's text (pid,
    host, start time, command) only serves to name the holder in the message a second writer
    gets. Re-entrant within one process. POSIX only (``fcntl``).

    Parameters
    ----------
    store
        The store's path.
    """

    def __init__(self, store: str | Path) -> None:
        self.store = Path(store)
        self.path = self.store.with_name(self.store.name + ".lock")

    def _key(self) -> str:
        return str(self.path.resolve())

    def holder(self) -> dict[str, Any] | None:
        """What the lock file says about the process holding it (``None``: unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")[:10_000])
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`PovsimError` naming the process that holds it."""
        import fcntl

        key = self._key()
        if key in _HELD:
            _HELD[key][1] += 1
            return
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise PovsimError(f"cannot create the lock file {self.path} "
                                  f"({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                time.sleep(0.05)  # the holder may be writing its details
                raise PovsimError(self._busy_message()) from None
            # the file may have been removed by the previous holder between open and flock
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                    "command": " ".join(sys.argv)[:300]}
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(info) + "\n").encode())
            _HELD[key] = [fd, 1]
            return
        raise PovsimError(f"cannot lock {self.store}: its lock file keeps changing")

    def _busy_message(self) -> str:
        h = self.holder() or {}
        who = (f"process {h.get('pid', '?')} on host {h.get('host', '?')} (since "
               f"{h.get('since', '?')}: {h.get('command', '?')})") if h else "another process"
        return (f"{self.store} is being written by {who}; one writer at a time: wait for it to "
                "finish (or stop it), then run this command again")

    def release(self) -> None:
        """Release the lock (the outermost release removes the lock file)."""
        import fcntl

        key = self._key()
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[key]
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(held[0], fcntl.LOCK_UN)
            os.close(held[0])

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold the store's writer lock (see :class:`StoreLock`) inside the ``with`` block."""
    with StoreLock(path):
        yield


# ---------------------------------------------------------------------------------------------
# checksums and verification
# ---------------------------------------------------------------------------------------------
def _canonical(values: Any) -> bytes:
    a = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if np.isnan(a).any():  # every NaN as the same bits (readers may normalise NaN payloads)
        a = np.where(np.isnan(a), np.nan, a)
    return a.tobytes()


def run_checksum(values: Sequence[tuple[str, Any]]) -> int:
    """Checksum of one run's stored values: BLAKE2b (8 bytes) over every ``(name, values)``.

    The values are taken as ``float64`` (as stored) in the store's dimension order; the result
    is a signed 64-bit integer (stored in ``run_checksum``).
    """
    h = hashlib.blake2b(digest_size=8)
    for name, vals in values:
        h.update(name.encode())
        h.update(_canonical(vals))
    return int.from_bytes(h.digest(), "little", signed=True)


def _read(da: xr.DataArray, dim: str, runs: Sequence[tuple[int, int]]
          ) -> tuple[dict[tuple[int, int], np.ndarray], set[tuple[int, int]]]:
    """The values of ``runs`` in ``da``; and the runs whose chunks cannot be read."""
    try:
        full = np.asarray(da.values)
        return {(e, r): full[e, r] for e, r in runs}, set()
    except Exception:  # noqa: BLE001 - a corrupt chunk: read run by run
        pass
    out, bad = {}, set()
    for e, r in runs:
        try:
            out[(e, r)] = np.asarray(da.isel({dim: e, "replicate": r}).values)
        except Exception:  # noqa: BLE001 - this run's chunk is unreadable
            bad.add((e, r))
    return out, bad


def run_variables(ds: xr.Dataset, dim: str) -> list[str]:
    """The variables of the runs in a store's group (in store order)."""
    listed = ds.attrs.get("run_variables")
    if isinstance(listed, str):
        try:
            names = [str(n) for n in json.loads(listed)]
            return [n for n in names if n in ds.data_vars]
        except ValueError:
            pass
    return [str(n) for n, v in ds.data_vars.items()
            if n not in _BOOKKEEPING and v.dims[:2] == (dim, "replicate")]


def verify_runs(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, dict[tuple[int, int], str]]:
    """Read back every stored run of a group and check it against its checksum.

    Returns
    -------
    done : numpy.ndarray
        Boolean ``(experiment, replicate)``: stored and intact.
    damaged : dict
        ``{(e, r): reason}`` for the runs flagged as stored whose values are missing, unreadable
        or do not match their checksum.
    """
    shape = (ds.sizes[dim], ds.sizes["replicate"])
    everything = [(e, r) for e in range(shape[0]) for r in range(shape[1])]
    flags, bad_flags = _read(ds["done"], dim, everything)
    done = np.zeros(shape, dtype=bool)
    damaged: dict[tuple[int, int], str] = {}
    for (e, r), v in flags.items():
        done[e, r] = bool(np.nan_to_num(np.asarray(v, dtype=float)) == 1)
    for e, r in bad_flags:
        damaged[(e, r)] = "its done flag is unreadable"
    runs = [(int(e), int(r)) for e, r in zip(*np.nonzero(done))]
    if not runs:
        return done, damaged
    if "run_checksum" not in ds:
        for er in runs:
            damaged[er] = "it has no checksum"
        done[:] = False
        return done, damaged
    sums, bad = _read(ds["run_checksum"], dim, runs)
    for er in bad:
        damaged[er] = "its checksum is unreadable"
    hashers = {er: hashlib.blake2b(digest_size=8) for er in runs if er not in bad}
    for name in run_variables(ds, dim):
        vals, bad = _read(ds[name], dim, list(hashers))
        for er in bad:
            damaged.setdefault(er, f"a chunk of {name!r} is unreadable")
            hashers.pop(er, None)
        for er, h in hashers.items():
            h.update(name.encode())
            h.update(_canonical(vals[er]))
    for er, h in hashers.items():
        if int.from_bytes(h.digest(), "little", signed=True) != int(sums[er]):
            damaged.setdefault(er, "its values do not match its checksum (a chunk is missing "
                                   "or was altered)")
    for er in damaged:
        done[er] = False
    return done, damaged


def describe_damage(ds: xr.Dataset, dim: str, damaged: dict[tuple[int, int], str],
                    limit: int = 3) -> str:
    """``'a' replicate 1 (reason); ...`` for the first ``limit`` damaged runs."""
    labels = [str(x) for x in ds[dim].values] if dim in ds.coords else None
    items = []
    for (e, r), why in sorted(damaged.items())[:limit]:
        lab = labels[e] if labels else str(e)
        items.append(f"{lab!r} replicate {r} ({why})")
    more = f" and {len(damaged) - limit} more" if len(damaged) > limit else ""
    return "; ".join(items) + more


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """``povsim_version`` on every variable, and ``units``/``description`` where missing."""
    version = povsim_version()
    defaults = {
        "done": ("1", "1 when the run (experiment, replicate) is stored"),
        "run_checksum": ("1", "checksum of the run's stored values (BLAKE2b, 8 bytes, as int64)"),
        "replicate": ("1", "replicate number (its seed derives from the root seed and it)"),
        "seed": ("1", "seed of the run"),
        "scenario_name": ("1", "name of the scenario"),
        "scenario_sha256": ("1", "SHA-256 of the scenario's canonical JSON"),
        "scenario_json": ("1", "the complete scenario (JSON)"),
        "n_runs": ("runs", "runs stored"),
        "experiment": ("1", "design point"),
        "scenario": ("1", "compared scenario"),
    }
    for name, var in ds.variables.items():
        var.attrs["povsim_version"] = version
        units, desc = defaults.get(str(name), ("1", str(name).replace("_", " ")))
        var.attrs.setdefault("units", var.attrs.get("unit", units))
        var.attrs.setdefault("description", desc)
    return ds


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------
def _is_zarr(path: Path) -> bool:
    return (path / "zarr.json").is_file() or (path / ".zgroup").is_file()


def _open_group(path: Path, group: str | None) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(str(path), group=group or None, consolidated=False, chunks=None,
                            decode_times=False)


def _zarr_group(path: Path, group: str | None = None, mode: str = "r") -> Any:
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_group(str(path), mode=mode, path=group or None)


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
    attrs
        Extra attributes of the root group.
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
        self._layouts: dict[str, tuple[list[str], dict[str, np.ndarray], dict[str, tuple]]] = {}
        self._arrays: dict[str, dict[str, Any]] = {}
        self._warned: set[str] = set()
        #: finished runs not yet written, by (plan index, experiment, chunk of replicates)
        self._pending: dict[tuple[int, int, int], dict[int, list[tuple[str, np.ndarray]]]] = {}
        self._since: dict[tuple[int, int, int], float] = {}
        self._expected: dict[tuple[int, int, int], set[int]] = {}
        self._blocks: dict[str, int] = {}
        self._arrival: float | None = None  # when the last run arrived (or the runs started)
        self.grow_from: int | None = None
        #: runs found damaged by :meth:`done`: ``[(plan index, e, r, reason)]``
        self.damaged: list[tuple[int, int, int, str]] = []

    # ------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the store has been created (its root metadata exists)."""
        return _is_zarr(self.path)

    def _stored_spec(self) -> dict[str, Any] | None:
        try:
            root = _zarr_group(self.path)
            raw = root.attrs.get(SPEC_ATTR, "null")
            old = json.loads(raw) if isinstance(raw, str) else None
            growing = root.attrs.get(GROWING_ATTR)
        except Exception as exc:  # noqa: BLE001 - any unreadable store
            raise PovsimError(f"{self.path}: cannot read the store ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
        if isinstance(old, dict) and growing is not None:
            self._grow(int(growing))  # an interrupted grow: finish it first
            old = dict(old, replicates=int(growing))
        return old if isinstance(old, dict) else None

    def check(self) -> None:
        """Refuse a store that belongs to another ensemble (or is not an ensemble store).

        A store of the same ensemble with fewer replicates is accepted and will grow
        (:attr:`grow_from`).
        """
        if self.path.exists() and not self.path.is_dir():
            raise PovsimError(f"{self.path} exists and is a file, not an ensemble store")
        if self.path.exists() and not self.exists():
            if not any(self.path.iterdir()):
                return  # an empty directory: the new store replaces it
            raise PovsimError(f"{self.path} exists and is not a povsim ensemble store; "
                              "choose another --output (povsim never deletes a directory it "
                              "did not create)")
        if not self.exists():
            return
        old = self._stored_spec()
        if not isinstance(old, dict) or not str(old.get("format", "")).startswith(
                "povsim-ensemble/"):
            raise PovsimError(f"{self.path} is not a povsim ensemble store; choose another "
                              "--output (povsim never deletes a directory it did not create)")
        if old == self.spec:
            return
        if (old.get("format") == STORE_FORMAT
                and dict(old, replicates=self.replicates) == self.spec
                and int(old["replicates"]) < self.replicates):
            self.grow_from = int(old["replicates"])
            return
        raise PovsimError(
            f"{self.path} holds a different ensemble ({_describe_difference(old, self.spec)});"
            " use another --output, or --overwrite to start again"
        )

    def remove(self) -> None:
        """Delete the store (``--overwrite``): only a store povsim created."""
        if self.path.exists() and self.path.is_dir() and not any(self.path.iterdir()):
            return
        remove_povsim_dir(self.path, ENSEMBLE_KIND)
        self._layouts.clear()
        self._arrays.clear()
        self._blocks.clear()

    # ------------------------------------------------------------------------------------
    def grow(self) -> None:
        """Add the replicates this ensemble asks for beyond those stored (see :meth:`check`)."""
        if self.grow_from is None:
            return
        root = _zarr_group(self.path, mode="r+")
        root.attrs[GROWING_ATTR] = self.replicates
        self._grow(self.replicates)
        self.grow_from = None

    def _grow(self, replicates: int) -> None:
        """Resize every array along ``replicate`` to ``replicates`` (idempotent), then record
        the new identity. New runs read as not done."""
        for i, plan in enumerate(self.plans if self.plans else []):
            ds = _open_group(self.path, plan.group)
            g = _zarr_group(self.path, plan.group, mode="r+")
            old_r = int(ds.sizes["replicate"])
            for name, var in ds.variables.items():
                if "replicate" not in var.dims:
                    continue
                axis = var.dims.index("replicate")
                arr = g[str(name)]
                shape = list(arr.shape)
                if shape[axis] != replicates:
                    shape[axis] = replicates
                    arr.resize(tuple(shape))
            g["replicate"][...] = np.arange(replicates, dtype=np.int64)
            seeds = self.seeds[i] if i < len(self.seeds) else None
            if seeds is not None and seeds.shape[-1] == replicates:
                g["seed"][...] = seeds.astype(np.int64)
            sl = (slice(None), slice(min(old_r, replicates), replicates))
            if old_r < replicates:
                n_e = int(ds.sizes[plan.dim])
                g["done"][sl] = np.zeros((n_e, replicates - old_r), dtype=np.int8)
                g["run_checksum"][sl] = np.zeros((n_e, replicates - old_r), dtype=np.int64)
            ds.close()
        root = _zarr_group(self.path, mode="r+")
        root.attrs[SPEC_ATTR] = json.dumps(dict(self.spec, replicates=replicates), sort_keys=True)
        if GROWING_ATTR in root.attrs:
            del root.attrs[GROWING_ATTR]
        self._layouts.clear()
        self._arrays.clear()
        self._blocks.clear()

    # ------------------------------------------------------------------------------------
    def done(self) -> list[np.ndarray]:
        """For every plan, a boolean (experiment, replicate) array: the run is stored intact.

        Every stored run is read back and checked against its checksum; damaged ones are listed
        in :attr:`damaged` and count as not done (they are computed again).
        """
        self.damaged = []
        if not self.exists():
            return [np.zeros((len(p.experiments), self.replicates), dtype=bool)
                    for p in self.plans]
        out = []
        for i, p in enumerate(self.plans):
            ds = _open_group(self.path, p.group)
            ok, damaged = verify_runs(ds, p.dim)
            ds.close()
            self.damaged.extend((i, e, r, why) for (e, r), why in sorted(damaged.items()))
            out.append(ok)
        return out

    # ------------------------------------------------------------------------------------
    def create(self, first: xr.Dataset) -> None:
        """Create the store from the structure of the first finished run (atomically)."""
        years = plan_years(self.plans)
        run = first.reindex(year=years) if "year" in first.dims else first
        run = _strings_to_object(run.drop_attrs(deep=False))
        with temp_dir(self.path) as tmp:
            for i, plan in enumerate(self.plans):
                tpl = self._template(run, plan, self.seeds[i])
                if i == 0:
                    tpl.attrs.update(self.attrs)
                    tpl.attrs[SPEC_ATTR] = json.dumps(self.spec, sort_keys=True)
                    tpl.attrs.update(marker_attrs(ENSEMBLE_KIND))
                block = replicate_chunk(self.replicates)
                enc = {name: {"chunks": (1, block) + tuple(int(s) for s in var.shape[2:])}
                       for name, var in tpl.data_vars.items()}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tpl.to_zarr(str(tmp), mode="a", group=plan.group or None,
                                compute=False, consolidated=False, encoding=enc)
        self._layouts.clear()
        self._arrays.clear()
        self._blocks.clear()

    def _template(self, run: xr.Dataset, plan: Plan, seeds: np.ndarray) -> xr.Dataset:
        import dask.array as da

        E, R = len(plan.experiments), self.replicates
        dim = plan.dim
        data_vars = {}
        names = []
        for name, var in run.data_vars.items():
            shape = (E, R) + var.shape
            data_vars[name] = ((dim, "replicate") + var.dims,
                               da.full(shape, np.nan, dtype=np.float64,
                                       chunks=(1, replicate_chunk(R)) + var.shape),
                               dict(var.attrs))
            names.append(str(name))
        # numpy (not dask): written at once, real zeros rather than a fill value
        data_vars["run_checksum"] = ((dim, "replicate"), np.zeros((E, R), dtype=np.int64), {})
        data_vars["done"] = ((dim, "replicate"), np.zeros((E, R), dtype=np.int8), {})
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
        cnames = _coord_names(keys)
        for k in keys:
            coords[cnames[k]] = (dim, _param_coord([e.params.get(k) for e in plan.experiments]),
                                 {"key": k, "units": "1",
                                  "description": f"value of the swept key {k}"})
        if seeds.ndim == 1:
            coords["seed"] = ("replicate", seeds.astype(np.int64))
        else:
            coords["seed"] = ((dim, "replicate"), seeds.astype(np.int64))
        coords["scenario_json"] = (dim, np.array([e.scenario.model_dump_json()
                                                  for e in plan.experiments], dtype=object))
        ds = xr.Dataset(data_vars, coords=coords)
        ds.attrs["dim"] = dim
        ds.attrs["swept_keys"] = json.dumps(keys)
        ds.attrs["swept_coords"] = json.dumps(cnames)
        ds.attrs["run_variables"] = json.dumps(names)
        return annotate(ds)

    # ------------------------------------------------------------------------------------
    def _layout(self, group: str, dim: str
                ) -> tuple[list[str], dict[str, np.ndarray], dict[str, tuple]]:
        if group not in self._layouts:
            tpl = _open_group(self.path, group)
            names = run_variables(tpl, dim)
            coords = {}
            for name in tpl.dims:
                if name in (dim, "replicate") or name not in tpl.coords:
                    continue
                coords[str(name)] = tpl[name].values
            shapes = {n: (tpl[n].dims[2:], tpl[n].shape[2:]) for n in names}
            tpl.close()
            self._layouts[group] = (names, coords, shapes)
        return self._layouts[group]

    def expect(self, plan_index: int, e: int, r: int) -> None:
        """Announce that run ``(e, r)`` of plan ``plan_index`` will be written (or abandoned).

        A finished run is kept in memory until every announced run of its chunk has arrived
        (see :data:`REPLICATE_CHUNK`); a run nobody announced is written at once.
        """
        key = (plan_index, e, r // self._block(plan_index))
        self._expected.setdefault(key, set()).add(r)
        if self._arrival is None:
            self._arrival = _clock()  # the runs start

    def write(self, plan_index: int, e: int, r: int, run: xr.Dataset) -> int:
        """Take one finished run; store it with the other runs of its chunk.

        The run's values and checksum are computed now; they are written once every announced
        run of the chunk (:meth:`expect`) is in, when waiting for the next run would keep the
        chunk's first run longer than :data:`FLUSH_SECONDS`, or at :meth:`flush`. In each region the chunks and checksums
        are written first, the ``done`` flags last: a run whose flag is set is complete.

        Returns
        -------
        int
            The number of runs written to disk by this call (this run and others of its
            chunk, or none yet).
        """
        plan = self.plans[plan_index]
        dim = plan.dim
        names, coords, shapes = self._layout(plan.group, dim)
        aligned = self._align(run, coords)
        values = []
        variables = aligned.variables  # Variables, not DataArrays: no coordinates to build
        for name in names:
            dims, shape = shapes[name]
            if name in variables:
                vals = np.asarray(variables[name].transpose(*dims).values, dtype=np.float64)
            else:
                vals = np.full(shape, np.nan)
            values.append((name, vals))
        checksum = np.array(run_checksum(values), dtype=np.int64)
        values.append(("run_checksum", checksum))
        extra = set(aligned.data_vars) - set(names)
        for name in sorted(extra - self._warned):
            warnings.warn(f"run output {name!r} is not in the store's layout and is not stored",
                          stacklevel=2)
            self._warned.add(name)
        key = (plan_index, e, r // self._block(plan_index))
        self._pending.setdefault(key, {})[r] = values
        self._since.setdefault(key, _clock())
        return self._flush_ready()

    def abandon(self, plan_index: int, e: int, r: int) -> int:
        """Run ``(e, r)`` will not arrive (it failed): its chunk no longer waits for it.

        Returns the number of runs written by this call (see :meth:`write`).
        """
        key = (plan_index, e, r // self._block(plan_index))
        self._expected.get(key, set()).discard(r)
        return self._flush_ready()

    def flush(self) -> int:
        """Write every run still held in memory; returns how many were written."""
        return sum(self._write_block(key) for key in list(self._pending))

    def _flush_ready(self) -> int:
        """Write the chunks that are complete, and those whose runs would otherwise wait
        more than :data:`FLUSH_SECONDS`: the next run is expected as long after this one as
        this one came after the last (long runs are written as they arrive)."""
        now = _clock()
        gap = now - self._arrival if self._arrival is not None else 0.0
        self._arrival = now
        ready = [key for key, got in self._pending.items()
                 if self._expected.get(key, set()) <= got.keys()
                 or now - self._since[key] + gap >= FLUSH_SECONDS]
        return sum(self._write_block(key) for key in ready)

    def _block(self, plan_index: int) -> int:
        """Replicates per chunk in this plan's group (1 in a store made before chunks held
        several replicates)."""
        group = self.plans[plan_index].group
        if group not in self._blocks:
            if not self.exists():
                return replicate_chunk(self.replicates)
            arr = _zarr_group(self.path, group, mode="r")["done"]
            self._blocks[group] = int(arr.chunks[1])
        return self._blocks[group]

    def _write_block(self, key: tuple[int, int, int]) -> int:
        """Write the held runs of one chunk: contiguous replicates in one region each."""
        runs = self._pending.pop(key, {})
        self._since.pop(key, None)
        if not runs:
            return 0
        plan_index, e, _ = key
        self._expected.pop(key, None)
        group = self.plans[plan_index].group
        rs = sorted(runs)
        spans: list[list[int]] = [[rs[0]]]
        for r in rs[1:]:
            if r == spans[-1][-1] + 1:
                spans[-1].append(r)
            else:
                spans.append([r])
        for span in spans:
            items = [(name, np.stack([runs[r][k][1] for r in span]))
                     for k, (name, _) in enumerate(runs[span[0]])]
            self._put(group, items, (e, slice(span[0], span[-1] + 1)))
        # the flags last: a run whose flag is set is complete
        for span in spans:
            self._put(group, [("done", np.ones(len(span), dtype=np.int8))],
                      (e, slice(span[0], span[-1] + 1)))
        return len(rs)

    def _put(self, group: str, items: Sequence[tuple[str, np.ndarray]],
             index: tuple[int, int]) -> None:
        """Write ``values[index]`` of every array, concurrently with zarr 3's public async API
        (:attr:`zarr.Array.async_array`), one after the other with zarr 2."""
        arrays = self._arrays.get(group)
        if arrays is None:
            g = _zarr_group(self.path, group, mode="r+")
            arrays = self._arrays[group] = {"__group__": g}
        todo = []
        for name, vals in items:
            if name not in arrays:
                arrays[name] = arrays["__group__"][name]
            todo.append((arrays[name], vals))
        if len(todo) == 1 or not all(hasattr(a, "async_array") for a, _ in todo):  # zarr 2
            for a, v in todo:
                a[index] = v
            return
        import asyncio

        async def put() -> None:
            await asyncio.gather(*(a.async_array.setitem(index, v) for a, v in todo))

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: no event loop in this thread
            # a loop of our own rather than asyncio.run, whose Ctrl-C handler only cancels the
            # writes: a Ctrl-C arriving as they finish was then lost and the sweep ran on
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(put())
            finally:
                loop.close()
            return
        # called from inside an event loop (e.g. a notebook): run the writes in a thread
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, put()).result()

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


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def _plain_strings(ds: xr.Dataset) -> xr.Dataset:
    """Variable-length strings come back as numpy's StringDType: make them ordinary strings."""
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


def open_ensemble(path: str | Path, group: str | None = None, *,
                  verify: bool = True) -> xr.Dataset:
    """Open an ensemble as an :class:`xarray.Dataset` (lazily loaded, no dask).

    Parameters
    ----------
    path
        An ensemble store (``.zarr``) or the netCDF file ``povsim compare -o X.nc`` or
        ``povsim sweep -o X.nc`` wrote.
    group
        A group of it (``knockouts``, ``frontier``); ``None``: the root.
    verify
        Read every stored run back and check its checksum first (a missing or altered chunk
        would otherwise read as ``NaN`` or wrong numbers).

    Returns
    -------
    xarray.Dataset
        The runs (dims ``scenario``/``experiment``, ``replicate``, ``year``, ...) with the
        summary variables the command stored (as :func:`povsim.compare` returns them).

    Raises
    ------
    PovsimError
        Not an ensemble, unreadable, or damaged runs (listed; running the command that wrote the
        store again recomputes exactly those).
    """
    path = Path(path)
    if path.is_file():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = xr.open_dataset(path, group=group or None)
                root_attrs = ds.attrs if not group else xr.open_dataset(path).attrs
        except Exception as exc:  # noqa: BLE001 - not netCDF, no such group
            raise PovsimError(f"{path}: cannot open it as an ensemble ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
        if SPEC_ATTR not in root_attrs:
            ds.close()
            raise PovsimError(f"{path} is not a povsim ensemble (no {SPEC_ATTR} attribute)")
    else:
        if not _is_zarr(path):
            raise PovsimError(f"{path} is not an ensemble store (no zarr metadata)")
        try:
            ds = _open_group(path, group)
        except Exception as exc:  # noqa: BLE001 - damaged metadata, no such group
            raise PovsimError(f"{path}: cannot open the store{f' group {group!r}' if group else ''}"
                              f" ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not group and SPEC_ATTR not in ds.attrs:
            ds.close()
            raise PovsimError(f"{path} is not a povsim ensemble store (no {SPEC_ATTR} attribute)")
    ds = _plain_strings(ds)
    if verify and "done" in ds and "replicate" in ds.dims:
        from .stats import ensemble_dim

        dim = ensemble_dim(ds)
        _, damaged = verify_runs(ds, dim)
        if damaged:
            ds.close()
            raise PovsimError(
                f"{path}{f' (group {group})' if group else ''}: {len(damaged)} stored "
                f"run{'s are' if len(damaged) > 1 else ' is'} damaged: "
                f"{describe_damage(ds, dim, damaged)}; run the command that wrote it again to "
                "recompute them (it computes exactly the damaged and missing runs)")
    return ds


def write_group(ds: xr.Dataset, path: str | Path, group: str) -> None:
    """Write (replace) a small Dataset as a group of an ensemble store (e.g. ``frontier``)."""
    out = annotate(_strings_to_object(ds.copy()))
    with locked(path), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.to_zarr(str(path), group=group, mode="w", consolidated=False)
