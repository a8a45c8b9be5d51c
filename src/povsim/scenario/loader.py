"""Reading scenarios: safe YAML with line numbers, ``extends:``, overrides and validation.

A scenario file is one YAML mapping. It is parsed by libyaml (through :class:`yaml.CSafeLoader`,
the pure-Python loader where libyaml is missing) into a node graph that is checked before any
value is built: only the plain YAML types are allowed (never a Python object), duplicate keys
are refused, and so are alias bombs (their expansion is measured on the graph, not performed).
The line of every key is remembered so that validation errors can point at it. A file may start
from other files with ``extends:``; dotted-key overrides (``budget.scale=0.7``) are applied last.
Every problem is reported as a :class:`~povsim.errors.ScenarioError` (or
:class:`~povsim.errors.ScenarioErrors` when validation finds several), never as a traceback.

Typical use::

    scenario = load_scenario("scenarios/baseline.yaml", {"budget.scale": 0.7})
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
import reprlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from povsim.errors import ScenarioError, ScenarioErrors
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

Locations = dict[tuple[Any, ...], tuple[str, int]]
"""Where each key stands: ``{("budget", "scale"): ("scenario.yaml", 4), ...}`` (1-based lines)."""

#: Most alias uses (``*name``) accepted in one document.
MAX_ALIASES = 10_000
#: Most nodes a document may expand to once every alias is replaced by its anchor's content.
MAX_NODES = 1_000_000
#: Deepest nesting of mappings and lists accepted (scenarios are about six levels deep).
MAX_DEPTH = 100
#: Longest ``extends:`` chain accepted (a file, its parent, the parent's parent, ...).
MAX_EXTENDS = 32
#: Largest scenario file read, in bytes (the library's files are a few kB; a 5 MB file of
#: generated events validates in a few seconds).
MAX_BYTES = 10_000_000
#: Name given in place of a file to values that came from overrides (``--set KEY=VALUE``).
OVERRIDE_SOURCE = "overrides"

_PathLike = str | os.PathLike[str]

_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_TOP_KEYS = frozenset((*Scenario.model_fields, "extends"))

_MISSING = object()

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60
_repr.maxlevel = 3
_repr.maxdict = _repr.maxlist = 6


def _short(value: Any, limit: int = 60) -> str:
    """A short ``repr`` of something read from a file: messages never quote more than this."""
    text = _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dotted(path: Iterable[Any]) -> str | None:
    text = ".".join(str(p) if len(str(p)) <= 40 else str(p)[:37] + "..." for p in path)
    return text or None


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------

_CLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_CLoader):  # type: ignore[misc, valid-type]
    """libyaml's safe loader (where available) reading ``1e9`` as a number, resolving fast.

    Only composition (text to node graph) is used; :class:`_Builder` turns nodes into values.
    """

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._resolved: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """Tag of a node; plain scalars are resolved once per distinct text."""
        if kind is ScalarNode and implicit[0]:
            tag = self._resolved.get(value)
            if tag is None:
                tag = self._resolved[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


# YAML 1.1 reads ``1e9`` (no dot) as text; scenarios write money that way, so read it as a number.
_FLOAT_EXP = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _WordingLoader(yaml.SafeLoader):
    """The pure-Python parser, used only to word the errors libyaml finds."""


for _cls in (_Loader, _WordingLoader):
    _cls.add_implicit_resolver(_TAG + "float", _FLOAT_EXP, list("-+0123456789"))


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: Node, file: str) -> None:
    """Refuse node graphs that use too many aliases, expand too much, nest too deep or loop.

    A node reached a second time is an alias use. Sizes are computed once per distinct node,
    so a billion-laughs document is measured in a few hundred steps instead of being expanded.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    active: set[int] = set()
    aliases = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            active.discard(key)
            if size[key] > MAX_NODES:
                raise ScenarioError(
                    f"the file uses too many aliases/anchors: it expands to more than "
                    f"{MAX_NODES:,} values", file=file, line=_line(node))
            if height[key] > MAX_DEPTH:
                raise ScenarioError(
                    f"the document is nested too deeply (more than {MAX_DEPTH} levels once "
                    "aliases are expanded)", file=file, line=_line(node))
            continue
        if key in active:
            raise ScenarioError("an alias refers to a value that contains it (a recursive "
                                "anchor)", file=file, line=_line(node))
        if key in size:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ScenarioError(
                    f"the file uses too many aliases/anchors (more than {MAX_ALIASES:,} alias "
                    "uses); write the values out or use extends:", file=file, line=_line(node))
            continue
        size[key] = 0  # seen; the real size is set when the node is finished
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(_children(node)))


class _Builder:
    """Turns a checked node graph into plain dicts, lists and scalars, recording key lines.

    Written for speed (a 5 MB file has half a million nodes): one pass per mapping, scalars
    constructed once per distinct (tag, text).
    """

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.locations: Locations = {}
        self._scalars: dict[tuple[str, str], Any] = {}

    def build(self, node: Node, path: tuple[Any, ...] = (), depth: int = 1) -> Any:
        """Python value of ``node``, which stands at key path ``path``."""
        cls = node.__class__
        if cls is ScalarNode:
            return self._scalar(node, path)
        if depth > MAX_DEPTH:
            raise ScenarioError(f"the document is nested too deeply (more than {MAX_DEPTH} "
                                "levels)", file=self.file, line=_line(node))
        if cls is MappingNode:
            return self._mapping(node, path, depth)
        self._check_tag(node, _SEQ_TAG, path)
        out = []
        locations, file = self.locations, self.file
        for i, item in enumerate(node.value):
            here = (*path, i)
            locations[here] = (file, item.start_mark.line + 1)
            out.append(self.build(item, here, depth + 1))
        return out

    def _check_tag(self, node: Node, allowed: str | frozenset[str], path: tuple[Any, ...]) -> None:
        if node.tag not in allowed if isinstance(allowed, frozenset) else node.tag != allowed:
            raise ScenarioError(
                f"YAML tag {_short(_short_tag(node.tag))[1:-1]} is not allowed (a scenario holds "
                "only plain numbers, text, true/false, null, lists and mappings)",
                file=self.file, key=_dotted(path), line=_line(node))

    def _scalar(self, node: Node, path: tuple[Any, ...]) -> Any:
        key = (node.tag, node.value)
        try:
            return self._scalars[key]
        except KeyError:
            pass
        if node.__class__ is not ScalarNode:
            raise ScenarioError(
                "a mapping key must be a plain value (text or a number), not a list or mapping",
                file=self.file, key=_dotted(path), line=_line(node))
        self._check_tag(node, _SCALAR_TAGS, path)
        try:
            value = self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
            raise ScenarioError(f"cannot read {_short(node.value)} as {_short_tag(node.tag)}",
                                file=self.file, key=_dotted(path), line=_line(node)) from None
        self._scalars[key] = value
        return value

    def _pairs(self, node: MappingNode, path: tuple[Any, ...]) -> list[tuple[Node, Node]]:
        """Key/value node pairs of a mapping with YAML merge keys (``<<: *base``) resolved."""
        self._check_tag(node, _MAP_TAG, path)
        merged: list[tuple[Node, Node]] = []
        own: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = (
                [value_node] if isinstance(value_node, MappingNode)
                else list(reversed(value_node.value)) if isinstance(value_node, SequenceNode)
                else []
            )  # earlier mappings of a list win
            if not sources or not all(isinstance(s, MappingNode) for s in sources):
                raise ScenarioError("a merge key '<<' must refer to a mapping or a list of "
                                    "mappings", file=self.file, key=_dotted(path),
                                    line=_line(key_node))
            for source in sources:
                merged.extend(self._pairs(source, path))
        return merged + own

    def _mapping(self, node: MappingNode, path: tuple[Any, ...], depth: int) -> dict[Any, Any]:
        if node.tag != _MAP_TAG:
            self._check_tag(node, _MAP_TAG, path)
        pairs = node.value
        if any(k.tag == _MERGE_TAG for k, _ in pairs):
            self._duplicates(node, path)
            pairs = self._pairs(node, path)
            duplicates_checked = True
        else:
            duplicates_checked = False
        out: dict[Any, Any] = {}
        locations, file = self.locations, self.file
        for key_node, value_node in pairs:
            key = self._scalar(key_node, path)
            if key in out and not duplicates_checked:
                self._duplicates(node, path)
            here = (*path, key)
            locations[here] = (file, key_node.start_mark.line + 1)
            out[key] = self.build(value_node, here, depth + 1)
        return out

    def _duplicates(self, node: MappingNode, path: tuple[Any, ...]) -> None:
        """Refuse a key given twice in one mapping (merge keys aside), naming both lines."""
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._scalar(key_node, path)
            if key in first_line:
                raise ScenarioError(
                    f"duplicate key {_short(key, 40)} (first given on line {first_line[key]})",
                    file=self.file, key=_dotted((*path, key)), line=_line(key_node))
            first_line[key] = _line(key_node)


def _describe_node(node: Node | None) -> str:
    if node is None:
        return "an empty document"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _TAG + "null":
        return "null"
    kind = {"bool": "true/false", "int": "a number", "float": "a number", "str": "text"}
    word = kind.get(node.tag[len(_TAG) :], "a value")
    value = node.value.splitlines()[0] if isinstance(node.value, str) and node.value else ""
    return f"{word} {_short(value) if word == 'text' else value[:40]}"


def _yaml_wording(text: str, line: int) -> str | None:
    """The pure-Python parser's wording of the error libyaml found at ``line``.

    libyaml's messages are terser ("did not find expected key"); PyYAML says what it expected
    and found. Only the lines from the last top-level key before the error are re-read, so the
    cost is small whatever the size of the file.
    """
    lines = text.splitlines(keepends=True)
    if not lines:
        return None
    start = min(line, len(lines)) - 1
    while start > 0 and not (lines[start][:1].strip() and lines[start][0] not in "#-"):
        start -= 1
    try:
        for _ in yaml.parse("".join(lines[start : line + 1]), Loader=_WordingLoader):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and mark.line + 1 + start == line and exc.problem:
            return exc.problem
    except yaml.YAMLError:
        return None
    return None


def _parse_text(text: str, file: str, *, mapping: bool) -> tuple[Any, Locations]:
    """Parse one YAML document safely.

    Parameters
    ----------
    text
        The YAML text.
    file
        Name used in error messages and in the returned locations.
    mapping
        Require the document to be a scenario mapping (files); otherwise any value is returned
        (override values), an empty document giving ``None``.

    Returns
    -------
    tuple
        The value and the locations of its keys and list items.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # libyaml ends an unterminated last line with a newline of its own
        line = min(mark.line + 1, text.count("\n") + 1) if mark is not None else None
        if exc.context == "expected a single document in the stream":
            raise ScenarioError("the file holds more than one YAML document (separated by "
                                "'---'); a scenario is a single mapping", file=file,
                                line=line) from None
        problem = exc.problem or exc.context or "unreadable"
        if line is not None and isinstance(exc, yaml.scanner.ScannerError | yaml.parser.ParserError):
            problem = _yaml_wording(text, line) or problem.replace("did not find expected",
                                                                   "expected")
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise ScenarioError(f"malformed YAML: {problem}{context}", file=file,
                            line=line) from None
    except yaml.reader.ReaderError as exc:
        where = text.encode("utf-8")[: exc.position] if isinstance(exc.position, int) else b""
        raise ScenarioError(
            f"malformed YAML: unacceptable character #x{exc.character:04x} ({exc.reason})",
            file=file, line=where.count(b"\n") + 1) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {_short(str(exc), 80)}", file=file) from None
    finally:
        loader.dispose()
    if mapping and not isinstance(root, MappingNode):
        raise ScenarioError("expected a mapping at the top level (lines of 'key: value')",
                            file=file, found=_describe_node(root),
                            line=_line(root) if root is not None else None)
    if root is None:
        return None, {}
    if "&" in text:  # without anchors there are no aliases to check
        _check_expansion(root, file)
    builder = _Builder(loader, file)
    value = builder.build(root)
    if mapping:
        _check_is_scenario(value, file)
    return value, builder.locations


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
    file = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=file) from None
    except IsADirectoryError:
        raise ScenarioError("file not found: the path is a directory", file=file) from None
    except PermissionError:
        raise ScenarioError("cannot read the file: permission denied", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError(
            f"the file is larger than {MAX_BYTES / 1e6:g} MB, the most a scenario file may be",
            file=file, expected="a smaller file (split it with extends:)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
            "a scenario is a YAML text file",
            file=file, line=raw.count(b"\n", 0, exc.start) + 1) from None
    return _parse_text(text, file, mapping=True)


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
        parent = base_dir / target
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
    value, _ = _parse_text(raw.strip(), f"override {key}", mapping=False)
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
        A YAML file, or a mapping of scenario data (its ``extends:``, if any, is resolved
        relative to the current directory).
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
    data, locations = _parse_text(text, name, mapping=True)
    data, locations = _resolve_extends(data, locations, name, Path.cwd(), ())
    return _finish(data, locations, name, overrides)
