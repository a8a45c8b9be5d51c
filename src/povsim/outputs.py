"""Writing outputs without losing anything: checked before the work, atomic, never destructive.

Every path povsim writes (``povsim run/compare/sweep --output``, :func:`povsim.write_dataset`,
``povsim.compare(output=...)``, ``povsim.sweep(output=...)``) goes through
:func:`check_output` *before* the simulation starts:

* the format is one povsim writes — ``.nc`` (netCDF 4), ``.zarr`` (a zarr directory) or
  ``.csv`` (a tidy long-format table, see :func:`tidy_table`); anything else is refused;
* the folder exists, is a folder and is writable (checked by creating and removing a probe
  file in it, so read-only mounts and ACLs are caught too);
* a file format (``.nc``, ``.csv``) is not given the name of an existing directory;
* an existing ``.zarr`` directory is replaced (or resumed) only if povsim created it: every
  store povsim writes carries a marker (:data:`MARKER`, see :func:`read_marker`); a directory
  without one is refused, whatever ``--overwrite`` says.

Writes are atomic (:func:`write_dataset`): the output is written under a temporary name in the
same folder and renamed into place, so an interrupted write leaves the previous output (or
nothing) and never a truncated file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError

__all__ = ["ENSEMBLE_KIND", "FORMATS", "MARKER", "RUN_KIND", "check_output", "export_csv", "is_povsim_dir", "marker_attrs", "read_marker",
           "for_zarr", "remove_povsim_dir", "temp_dir", "tidy_table", "write_dataset"]

#: the formats povsim writes, by suffix
FORMATS: dict[str, str] = {".nc": "netCDF", ".zarr": "zarr", ".csv": "tidy CSV"}

#: the root attribute that marks every store povsim creates (a small JSON text)
MARKER = "povsim_store"

#: the kinds of directory povsim writes (the marker's ``kind``)
RUN_KIND = "run"
ENSEMBLE_KIND = "ensemble"

#: the attribute by which stores written before the marker existed are recognised as povsim's
_LEGACY_ENSEMBLE_ATTR = "povsim_ensemble"

#: dimensions listed first (in this order) in a tidy table; others follow in order of appearance
_DIM_ORDER = ("experiment", "scenario", "replicate", "year", "region", "county", "pathway",
              "source", "attribution", "target", "quantile", "hazard", "service")


# ---------------------------------------------------------------------------------------------
# markers
# ---------------------------------------------------------------------------------------------
def _root_attrs(path: Path) -> dict[str, Any]:
    """The root group's attributes, read from its metadata file (zarr 3 or zarr 2)."""
    for meta, inner in (("zarr.json", "attributes"), (".zattrs", None)):
        f = path / meta
        if f.is_file():
            try:
                if f.stat().st_size > 50_000_000:  # assumption: no povsim store has more
                    return {}
                data = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            if not isinstance(data, dict):
                return {}
            attrs = data.get(inner, {}) if inner else data
            return attrs if isinstance(attrs, dict) else {}
    return {}


def read_marker(path: str | Path) -> dict[str, Any] | None:
    """The marker of a directory povsim created, or ``None``.

    The marker is the root attribute :data:`MARKER` (a JSON text) in the store's metadata file
    (``zarr.json`` for zarr 3, ``.zattrs`` for zarr 2) rather than a file of its own: zarr 3
    warns about every file in a store that is not part of the zarr hierarchy.

    Parameters
    ----------
    path
        A directory (a zarr store).

    Returns
    -------
    dict or None
        The marker (``created_by``, ``kind`` = ``run``/``ensemble``, ``povsim_version``), or
        ``None`` when the directory has no povsim marker (or cannot be read as a store). A store
        written before markers existed is recognised by its ensemble identity
        (``{"legacy": True}``).
    """
    attrs = _root_attrs(Path(path))
    raw = attrs.get(MARKER)
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("created_by") == "povsim":
            return data
    legacy = attrs.get(_LEGACY_ENSEMBLE_ATTR)
    if isinstance(legacy, str) and '"povsim-ensemble/' in legacy:
        # a store written by povsim before markers existed (its root carries the spec)
        return {"created_by": "povsim", "kind": ENSEMBLE_KIND, "legacy": True}
    return None


def is_povsim_dir(path: str | Path, kind: str | None = None) -> bool:
    """Whether ``path`` is a directory povsim created (of ``kind``, if given).

    Parameters
    ----------
    path
        Any path.
    kind
        ``"run"`` or ``"ensemble"``; ``None``: either.

    Returns
    -------
    bool
        ``True`` only for an existing directory carrying povsim's marker (:func:`read_marker`).
    """
    p = Path(path)
    if not p.is_dir():
        return False
    marker = read_marker(p)
    return marker is not None and (kind is None or marker.get("kind") == kind)


def marker_attrs(kind: str, **extra: Any) -> dict[str, str]:
    """The root attribute that marks a store as created by povsim (see :func:`read_marker`).

    Parameters
    ----------
    kind
        ``"run"`` or ``"ensemble"``.
    **extra
        More fields of the marker (JSON-serialisable).

    Returns
    -------
    dict of str to str
        ``{MARKER: json}`` to merge into the store's root attributes.
    """
    from povsim.version import povsim_version

    data = {"created_by": "povsim", "kind": kind, "povsim_version": povsim_version(), **extra}
    return {MARKER: json.dumps(data, sort_keys=True)}


def remove_povsim_dir(path: str | Path, kind: str | None = None) -> None:
    """Delete a directory povsim created; refuse any other (povsim never deletes what it did not
    create).

    Parameters
    ----------
    path
        The directory; nothing happens when it does not exist.
    kind
        Delete it only if it is a povsim store of this kind (``"run"``/``"ensemble"``).

    Raises
    ------
    PovsimError
        ``path`` exists but is not a povsim directory (of ``kind``).
    """
    p = Path(path)
    if not p.exists():
        return
    if not is_povsim_dir(p, kind):
        raise PovsimError(_not_ours(p))
    shutil.rmtree(p)


def _not_ours(p: Path) -> str:
    return (f"{p} exists and was not created by povsim (no {MARKER!r} marker in its metadata); "
            "povsim never "
            "deletes or replaces a directory it did not create: choose another --output, or "
            "move it away yourself")


# ---------------------------------------------------------------------------------------------
# checking
# ---------------------------------------------------------------------------------------------
def _probe_writable(folder: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".povsim-probe-")
    except OSError as exc:
        raise PovsimError(f"folder {folder} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(path: str | Path, *, formats: Sequence[str] = tuple(FORMATS),
                 kind: str = RUN_KIND, option: str = "--output") -> Path:
    """Check that povsim can write ``path``, before any work is done.

    Parameters
    ----------
    path
        The output file or directory.
    formats
        The suffixes accepted here (a subset of :data:`FORMATS`).
    kind
        What will be written: ``"run"`` (one run's results; an existing povsim run directory is
        replaced) or ``"ensemble"`` (an ensemble store; an existing one is resumed).
    option
        How to name the path in messages (``--output``, ``path``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    PovsimError
        Unknown format, missing or read-only folder, a directory given as a file, or an
        existing directory povsim did not create.
    """
    if path is None or str(path) == "":
        raise PovsimError(f"{option}: no path given")
    p = Path(path)
    suffix = p.suffix.lower()
    allowed = [s for s in FORMATS if s in formats]
    if suffix not in allowed:
        names = ", ".join(f"{s} ({FORMATS[s]})" for s in allowed)
        raise PovsimError(f"{option} {p}: povsim cannot write {suffix or 'a file without a suffix'!r}"
                          f"; use {names}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.exists():
        raise PovsimError(f"{option} {p}: directory {folder} does not exist")
    if not folder.is_dir():
        raise PovsimError(f"{option} {p}: {folder} is not a directory")
    _probe_writable(folder)
    if suffix == ".zarr":
        if p.exists() and not p.is_dir():
            raise PovsimError(f"{option} {p} exists and is a file, not a zarr directory")
        if p.is_dir() and any(p.iterdir()):
            if not is_povsim_dir(p):
                raise PovsimError(_not_ours(p))
            if not is_povsim_dir(p, kind):
                other = (read_marker(p) or {}).get("kind", ENSEMBLE_KIND)
                raise PovsimError(f"{option} {p} holds a povsim {other} store, not a {kind}; "
                                  "choose another --output")
    elif p.is_dir():
        raise PovsimError(f"{option} {p} is an existing directory; give the name of a "
                          f"{FORMATS[suffix]} file")
    return p


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _umask_mode(base: int) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextmanager
def _temp_file(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path``, renamed onto it on success, removed on failure."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _umask_mode(0o666))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def temp_dir(path: Path) -> Iterator[Path]:
    """A temporary directory next to ``path`` that replaces it on success.

    The caller writes a marked store into it (:func:`marker_attrs`). An existing povsim directory
    at ``path`` is moved aside, the new one renamed into place, and only then is the old one deleted, so either the
    old or the new output exists at every moment. On failure the temporary directory goes.

    Parameters
    ----------
    path
        The final directory (its parent must exist).

    Yields
    ------
    pathlib.Path
        The temporary directory to write into.

    Raises
    ------
    PovsimError
        A directory povsim did not create appeared at ``path`` meanwhile.
    """
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, _umask_mode(0o777))
        old = None
        if path.is_dir() and any(path.iterdir()):
            if not is_povsim_dir(path):  # it appeared meanwhile
                raise PovsimError(_not_ours(path))
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            path.rename(old)
        os.replace(tmp, path)  # an empty directory at ``path`` is replaced
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def for_zarr(ds: xr.Dataset) -> xr.Dataset:
    """Unicode arrays as variable-length strings (zarr 3 has a specification for those).

    Parameters
    ----------
    ds
        Any Dataset.

    Returns
    -------
    xarray.Dataset
        ``ds`` with every fixed-width unicode variable and coordinate as an object array of
        ``str`` (``ds`` itself when it has none).
    """
    upd = {name: var.astype(object) for name, var in ds.variables.items() if var.dtype.kind == "U"}
    if not upd:
        return ds
    coords = {k: v for k, v in upd.items() if k in ds.coords}
    data = {k: v for k, v in upd.items() if k not in ds.coords}
    return ds.assign_coords(coords).assign(data)


def _strings_fixed(ds: xr.Dataset) -> xr.Dataset:
    """Object arrays of strings (as zarr returns them) as numpy strings, which every netCDF
    backend writes."""
    upd = {}
    for name, var in ds.variables.items():
        if var.dtype == object and all(isinstance(x, str) for x in np.asarray(var.values).ravel()):
            upd[name] = var.astype(str)
    if not upd:
        return ds
    coords = {k: v for k, v in upd.items() if k in ds.coords}
    data = {k: v for k, v in upd.items() if k not in ds.coords}
    return ds.assign_coords(coords).assign(data)


def _netcdf_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    return {v: {"zlib": True, "complevel": 4} for v in ds.data_vars if ds[v].dtype.kind in "fiu"}


def write_dataset(ds: xr.Dataset, path: str | Path, *,
                  groups: Mapping[str, xr.Dataset] | None = None) -> Path:
    """Write results to netCDF (``.nc``), zarr (``.zarr``) or a tidy CSV table (``.csv``).

    The path is checked first (:func:`check_output`); the output is written under a temporary
    name in the same folder and renamed, so an interrupted write never leaves a truncated file.
    An existing file is replaced; an existing ``.zarr`` directory only if povsim created it.

    Parameters
    ----------
    ds
        The Dataset (root group).
    path
        Where to write; the suffix chooses the format.
    groups
        Further Datasets stored alongside: netCDF/zarr groups, or, in a CSV, rows whose
        ``variable`` is ``GROUP/NAME``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = check_output(path, option="path")
    # encodings read from another store (zarr chunks, object dtypes) do not apply here
    ds = ds.drop_encoding()
    groups = {g: gds.drop_encoding() for g, gds in (groups or {}).items()}
    suffix = p.suffix.lower()
    if suffix == ".zarr":
        import warnings

        out = for_zarr(ds).copy()
        out.attrs.update(marker_attrs(RUN_KIND))
        with temp_dir(p) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr 3: string and consolidation notices
            out.to_zarr(tmp, mode="a", consolidated=False)
            for g, gds in groups.items():
                for_zarr(gds).to_zarr(tmp, mode="a", group=g, consolidated=False)
    elif suffix == ".nc":
        ds = _strings_fixed(ds)
        groups = {g: _strings_fixed(gds) for g, gds in groups.items()}
        with _temp_file(p) as tmp:
            ds.to_netcdf(tmp, engine="netcdf4", encoding=_netcdf_encoding(ds))
            for g, gds in groups.items():
                gds.to_netcdf(tmp, mode="a", group=g, engine="netcdf4",
                              encoding=_netcdf_encoding(gds))
    else:
        table = tidy_table(ds)
        if groups:
            import pandas as pd

            parts = [table]
            for g, gds in groups.items():
                t = tidy_table(gds)
                t["variable"] = g + "/" + t["variable"]
                parts.append(t)
            table = pd.concat(parts, ignore_index=True, sort=False)
            table = table[_column_order(list(table.columns))]
        with _temp_file(p) as tmp:
            table.to_csv(tmp, index=False)
    return p


def _column_order(cols: list[str]) -> list[str]:
    dims = [c for c in cols if c not in ("variable", "value", "units")]
    first = [d for d in _DIM_ORDER if d in dims]
    rest = [d for d in dims if d not in first]
    return ["variable", *first, *rest, "value", "units"]


def tidy_table(ds: xr.Dataset) -> Any:
    """The Dataset as one long-format table (a :class:`pandas.DataFrame`).

    One row per value of every data variable: ``variable``, one column per dimension (in the
    order ``experiment/scenario, replicate, year, region, county, pathway, source, ...``; empty
    where the variable does not have that dimension), ``value`` and ``units``. Only dimension
    coordinates become columns; the other coordinates and the Dataset's attributes (provenance)
    are kept by the ``.nc`` and ``.zarr`` formats only.

    Parameters
    ----------
    ds
        A run's results or an ensemble.

    Returns
    -------
    pandas.DataFrame
        The long table (integer labels such as years stay integers beside blanks).
    """
    import pandas as pd

    parts = []
    for name, da in ds.data_vars.items():
        da = da.reset_coords(drop=True)
        if da.ndim == 0:
            df = pd.DataFrame({"value": [da.values.item()]})
        else:
            df = da.to_dataframe(name="value").reset_index()
            for d in da.dims:
                if d not in ds.coords:  # a dimension without labels: its positions
                    df[d] = df[d].astype(np.int64)
        df.insert(0, "variable", str(name))
        df["units"] = str(da.attrs.get("units", ""))
        parts.append(df)
    if not parts:
        return pd.DataFrame(columns=["variable", "value", "units"])
    table = pd.concat(parts, ignore_index=True, sort=False)
    for d in table.columns:  # integer labels (years, replicates) stay integers beside blanks
        if d in ds.coords and ds[d].dtype.kind in "iu":
            table[d] = table[d].astype("Int64")
    return table[_column_order(list(table.columns))]


def export_csv(ds: xr.Dataset, directory: str | Path) -> list[Path]:
    """Write a Dataset as tidy CSV tables, one per set of dimensions, into ``directory``.

    Variables with the same dimensions share one long-format table (:func:`tidy_table`:
    ``variable``, one column per dimension, ``value``, ``units``) named after the dimensions,
    e.g. ``year_region.csv``, ``year_region_pathway_source.csv``; variables without
    dimensions go to ``scalars.csv``. Each file is written atomically. The Dataset's
    attributes (provenance) go to ``attributes.csv`` (``name, value``).

    Parameters
    ----------
    ds
        A run's results or an ensemble (root group).
    directory
        Folder for the tables; created if missing (its parent must exist). Existing tables of
        the same names are replaced; nothing else in it is touched.

    Returns
    -------
    list of pathlib.Path
        The files written, in order.
    """
    import pandas as pd

    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise PovsimError(f"--csv: {d} exists and is not a directory")
    if not d.parent.is_dir():
        raise PovsimError(f"--csv: the folder {d.parent} does not exist")
    d.mkdir(exist_ok=True)
    _probe_writable(d)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, da in ds.data_vars.items():
        groups.setdefault(tuple(str(x) for x in da.dims), []).append(str(name))
    written: list[Path] = []
    for dims, names in groups.items():
        stem = "_".join(dims) if dims else "scalars"
        table = tidy_table(ds[names])
        p = d / f"{stem}.csv"
        with _temp_file(p) as tmp:
            table.to_csv(tmp, index=False)
        written.append(p)
    if ds.attrs:
        p = d / "attributes.csv"
        attrs = pd.DataFrame({"name": list(ds.attrs), "value": [str(v) for v in ds.attrs.values()]})
        with _temp_file(p) as tmp:
            attrs.to_csv(tmp, index=False)
        written.append(p)
    return written
