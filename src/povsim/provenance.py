"""Where a result came from: code version, dependency versions, time and command.

Two kinds of provenance are recorded:

* **of the code** (:func:`code_provenance`), in every results Dataset's ``attrs`` by
  :class:`povsim.results.Recorder`: the git commit of the povsim checkout (when povsim runs
  from one; absent otherwise), whether it had uncommitted changes, and the versions of povsim
  and its main dependencies. These do not change during a process, so two runs of one scenario
  and seed in one process still give identical Datasets.
* **of the output** (:func:`output_provenance`), added by :func:`povsim.outputs.write_dataset`
  to the file it writes: the UTC time and the command line (``povsim run ...``, or
  ``"python API"`` when called from Python).

Nothing here ever fails a run: a missing ``git``, a slow file system or a package without
metadata only leaves the corresponding attribute out.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["DEPENDENCIES", "VOLATILE_ATTRS", "code_provenance", "git_state", "output_provenance",
           "set_command"]

#: the dependencies whose versions are recorded (the ones that shape the numbers or the files)
DEPENDENCIES = ("numpy", "scipy", "mesa", "xarray", "pydantic", "dask", "netCDF4", "zarr",
                "pandas")

#: attributes that differ between two writes of the same results (time, command line)
VOLATILE_ATTRS = ("created_utc", "command")

#: assumption: ``git`` answers in well under a second on a local checkout; a network file system
#: that takes longer is not worth holding up a run for (the commit is then left out)
_GIT_TIMEOUT_S = 2.0

#: the command line of this process when it is the ``povsim`` command (set by the CLI)
_COMMAND: str | None = None


def set_command(argv: list[str] | None) -> None:
    """Record the command line of this process (the CLI calls this; ``None`` clears it).

    Parameters
    ----------
    argv
        The arguments after ``povsim`` (``sys.argv[1:]``); recorded as one shell-quoted line
        in the ``command`` attribute of every output written afterwards.
    """
    global _COMMAND
    _COMMAND = None if argv is None else shlex.join(["povsim", *argv])


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=_GIT_TIMEOUT_S, check=False,
                             env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state(package_dir: str | None = None) -> tuple[str, bool] | None:
    """``(commit, dirty)`` of the git checkout povsim runs from, or ``None``.

    Only a checkout whose ``src/povsim`` *is* the imported package counts (an installed copy
    inside some other repository, e.g. a virtual environment inside a project, is not povsim's
    checkout). ``dirty`` is true when tracked files have uncommitted changes.

    Parameters
    ----------
    package_dir
        The package directory to look from (default: the imported povsim's).

    Returns
    -------
    tuple of (str, bool) or None
        The full commit hash and whether the checkout is dirty; ``None`` outside a povsim
        checkout, or when ``git`` is missing or fails. Cached for the process.
    """
    pkg = Path(package_dir) if package_dir else Path(__file__).resolve().parent
    top = _git(["rev-parse", "--show-toplevel"], pkg)
    if not top or (Path(top) / "src" / "povsim").resolve() != pkg.resolve():
        return None
    commit = _git(["rev-parse", "HEAD"], pkg)
    if not commit:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], pkg)
    return commit, bool(status)


def _versions() -> dict[str, str]:
    from povsim.version import povsim_version

    out = {"povsim": povsim_version()}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@functools.lru_cache(maxsize=1)
def code_provenance() -> dict[str, Any]:
    """Attributes describing the code that made a result (stable within a process).

    Returns
    -------
    dict
        ``versions`` (a JSON object ``{package: version}``), and when povsim runs from a git
        checkout ``git_commit`` and ``git_dirty`` (0 or 1).
    """
    attrs: dict[str, Any] = {"versions": json.dumps(_versions(), sort_keys=True)}
    state = git_state()
    if state is not None:
        attrs["git_commit"] = state[0]
        attrs["git_dirty"] = int(state[1])
    return attrs


def output_provenance() -> dict[str, str]:
    """Attributes of one write: ``created_utc`` (ISO 8601) and ``command``.

    Returns
    -------
    dict of str to str
        ``created_utc`` (now, to the second, e.g. ``"2020-12-31T08:00:00Z"``) and ``command``
        (the ``povsim`` command line, or ``"python API"``).
    """
    return {
        "created_utc": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00",
                                                                                    "Z"),
        "command": _COMMAND or "python API",
    }
