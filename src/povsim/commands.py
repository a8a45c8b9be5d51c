"""The ``povsim`` commands around a run: ``rerun``, ``scenarios``, ``export`` and ``show --yaml``.

Added to the command line by :func:`add_commands`; kept apart from :mod:`povsim.cli` so that
``povsim --version`` and ``--help`` import nothing heavy (numpy, xarray, mesa and dask are only
imported inside the commands).
"""

from __future__ import annotations

import argparse
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from povsim.errors import PovsimError

__all__ = ["add_commands", "check_not_results", "load_results", "rerun", "scenario_yaml",
           "to_plain"]

#: first bytes of the files povsim writes as results: netCDF 4 (HDF5) and classic netCDF
_RESULT_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02")


def _is_results(path: Path) -> bool:
    if path.is_dir():
        return path.suffix.lower() == ".zarr" or (path / "zarr.json").is_file() \
            or (path / ".zattrs").is_file()
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return any(head.startswith(m) for m in _RESULT_MAGIC)


def check_not_results(path: str | Path, command: str) -> None:
    """Refuse a results file where a scenario is expected, saying to use ``povsim rerun``.

    Parameters
    ----------
    path
        The argument given as a scenario.
    command
        The subcommand that was given it (for the message).

    Raises
    ------
    PovsimError
        ``path`` is an existing netCDF or zarr results file.
    """
    p = Path(path)
    if p.exists() and _is_results(p):
        raise PovsimError(f"{path} is a results file, not a scenario (`povsim {command}` "
                          f"reads a scenario YAML file); to reproduce the run it records use "
                          f"`povsim rerun {path}`")


# ---------------------------------------------------------------------------------------------
# plain data and YAML
# ---------------------------------------------------------------------------------------------
def to_plain(value: Any) -> Any:
    """A scenario value as plain YAML data (dicts, lists, numbers, text, booleans, null).

    Parameters
    ----------
    value
        A :class:`~povsim.scenario.Scenario`, one of its sections or any value in it.

    Returns
    -------
    object
        The same data as nested dicts and lists of plain values (enums by value, paths as
        text; a user component's settings included).
    """
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        data = dict(value)
        data.update(value.model_extra or {})
        return {k: to_plain(v) for k, v in data.items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def flow(value: Any) -> str:
    """One value as YAML flow text, readable back by ``--set KEY=VALUE``."""
    import json

    import yaml

    plain = to_plain(value)
    if isinstance(plain, str) and ("\n" in plain or plain != plain.strip()):
        return json.dumps(plain, ensure_ascii=False)  # a YAML double-quoted scalar, one line
    text = yaml.safe_dump(plain, default_flow_style=True, allow_unicode=True,
                          width=10**9, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def scenario_yaml(scn: Any) -> str:
    """The resolved scenario as a complete YAML file (``povsim validate`` accepts it).

    Every key is written, with the values after ``extends:`` and overrides; loading the text
    gives a scenario with the same :meth:`~povsim.scenario.Scenario.sha256`.

    Parameters
    ----------
    scn
        A :class:`~povsim.scenario.Scenario`.

    Returns
    -------
    str
        The YAML text, headed by a comment with the scenario's name and sha256
        (``povsim show --yaml`` prints it).
    """
    import yaml

    header = (f"# povsim scenario {scn.name!r}, resolved (extends: and overrides applied; every "
              f"key written)\n# sha256 {scn.sha256()}\n")
    return header + yaml.safe_dump(to_plain(scn), sort_keys=False, allow_unicode=True, width=100)


# ---------------------------------------------------------------------------------------------
# results files
# ---------------------------------------------------------------------------------------------
def load_results(path: str | Path) -> Any:
    """Open a run's results (``.nc`` or ``.zarr``) or an ensemble store, fully loaded.

    Parameters
    ----------
    path
        The results file or store.

    Returns
    -------
    xarray.Dataset
        The results in memory (an ensemble verified as :func:`povsim.open_ensemble` does).

    Raises
    ------
    PovsimError
        The path does not exist or is not a results file povsim can read.
    """
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise PovsimError(f"{path}: no such file or directory")
    try:
        if p.is_dir():
            from povsim.outputs import read_marker

            marker = read_marker(p) or {}
            if marker.get("kind") == "ensemble":
                from povsim.ensembles import open_ensemble

                return open_ensemble(p).load()
            return xr.open_zarr(p, consolidated=False).load()
        if not _is_results(p):
            raise PovsimError(f"{path}: not a results file (expected a .nc or .zarr written by "
                              f"povsim run, compare or sweep)")
        return xr.load_dataset(p)
    except PovsimError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable store is one message
        raise PovsimError(f"{path}: cannot be read as results ({type(exc).__name__}: "
                          f"{exc})") from None


def rerun(ds: Any, *, progress: bool | None = False, base_dir: str | Path | None = None) -> Any:
    """Run again the scenario and seed a results Dataset records; same numbers, bit for bit.

    Parameters
    ----------
    ds
        Results of one run (their ``attrs`` hold ``scenario_json``, ``scenario_sha256`` and
        ``seed``).
    progress
        Show a progress bar (``None``: only on a terminal).
    base_dir
        Directory for the scenario's relative data paths (default: the current directory;
        the scenarios of the library only name the packaged calibration files).

    Returns
    -------
    xarray.Dataset
        The new results.

    Raises
    ------
    PovsimError
        The Dataset does not record a run (an ensemble store, a file of another program), or
        its scenario no longer validates (e.g. it used a study's component: pass ``--plugin``).
    """
    import povsim
    from povsim.scenario import Scenario

    attrs = ds.attrs
    missing = [k for k in ("scenario_json", "scenario_sha256", "seed") if k not in attrs]
    if missing:
        raise PovsimError(
            f"the results do not record a single run (missing attribute(s) {', '.join(missing)}"
            f"); rerun works on the output of `povsim run`")
    try:
        scn = Scenario.model_validate_json(attrs["scenario_json"])
    except Exception as exc:  # noqa: BLE001 - a ValidationError or a bad JSON text
        raise PovsimError(f"the recorded scenario no longer validates ({exc}); if it used a "
                          "study's own component, pass its module with --plugin") from None
    if scn.sha256() != attrs["scenario_sha256"]:
        raise PovsimError(f"the recorded scenario's hash {scn.sha256()[:12]} differs from the "
                          f"recorded scenario_sha256 {str(attrs['scenario_sha256'])[:12]}; the "
                          "file was edited or this povsim reads the scenario differently")
    return povsim.run(scn, seed=int(attrs["seed"]), progress=progress, base_dir=base_dir)


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------
def cmd_rerun(args: argparse.Namespace) -> int:
    from povsim.outputs import check_output
    from povsim.results import write_dataset

    old = load_results(args.results)
    out = check_output(args.output) if args.output else None
    if out is not None and out.resolve() == Path(args.results).resolve():
        raise PovsimError(f"--output: {args.output} is the results file being rerun; give "
                          "another name")
    if out is None:
        p = Path(args.results)
        out = check_output(p.with_name(f"{p.stem}.rerun.nc"))
    if "git_commit" in old.attrs:
        from povsim.provenance import git_state

        now = git_state()
        if now is None or now[0] != old.attrs["git_commit"]:
            print(f"povsim: note: the results were made by commit "
                  f"{str(old.attrs['git_commit'])[:12]}, this povsim is "
                  f"{now[0][:12] if now else 'not a git checkout'}", file=sys.stderr)
    print(f"povsim: rerunning scenario {old.attrs.get('scenario_name', '?')!r} "
          f"(sha256 {str(old.attrs.get('scenario_sha256', ''))[:12]}), seed "
          f"{old.attrs.get('seed')}", file=sys.stderr)
    new = rerun(old, progress=None if not args.quiet else False)
    write_dataset(new, out)
    same = set(old.data_vars) == set(new.data_vars) and all(
        old[v].equals(new[v]) for v in new.data_vars)
    print(f"wrote {out}; {'identical to' if same else 'DIFFERENT from'} {args.results} "
          f"(every data variable compared)")
    return 0 if same else 1


def cmd_scenarios(args: argparse.Namespace) -> int:
    from povsim.library import library_dir, library_scenarios

    items = library_scenarios()
    if not items:
        raise PovsimError("the scenario library is not installed (package data "
                          "povsim.scenarios_data is missing); reinstall povsim")
    width = max(len(s.name) for s in items)
    for s in items:
        print(f"{s.name:<{width}}  {s.question}")
    if args.path:
        print(f"\n(in {library_dir()}; use a name wherever a scenario file is expected, "
              f"e.g. `povsim run {items[0].name}`)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from povsim.outputs import export_csv

    ds = load_results(args.results)
    written = export_csv(ds, args.csv)
    for p in written:
        print(p)
    print(f"povsim: wrote {len(written)} tidy CSV table(s) to {args.csv}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``rerun``, ``scenarios`` and ``export`` to the ``povsim`` subcommands.

    Parameters
    ----------
    sub
        The sub-parsers object of the ``povsim`` parser (``ArgumentParser.add_subparsers()``).
    """
    r = sub.add_parser("rerun", help="reproduce a run bit for bit from its results file")
    r.add_argument("results", help="results of `povsim run` (.nc or .zarr)")
    r.add_argument("--output", "-o", default=None,
                   help="where to write the new results (default: RESULTS.rerun.nc); exit "
                        "status 1 if they differ from the old")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_rerun)

    s = sub.add_parser("scenarios", help="list the scenario library installed with povsim")
    s.add_argument("--path", action="store_true", help="also say where the files are")
    s.set_defaults(func=cmd_scenarios)

    e = sub.add_parser("export", help="write results as tidy CSV tables for spreadsheets")
    e.add_argument("results", help="a run's .nc/.zarr or an ensemble store (.zarr)")
    e.add_argument("--csv", required=True, metavar="DIR",
                   help="directory for the tables (created if missing): one CSV per set of "
                        "dimensions, long format, with a units column")
    e.set_defaults(func=cmd_export)
