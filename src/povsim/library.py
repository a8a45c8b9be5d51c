"""The scenario library installed with povsim, and resolving a library name to its file.

The files of the repository's ``scenarios/`` directory are installed as the package data
``povsim.scenarios_data`` (see ``[tool.setuptools]`` in pyproject.toml), so they are there in
any install, editable or not, and ``extends: baseline.yaml`` inside them resolves next to them.

Where a scenario is expected (every ``povsim`` command, :func:`povsim.load_scenario`), a name
that is not an existing file but is the stem of a library file (``baseline``,
``no_line_merge``, or ``baseline.yaml``) means that library file.
"""

from __future__ import annotations

import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LibraryScenario", "library_dir", "library_scenarios", "resolve_scenario_path"]

#: the package holding the installed library
PACKAGE = "povsim.scenarios_data"

_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.ya?ml)?$")


@dataclass(frozen=True)
class LibraryScenario:
    """One library file: its name (the file stem), path and the question its header asks.

    Attributes
    ----------
    name
        The file stem, the name commands accept (``"no_line_merge"``).
    path
        The installed file.
    question
        The first sentence of the file's leading comment block (without ``Question:``).
    """

    name: str
    path: Path
    question: str


def library_dir() -> Path | None:
    """Directory of the installed scenario library.

    Returns
    -------
    pathlib.Path or None
        The directory of the package data ``povsim.scenarios_data``, or ``None`` if it is
        missing (a broken install).
    """
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def _question(path: Path) -> str:
    """The question of a scenario file: its leading comment block, first sentence, one line."""
    lines: list[str] = []
    try:
        with open(path, encoding="utf-8") as f:
            for raw in f:
                text = raw.strip()
                if not text.startswith("#"):
                    break
                lines.append(text.lstrip("#").strip())
    except (OSError, UnicodeDecodeError):
        return ""
    text = " ".join(t for t in lines if t)
    text = re.sub(r"^Question:\s*", "", text)
    m = re.search(r"^(.*?[?.])(\s|$)", text)
    text = m.group(1) if m else text
    return text[:1].upper() + text[1:]


def library_scenarios() -> list[LibraryScenario]:
    """The installed library, sorted by name (``baseline`` first).

    Returns
    -------
    list of LibraryScenario
        One per ``*.yaml`` file of the library; empty when the library is not installed.
    """
    root = library_dir()
    if root is None:
        return []
    files = sorted(root.glob("*.yaml"), key=lambda p: (p.stem != "baseline", p.stem))
    return [LibraryScenario(p.stem, p, _question(p)) for p in files]


def resolve_scenario_path(source: str | os.PathLike[str]) -> Path:
    """The file meant by ``source``: itself if it exists, else the library file of that name.

    Parameters
    ----------
    source
        A path, or a library name (``"baseline"``, ``"no_line_merge.yaml"``).

    Returns
    -------
    pathlib.Path
        ``source`` unchanged when it exists or is not a plain name (the caller then reports a
        missing file as before); otherwise the installed library file.
    """
    p = Path(source)
    if p.exists() or not _NAME.match(str(source)):
        return p
    root = library_dir()
    if root is None:
        return p
    stem = p.stem if p.suffix.lower() in (".yaml", ".yml") else p.name
    candidate = root / f"{stem}.yaml"
    return candidate if candidate.is_file() else p
