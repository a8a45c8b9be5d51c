"""Reading scenarios: files, ``extends:``, overrides and validation.

A scenario file is one YAML mapping, read safely by :mod:`povsim.scenario.safe_yaml` (line
numbers kept, Python tags, duplicate keys and alias bombs refused). A file may start from other
files with ``extends:``; everything merges with one rule, :func:`deep_merge`; dotted-key
overrides (``budget.scale=0.7``) are applied last, and the result is validated by
:class:`~povsim.scenario.schema.Scenario`, whose errors (pydantic's ``loc``, ``type`` and
``ctx``) are put in words. Every problem is reported as a :class:`~povsim.errors.ScenarioError`
(or :class:`~povsim.errors.ScenarioErrors` when validation finds several), never as a traceback.

Typical use::

    scenario = load_scenario("scenarios/baseline.yaml", {"budget.scale": 0.7})
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from povsim.errors import ScenarioError, ScenarioErrors
from povsim.scenario.safe_yaml import (
    MAX_ALIASES,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    Locations,
    _dotted,
    _short,
    parse_text,
    read_text,
)
from povsim.scenario.schema import Scenario

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXTENDS",
    "MAX_NODES",
    "OVERRIDE_SOURCE",
    "Locations",
    "apply_overrides",
    "build_scenario",
    "deep_merge",
    "load_scenario",
    "load_with_extends",
    "load_yaml",
    "parse_override",
    "scenario_from_yaml_string",
]

#: Longest ``extends:`` chain accepted (a file, its parent, the parent's parent, ...).
MAX_EXTENDS = 32
#: Name given in place of a file to values that came from overrides (``--set KEY=VALUE``).
OVERRIDE_SOURCE = "overrides"

_PathLike = str | os.PathLike[str]

_TOP_KEYS = frozenset((*Scenario.model_fields, "extends"))

_MISSING = object()


def _check_is_scenario(data: dict[Any, Any], file: str) -> None:
    """Refuse a mapping none of whose top-level keys is (or looks like) a scenario key."""
    names = [str(k) for k in data]
    if any(k in _TOP_KEYS or difflib.get_close_matches(k, _TOP_KEYS, n=1, cutoff=0.8)
           for k in names):
        return
    raise ScenarioError(
        "not a scenario file: none of its top-level keys is a scenario section",
        file=file,
        expected=f"keys among {', '.join(sorted(_TOP_KEYS))}",
        found=f"{len(names)} other key{'s' if len(names) != 1 else ''}",
    )


def load_yaml(path: _PathLike) -> tuple[dict[Any, Any], Locations]:
    """Read one YAML scenario file safely (``extends:`` is left as it is).

    Parameters
    ----------
    path
        The file to read (UTF-8, at most :data:`MAX_BYTES`).

    Returns
    -------
    tuple
        The top-level mapping, and the locations ``{key_path: (file, line)}`` of every key and
        list item; list items are keyed by their integer index.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable, too large, not UTF-8 text, malformed YAML, holds a tag
        other than the plain YAML types, a duplicate key, too many aliases, several documents,
        is not a mapping, or is a mapping of keys no scenario has.
    """
    data, locations = parse_text(read_text(path), str(path), mapping=True)
    _check_is_scenario(data, str(path))
    return data, locations



# --------------------------------------------------------------------------------------------
# merging: extends, defaults
# --------------------------------------------------------------------------------------------


def _is_schedule(value: Any) -> bool:
    """A ``{year: value}`` mapping (keys integers or digit text): it replaces, never merges."""
    return isinstance(value, Mapping) and bool(value) and all(
        (isinstance(k, int) and not isinstance(k, bool)) or (isinstance(k, str) and k.isdigit())
        for k in value
    )


def deep_merge(
    base: Mapping[Any, Any], over: Mapping[Any, Any], replaced: set[tuple[Any, ...]] | None = None
) -> dict[Any, Any]:
    """``over`` deep-merged onto ``base``: the one merge rule of scenarios.

    Mappings merge key by key; anything else of ``over`` (numbers, text, lists, ``null``) and
    any dated schedule (a mapping of years, on either side, even ``{}``) replaces the value of
    ``base``. Neither input is modified; values are shared, not copied.

    Parameters
    ----------
    base, over
        The two mappings.
    replaced
        If given, receives the key paths of ``base`` values that ``over`` replaced.

    Returns
    -------
    dict
        The merged mapping.
    """

    def merge(b: Mapping[Any, Any], o: Mapping[Any, Any], path: tuple[Any, ...]) -> dict[Any, Any]:
        out = dict(b)
        for key, value in o.items():
            old = b.get(key, _MISSING)
            if (isinstance(value, Mapping) and isinstance(old, Mapping)
                    and not _is_schedule(old) and not _is_schedule(value)):
                out[key] = merge(old, value, (*path, key))
            else:
                if old is not _MISSING and replaced is not None:
                    replaced.add((*path, key))
                out[key] = value
        return out

    return merge(base, over, ())


def _merge_located(
    base: dict[Any, Any], base_locs: Locations, over: dict[Any, Any], over_locs: Locations
) -> tuple[dict[Any, Any], Locations]:
    """:func:`deep_merge` keeping the locations of the values that survive."""
    replaced: set[tuple[Any, ...]] = set()
    merged = deep_merge(base, over, replaced)
    if replaced:
        base_locs = {loc: v for loc, v in base_locs.items()
                     if not any(loc[:i] in replaced for i in range(1, len(loc) + 1))}
    return merged, {**base_locs, **over_locs}


@functools.cache
def _defaults() -> dict[str, Any]:
    return Scenario().model_dump(mode="python")


def _default_at(path: tuple[Any, ...]) -> Any:
    """Default of the value at ``path`` (a copy, as plain data), or ``_MISSING``."""
    node: Any = _defaults()
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return copy.deepcopy(node)


def _resolve_extends(
    data: dict[Any, Any],
    locations: Locations,
    file: str | None,
    base_dir: Path,
    chain: tuple[tuple[Path, str], ...],
) -> tuple[dict[Any, Any], Locations]:
    """Load the parents named by ``data["extends"]`` and merge ``data`` onto them."""
    if "extends" not in data:
        return data, locations
    spec = data.pop("extends")
    line = locations.get(("extends",), (file or "", 0))[1] or None
    locations = {k: v for k, v in locations.items() if k[:1] != ("extends",)}
    if spec is None:
        targets: list[str] = []
    elif isinstance(spec, str):
        targets = [spec]
    elif isinstance(spec, list) and all(isinstance(t, str) for t in spec):
        targets = list(spec)
    else:
        raise ScenarioError("wrong type", file=file, key="extends", line=line,
                            expected="a file name or a list of file names", found=_short(spec))
    if targets and len(chain) >= MAX_EXTENDS:
        raise ScenarioError(f"extends: chain is longer than {MAX_EXTENDS} files", file=file,
                            key="extends", line=line)
    merged: dict[Any, Any] = {}
    merged_locs: Locations = {}
    for target in targets:
        parent = _extends_path(target, base_dir, file, line)
        shown = os.path.normpath(parent)
        resolved = parent.resolve()
        if resolved in [p for p, _ in chain]:
            names = [name for _, name in chain] + [shown]
            raise ScenarioError(f"circular extends: {' -> '.join(names)}", file=file,
                                key="extends", line=line)
        if not parent.exists():
            raise ScenarioError(f"file not found: {shown}", file=file, key="extends", line=line)
        parent_data, parent_locs = _load_chain(Path(shown), (*chain, (resolved, shown)))
        merged, merged_locs = _merge_located(merged, merged_locs, parent_data, parent_locs)
    return _merge_located(merged, merged_locs, data, locations)


#: ``extends:`` prefixes naming the data shipped with povsim (the repository's ``calibration/``
#: and ``scenarios/``; the packages ``povsim.calibration_data`` and ``povsim.scenarios_data``
#: once installed), so a scenario can extend e.g. ``povsim:calibration/calibrated.yaml``
#: wherever it lives and however povsim was installed.
PACKAGE_PREFIXES = {"povsim:calibration/": "povsim.calibration_data",
                    "povsim:scenarios/": "povsim.scenarios_data"}


def _extends_path(target: str, base_dir: Path, file: str | None, line: int | None) -> Path:
    """The file an ``extends:`` entry names: relative to ``base_dir``, or shipped data."""
    if not target.startswith("povsim:"):
        return base_dir / target
    import importlib.resources

    for prefix, package in PACKAGE_PREFIXES.items():
        if target.startswith(prefix):
            name = target[len(prefix):]
            if not name or "/" in name or "\\" in name or name.startswith("."):
                break
            return Path(str(importlib.resources.files(package) / name))
    raise ScenarioError("unknown shipped file", file=file, key="extends", line=line,
                        expected="a file name, or povsim:calibration/NAME or "
                                 "povsim:scenarios/NAME for a file shipped with povsim",
                        found=_short(target))


def _load_chain(
    path: Path, chain: tuple[tuple[Path, str], ...]
) -> tuple[dict[Any, Any], Locations]:
    data, locations = load_yaml(path)
    return _resolve_extends(data, locations, str(path), path.parent, chain)


def load_with_extends(path: _PathLike) -> tuple[dict[Any, Any], Locations]:
    """Read a scenario file and the files it ``extends:``, merged into one mapping.

    ``extends:`` names a file (or a list of files, merged in order) relative to the directory of
    the extending file. Each parent is loaded the same way (recursively), then the child is
    merged onto it with :func:`deep_merge`. The ``extends`` key itself is removed.

    Parameters
    ----------
    path
        The scenario file.

    Returns
    -------
    tuple
        The merged mapping and its locations; each value's location is in the file that
        supplied it.

    Raises
    ------
    ScenarioError
        As :func:`load_yaml`, for a parent that does not exist, or for a circular chain (the
        message lists it).
    """
    p = Path(path)
    return _load_chain(p, ((p.resolve(), os.path.normpath(p)),))


# --------------------------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------------------------


def _as_int(part: str) -> int | None:
    return int(part) if re.fullmatch(r"[-+]?\d+", part) else None


def _container_key(node: Any, part: str, path: tuple[Any, ...], dotted: str) -> Any:
    """The key (or list index) that ``part`` of a dotted override key means in ``node``.

    Digits are a year (an integer key) in a mapping that has integer keys or none yet (a new
    schedule), and text in a mapping of names (``budget.sources.2016`` stays a name).
    """
    number = _as_int(part)
    if isinstance(node, list):
        if number is None or not 0 <= number < len(node):
            raise ScenarioError(
                f"cannot set {dotted!r}: {_dotted(path) or 'the scenario'} is a list of "
                f"{len(node)} items and {part!r} is not one of its indices",
                file=OVERRIDE_SOURCE, key=dotted)
        return number
    if part in node or number is None:
        return part
    if number in node or not any(isinstance(k, str) for k in node):
        return number
    return part


def _apply_one(data: dict[Any, Any], dotted: str, value: Any) -> tuple[Any, ...]:
    """Set one dotted key in ``data``; returns the key path actually used."""
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ScenarioError(f"bad override key {dotted!r}", file=OVERRIDE_SOURCE,
                            expected="a dotted key path")
    node: Any = data
    path: tuple[Any, ...] = ()
    for part in parts[:-1]:
        key = _container_key(node, part, path, dotted)
        here = (*path, key)
        child = node[key] if isinstance(node, list) else node.get(key, _MISSING)
        if child is _MISSING or child is None:
            default = _default_at(here) if child is _MISSING else _MISSING
            child = node[key] = default if isinstance(default, dict) else {}
        elif not isinstance(child, dict | list):
            raise ScenarioError(
                f"cannot set {dotted!r}: {_dotted(here)} is {_short(child)}, not a mapping",
                file=OVERRIDE_SOURCE, key=dotted,
                expected=f"a mapping at {_dotted(here)} (set the whole value instead)",
                found=_short(child))
        node, path = child, here
    key = _container_key(node, parts[-1], path, dotted)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar from a design grid: its plain Python value
    node[key] = value
    return (*path, key)


def apply_overrides(data: dict[Any, Any], overrides: Mapping[str, Any]) -> None:
    """Set dotted keys of scenario data in place.

    A part of the key made of digits is a year inside a dated mapping
    (``"lines.poverty.2017"``) and a list index inside lists
    (``"shocks.disasters.events.0.year"``). Missing intermediate mappings are created, starting
    from the default scenario's value at that key so that sibling defaults are kept.

    Parameters
    ----------
    data
        Scenario data (as read from YAML, or ``Scenario.model_dump()``); modified in place.
    overrides
        ``{"budget.scale": 0.7, "lines.poverty.2017": 3300}``.

    Raises
    ------
    ScenarioError
        A key is empty or passes through a value that is neither a mapping nor a list.
    """
    for dotted, value in overrides.items():
        _apply_one(data, str(dotted), value)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a command-line override ``KEY=VALUE``.

    The value is read as a YAML scalar or flow value with the same safe loader as scenario
    files: ``0.5`` is a float, ``2019`` an int, ``null`` is ``None``, ``[a, b]`` a list and
    ``{2015: 1}`` a mapping; an empty value is ``None``.

    Parameters
    ----------
    text
        For example ``"budget.scale=0.7"``.

    Returns
    -------
    tuple
        The dotted key and the value.

    Raises
    ------
    ScenarioError
        No ``=``, an empty key, or a value that is not valid YAML.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("bad override", file=OVERRIDE_SOURCE,
                            expected="KEY=VALUE, e.g. budget.scale=0.7", found=_short(text))
    value, _ = parse_text(raw.strip(), f"override {key}", mapping=False)
    return key, value


# --------------------------------------------------------------------------------------------
# validation: pydantic's errors (type, loc, ctx) in words
# --------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_parsing_size": "an integer",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "string_unicode": "text",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "none_required": "null",
}

_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
    "multiple_of": ("a multiple of", "multiple_of"),
}


def _number(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _error(e: Mapping[str, Any], file: str | None, where: dict[tuple[str, ...], tuple[str, int]]
           ) -> ScenarioError:
    """One pydantic error as a :class:`ScenarioError` at its key (file and line)."""
    loc = tuple(e["loc"])
    kind, ctx, value = e["type"], e.get("ctx") or {}, e.get("input")
    as_key = loc[-1:] == ("[key]",)
    path = loc[:-1] if as_key else loc
    found: str | None = _short(value)
    expected: str | None = None
    if kind in _TYPE_WORDS:
        message = "bad key" if as_key else "not finite" if kind == "finite_number" else "wrong type"
        expected = _TYPE_WORDS[kind]
        if kind == "int_type" and isinstance(value, float):
            expected = ("a whole number" if not value.is_integer()
                        else "an integer, written without a decimal point")
        if as_key:
            expected += " as key"
    elif kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        message, expected = "out of range", f"{op} {_number(ctx.get(name))}"
    elif kind == "literal_error":
        message, expected = "not an allowed choice", f"one of {ctx.get('expected')}"
    elif kind == "missing":
        message, found = "required key missing", None
    elif kind == "unknown_key":
        name = path[-1]
        close = difflib.get_close_matches(str(name), ctx["expected"][8:].split(", "), n=1)
        message = e["msg"] + (f" (did you mean {close[0]!r}?)" if close else "")
        expected, found = ctx["expected"], None
    else:  # povsim's own errors (schema.Problem) say what they found and expected in ctx
        message, found, expected = e["msg"], ctx.get("found"), ctx.get("expected")
    place: tuple[str, int] | None = None
    for i in range(len(path), 0, -1):
        place = where.get(tuple(str(k) for k in path[:i]))
        if place is not None:
            break
    return ScenarioError(message, file=place[0] if place else file, key=_dotted(path),
                         expected=expected, found=found,
                         line=(place[1] or None) if place else None)


def _key_paths(data: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key written in ``data`` (what the user set explicitly)."""
    out: set[str] = set()
    items = data.items() if isinstance(data, Mapping) else (
        enumerate(data) if isinstance(data, list) else ())
    for key, value in items:
        here = f"{prefix}{key}"
        out.add(here)
        out |= _key_paths(value, here + ".")
    return out


def build_scenario(
    data: Mapping[Any, Any],
    *,
    file: str | None = None,
    locations: Locations | None = None,
    explicit: set[str] | None = None,
) -> Scenario:
    """Validate scenario data.

    The data is merged onto the default scenario with :func:`deep_merge` (a partly written
    section keeps the defaults of the keys it does not mention) and validated by
    :class:`Scenario` with ``context={"explicit": ...}``: the years of the keys a user wrote are
    checked against the calendar.

    Parameters
    ----------
    data
        The merged mapping (``extends:`` resolved, overrides applied).
    file
        File the data came from, for messages (used when a key has no location).
    locations
        ``{key_path: (file, line)}`` as returned by :func:`load_yaml`.
    explicit
        Dotted keys the user wrote (checked against the calendar); by default every key of
        ``data``.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioErrors
        One :class:`ScenarioError` per problem, each naming the file, the dotted key, the line,
        what was expected and what was found.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError("expected a mapping at the top level", file=file, found=_short(data))
    if explicit is None:
        explicit = _key_paths(data)
    else:
        explicit = {".".join(key.split(".")[: i + 1]) for key in explicit
                    for i in range(key.count(".") + 1)}
    try:
        return Scenario.model_validate(deep_merge(_defaults(), data),
                                       context={"explicit": explicit})
    except ValidationError as exc:
        where = {tuple(str(k) for k in loc): v for loc, v in (locations or {}).items()}
        errors = [_error(e, file, where) for e in exc.errors(include_url=False)]
        raise ScenarioErrors(errors or [ScenarioError("invalid scenario", file=file)]) from None


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------


def _finish(
    data: dict[Any, Any],
    locations: Locations,
    file: str | None,
    overrides: Mapping[str, Any] | None,
) -> Scenario:
    for dotted, value in (overrides or {}).items():
        used = _apply_one(data, str(dotted), value)
        for loc in [k for k in locations if k[: len(used)] == used]:
            del locations[loc]
        locations[used] = (OVERRIDE_SOURCE, 0)
    return build_scenario(data, file=file, locations=locations)


def load_scenario(
    source: _PathLike | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """Load, merge, override and validate a scenario.

    Parameters
    ----------
    source
        A YAML file, the name of a file of the installed scenario library (``"baseline"``,
        ``"no_line_merge"``; used when no such file exists, see :mod:`povsim.library`), or a
        mapping of scenario data (its ``extends:``, if any, is resolved relative to the
        current directory).
    overrides
        Dotted-key overrides applied last (see :func:`apply_overrides`); values that come from
        them are reported as coming from ``overrides``.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Any problem with the file(s), the overrides or the values (:class:`ScenarioErrors` when
        validation finds several).
    """
    if isinstance(source, Mapping):
        data, locations = _resolve_extends(copy.deepcopy(dict(source)), {}, None, Path.cwd(), ())
        return _finish(data, locations, None, overrides)
    from povsim.library import resolve_scenario_path

    source = resolve_scenario_path(source)
    data, locations = load_with_extends(source)
    return _finish(data, locations, str(source), overrides)


def scenario_from_yaml_string(
    text: str, name: str = "<string>", overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """Validate a scenario written as a YAML string (handy in tests and notebooks).

    Parameters
    ----------
    text
        The YAML text of one scenario mapping.
    name
        Name used in place of a file in messages.
    overrides
        Dotted-key overrides applied last.

    Returns
    -------
    Scenario
        The validated scenario; ``extends:`` is resolved relative to the current directory.
    """
    data, locations = parse_text(text, name, mapping=True)
    data, locations = _resolve_extends(data, locations, name, Path.cwd(), ())
    return _finish(data, locations, name, overrides)
