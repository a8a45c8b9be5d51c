"""Reading scenarios: safe YAML with line numbers, ``extends:``, overrides and validation.

A scenario file is one YAML mapping. It is read with a loader built on :class:`yaml.SafeLoader`
that never constructs Python objects, refuses duplicate keys and alias bombs, and remembers the
line of every key so that validation errors can point at it. A file may start from other files
with ``extends:``; dotted-key overrides (``budget.scale=0.7``) are applied last. Every problem is
reported as a :class:`~povsim.errors.ScenarioError` (or :class:`~povsim.errors.ScenarioErrors`
when pydantic finds several), never as a traceback.

Typical use::

    scenario = load_scenario("scenarios/baseline.yaml", {"budget.scale": 0.7})
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import reprlib
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from povsim.errors import ScenarioError, ScenarioErrors
from povsim.scenario.schema import EXPLICIT_KEYS, Scenario

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXTENDS",
    "MAX_NODES",
    "OVERRIDE_SOURCE",
    "Locations",
    "apply_overrides",
    "build_scenario",
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
#: Name given in place of a file to values that came from overrides (``--set KEY=VALUE``).
OVERRIDE_SOURCE = "overrides"

_PathLike = str | os.PathLike[str]

_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp"))

_MISSING = object()


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """A :class:`yaml.SafeLoader` that limits aliases and nesting and wants one document.

    Only composition (text to node graph) is done by this class; the nodes are turned into
    Python values by :class:`_Builder`, which checks tags, duplicates and records lines.
    """

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self.file = file
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        """Compose one node, counting alias uses and the nesting depth."""
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ScenarioError(
                    f"the file uses too many aliases/anchors (more than {MAX_ALIASES:,} alias "
                    "uses); write the values out or use extends:",
                    file=self.file,
                    line=mark.line + 1,
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ScenarioError(
                    f"the document is nested too deeply (more than {MAX_DEPTH} levels)",
                    file=self.file,
                    line=mark.line + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def get_single_node(self) -> Node | None:
        """The root node of the only document, ``None`` for an empty stream."""
        self.get_event()  # StreamStartEvent
        document = None
        if not self.check_event(yaml.StreamEndEvent):
            document = self.compose_document()
        if not self.check_event(yaml.StreamEndEvent):
            event = self.get_event()
            raise ScenarioError(
                "the file holds more than one YAML document (separated by '---'); a scenario "
                "is a single mapping",
                file=self.file,
                line=event.start_mark.line + 1,
            )
        self.get_event()  # StreamEndEvent
        return document


# YAML 1.1 reads ``1e9`` (no dot) as text; scenarios write money that way, so read it as a number.
_Loader.add_implicit_resolver(
    _TAG + "float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _dotted(path: Iterable[Any]) -> str | None:
    text = ".".join(str(p) for p in path)
    return text or None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: Node, file: str) -> None:
    """Refuse node graphs that expand too much (alias bombs), nest too deep or loop.

    Sizes are computed once per distinct node, so a billion-laughs document is measured in a
    few hundred steps instead of being expanded.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    done: set[int] = set()
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            active.discard(key)
            done.add(key)
            if size[key] > MAX_NODES:
                raise ScenarioError(
                    f"the file uses too many aliases/anchors: it expands to more than "
                    f"{MAX_NODES:,} values",
                    file=file,
                    line=_line(node),
                )
            if height[key] > MAX_DEPTH:
                raise ScenarioError(
                    f"the document is nested too deeply (more than {MAX_DEPTH} levels once "
                    "aliases are expanded)",
                    file=file,
                    line=_line(node),
                )
            continue
        if key in done:
            continue
        if key in active:
            raise ScenarioError(
                "an alias refers to a value that contains it (a recursive anchor)",
                file=file,
                line=_line(node),
            )
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children)


class _Builder:
    """Turns a checked node graph into plain dicts, lists and scalars, recording key lines."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.locations: Locations = {}

    def build(self, node: Node, path: tuple[Any, ...] = ()) -> Any:
        """Python value of ``node``, which stands at key path ``path``."""
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _SEQ_TAG, path)
            out = []
            for i, item in enumerate(node.value):
                self.locations[path + (i,)] = (self.file, _line(item))
                out.append(self.build(item, path + (i,)))
            return out
        return self._scalar(node, path)

    def _check_tag(self, node: Node, allowed: str | frozenset[str], path: tuple[Any, ...]) -> None:
        ok = node.tag in allowed if isinstance(allowed, frozenset) else node.tag == allowed
        if not ok:
            raise ScenarioError(
                f"YAML tag {_short_tag(node.tag)} is not allowed (a scenario holds only plain "
                "numbers, text, true/false, null, lists and mappings)",
                file=self.file,
                key=_dotted(path),
                line=_line(node),
            )

    def _scalar(self, node: Node, path: tuple[Any, ...]) -> Any:
        self._check_tag(node, _SCALAR_TAGS, path)
        try:
            return self.loader.construct_object(node)
        except (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
            raise ScenarioError(
                f"cannot read {node.value!r} as {_short_tag(node.tag)}",
                file=self.file,
                key=_dotted(path),
                line=_line(node),
            ) from None

    def _key(self, node: Node, path: tuple[Any, ...]) -> Any:
        if not isinstance(node, ScalarNode):
            raise ScenarioError(
                "a mapping key must be a plain value (text or a number), not a list or mapping",
                file=self.file,
                key=_dotted(path),
                line=_line(node),
            )
        return self._scalar(node, path)

    def _pairs(self, node: MappingNode, path: tuple[Any, ...]) -> list[tuple[Node, Node]]:
        """Key/value node pairs of a mapping with YAML merge keys (``<<: *base``) resolved."""
        self._check_tag(node, _MAP_TAG, path)
        merged: list[tuple[Node, Node]] = []
        own: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                own.append((key_node, value_node))
                continue
            if isinstance(value_node, MappingNode):
                sources = [value_node]
            elif isinstance(value_node, SequenceNode):
                sources = list(reversed(value_node.value))  # earlier mappings win
            else:
                sources = []
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise ScenarioError(
                        "a merge key '<<' must refer to a mapping or a list of mappings",
                        file=self.file,
                        key=_dotted(path),
                        line=_line(key_node),
                    )
                merged.extend(self._pairs(source, path))
            if not sources:
                raise ScenarioError(
                    "a merge key '<<' must refer to a mapping or a list of mappings",
                    file=self.file,
                    key=_dotted(path),
                    line=_line(key_node),
                )
        return merged + own

    def _mapping(self, node: MappingNode, path: tuple[Any, ...]) -> dict[Any, Any]:
        self._check_tag(node, _MAP_TAG, path)
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key in first_line:
                raise ScenarioError(
                    f"duplicate key {key!r} (first given on line {first_line[key]})",
                    file=self.file,
                    key=_dotted(path + (key,)),
                    line=_line(key_node),
                )
            first_line[key] = _line(key_node)
        out: dict[Any, Any] = {}
        for key_node, value_node in self._pairs(node, path):
            key = self._key(key_node, path)
            self.locations[path + (key,)] = (self.file, _line(key_node))
            out[key] = self.build(value_node, path + (key,))
        return out


def _describe_node(node: Node | None, loader: _Loader) -> str:
    if node is None:
        return "an empty document"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _TAG + "null":
        return "null"
    if node.tag in _SCALAR_TAGS:
        value = loader.construct_object(node)
        kind = {bool: "true/false", int: "a number", float: "a number", str: "text"}.get(
            type(value), "a value"
        )
        return f"{kind} {_short(value)}"
    return f"a value tagged {_short_tag(node.tag)}"


def _parse_text(text: str, file: str, *, mapping: bool) -> tuple[Any, Locations]:
    """Parse one YAML document safely.

    Parameters
    ----------
    text
        The YAML text.
    file
        Name used in error messages and in the returned locations.
    mapping
        Require the document to be a mapping (scenario files); otherwise any value is returned
        (override values), an empty document giving ``None``.

    Returns
    -------
    tuple
        The value and the locations of its keys and list items.
    """
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)
        root = loader.get_single_node()
        if mapping and not isinstance(root, MappingNode):
            raise ScenarioError(
                "expected a mapping at the top level (lines of 'key: value')",
                file=file,
                found=_describe_node(root, loader),
                line=_line(root) if root is not None else None,
            )
        if root is None:
            return None, {}
        _check_expansion(root, file)
        builder = _Builder(loader, file)
        value = builder.build(root)
        return value, builder.locations
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise ScenarioError(
            f"malformed YAML: {problem}{context}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except ReaderError as exc:
        raise ScenarioError(
            f"malformed YAML: unacceptable character #x{exc.character:04x} ({exc.reason})",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: _PathLike) -> tuple[dict[Any, Any], Locations]:
    """Read one YAML scenario file safely (``extends:`` is left as it is).

    Parameters
    ----------
    path
        The file to read (UTF-8).

    Returns
    -------
    tuple
        The top-level mapping, and the locations ``{key_path: (file, line)}`` of every key and
        list item; list items are keyed by their integer index.

    Raises
    ------
    ScenarioError
        The file is missing or unreadable, is not UTF-8, is malformed YAML, holds a tag other
        than the plain YAML types, a duplicate key, too many aliases, several documents, or is
        not a mapping.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError("file not found", file=file) from None
    except IsADirectoryError:
        raise ScenarioError("file not found: the path is a directory", file=file) from None
    except PermissionError:
        raise ScenarioError("cannot read the file: permission denied", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start})",
            file=file,
            line=raw.count(b"\n", 0, exc.start) + 1,
        ) from None
    data, locations = _parse_text(text, file, mapping=True)
    return data, locations


# --------------------------------------------------------------------------------------------
# extends
# --------------------------------------------------------------------------------------------


def _is_dated(value: Mapping[Any, Any]) -> bool:
    """A ``{year: value}`` mapping: it replaces, never merges (a schedule is one value)."""
    return bool(value) and all(isinstance(k, int) and not isinstance(k, bool) for k in value)


def _merge_into(
    base: dict[Any, Any], base_locs: Locations, over: dict[Any, Any], over_locs: Locations
) -> None:
    """Deep-merge ``over`` onto ``base`` in place, keeping the locations of surviving values.

    Mappings merge key by key; any other value of ``over`` (lists, scalars, ``None``, and
    dated ``{year: value}`` mappings) replaces the value of ``base``.
    """
    replaced: set[tuple[Any, ...]] = set()

    def merge(b: dict[Any, Any], o: dict[Any, Any], path: tuple[Any, ...]) -> None:
        for key, value in o.items():
            here = path + (key,)
            if isinstance(value, dict) and isinstance(b.get(key), dict) and not _is_dated(value):
                merge(b[key], value, here)
            else:
                if key in b:
                    replaced.add(here)
                b[key] = value

    merge(base, over, ())
    if replaced:
        for loc in list(base_locs):
            if any(loc[:i] in replaced for i in range(1, len(loc) + 1)):
                del base_locs[loc]
    base_locs.update(over_locs)


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
        raise ScenarioError(
            "wrong type",
            file=file,
            key="extends",
            expected="a file name or a list of file names",
            found=_short(spec),
            line=line,
        )
    if targets and len(chain) >= MAX_EXTENDS:
        raise ScenarioError(
            f"extends: chain is longer than {MAX_EXTENDS} files",
            file=file,
            key="extends",
            line=line,
        )
    merged: dict[Any, Any] = {}
    merged_locs: Locations = {}
    for target in targets:
        parent = base_dir / target
        shown = os.path.normpath(parent)
        resolved = parent.resolve()
        seen = [p for p, _ in chain]
        if resolved in seen:
            names = [name for _, name in chain] + [shown]
            raise ScenarioError(
                f"circular extends: {' -> '.join(names)}", file=file, key="extends", line=line
            )
        if not parent.exists():
            raise ScenarioError(f"file not found: {shown}", file=file, key="extends", line=line)
        parent_data, parent_locs = _load_chain(Path(shown), chain + ((resolved, shown),))
        _merge_into(merged, merged_locs, parent_data, parent_locs)
    _merge_into(merged, merged_locs, data, locations)
    return merged, merged_locs


def _load_chain(
    path: Path, chain: tuple[tuple[Path, str], ...]
) -> tuple[dict[Any, Any], Locations]:
    data, locations = load_yaml(path)
    return _resolve_extends(data, locations, str(path), path.parent, chain)


def load_with_extends(path: _PathLike) -> tuple[dict[Any, Any], Locations]:
    """Read a scenario file and the files it ``extends:``, merged into one mapping.

    ``extends:`` names a file (or a list of files, merged in order) relative to the directory of
    the extending file. Each parent is loaded the same way (recursively), then the child is
    deep-merged onto it: mappings merge key by key, anything else (numbers, text, lists,
    ``null``) is replaced by the child's value. The ``extends`` key itself is removed.

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
# the schema as a tree of types (for allowed keys, year keys and defaults)
# --------------------------------------------------------------------------------------------


def _candidates(annotation: Any) -> list[Any]:
    """The alternatives of a type annotation, without ``Annotated`` wrappers and ``None``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _candidates(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [c for arg in get_args(annotation) for c in _candidates(arg)]
    if annotation is type(None):
        return []
    return [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _registered_config(model: type[BaseModel], name: Any) -> type[BaseModel] | None:
    from povsim.registry import PATHWAYS, SHOCKS
    from povsim.scenario.schema import Pathways, Shocks

    table = PATHWAYS if model is Pathways else SHOCKS if model is Shocks else {}
    spec = table.get(name) if isinstance(name, str) else None
    return spec.config if spec is not None and _is_model(spec.config) else None


def _schema_at(path: tuple[Any, ...]) -> tuple[Any, FieldInfo | None] | None:
    """Annotation (and field, when a model field) of the value at ``path``; ``None`` if unknown."""
    annotation: Any = Scenario
    field: FieldInfo | None = None
    for part in path:
        for tp in _candidates(annotation):
            origin = get_origin(tp)
            if _is_model(tp) and part in tp.model_fields:
                field = tp.model_fields[part]
                annotation = field.annotation
                break
            if _is_model(tp) and (config := _registered_config(tp, part)) is not None:
                annotation, field = config, None
                break
            if origin is dict:
                annotation, field = get_args(tp)[1], None
                break
            if origin is list and isinstance(part, int):
                annotation, field = get_args(tp)[0], None
                break
        else:
            return None
    return annotation, field


def _allowed_keys(path: tuple[Any, ...]) -> list[str]:
    found = _schema_at(path)
    if found is None:
        return []
    for tp in _candidates(found[0]):
        if _is_model(tp):
            return list(tp.model_fields)
    return []


def _has_year_keys(path: tuple[Any, ...]) -> bool:
    found = _schema_at(path)
    if found is None:
        return False
    return any(get_origin(tp) is dict and get_args(tp)[0] is int for tp in _candidates(found[0]))


def _default_at(path: tuple[Any, ...]) -> Any:
    """Default of the field at ``path`` as plain data, or ``_MISSING``."""
    found = _schema_at(path)
    if found is None or found[1] is None:
        return _MISSING
    return _plain(found[1].get_default(call_default_factory=True))


def _plain(value: Any) -> Any:
    """``value`` with every pydantic model (at any depth) dumped to plain data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


# --------------------------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------------------------


def _as_int(part: str) -> int | None:
    return int(part) if re.fullmatch(r"[-+]?\d+", part) else None


def _container_key(node: Any, part: str, path: tuple[Any, ...], dotted: str) -> Any:
    """The key (or list index) that ``part`` of a dotted override key means in ``node``."""
    number = _as_int(part)
    if isinstance(node, list):
        if number is None or not 0 <= number < len(node):
            raise ScenarioError(
                f"cannot set {dotted!r}: {_dotted(path) or 'the scenario'} is a list of "
                f"{len(node)} items and {part!r} is not one of its indices",
                file=OVERRIDE_SOURCE,
                key=dotted,
            )
        return number
    if part in node or number is None:
        return part
    if number in node or any(isinstance(k, int) for k in node) or _has_year_keys(path):
        return number
    return part


def _apply_one(data: dict[Any, Any], dotted: str, value: Any) -> tuple[Any, ...]:
    """Set one dotted key in ``data``; returns the key path actually used."""
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ScenarioError(
            f"bad override key {dotted!r}", file=OVERRIDE_SOURCE, expected="a dotted key path"
        )
    node: Any = data
    path: tuple[Any, ...] = ()
    for part in parts[:-1]:
        key = _container_key(node, part, path, dotted)
        here = path + (key,)
        child = node[key] if isinstance(node, list) else node.get(key, _MISSING)
        if isinstance(child, BaseModel):
            child = child.model_dump(mode="python")
            node[key] = child
        elif child is _MISSING:
            default = _default_at(here)
            child = default if isinstance(default, dict) else {}
            node[key] = child
        elif child is None:
            child = {}
            node[key] = child
        elif not isinstance(child, dict | list):
            raise ScenarioError(
                f"cannot set {dotted!r}: {_dotted(here)} is {_short(child)}, not a mapping",
                file=OVERRIDE_SOURCE,
                key=dotted,
                expected=f"a mapping at {_dotted(here)} (set the whole value instead)",
                found=_short(child),
            )
        node, path = child, here
    key = _container_key(node, parts[-1], path, dotted)
    node[key] = value
    return path + (key,)


def apply_overrides(data: dict[Any, Any], overrides: Mapping[str, Any]) -> None:
    """Set dotted keys of scenario data in place.

    A part of the key that looks like an integer is used as an integer key when the mapping
    already has integer keys or the schema makes it a ``{year: value}`` mapping
    (``"lines.poverty.2017"``), and as a list index inside lists
    (``"shocks.disasters.events.0.year"``). Missing intermediate mappings are created, starting
    from the schema's default for that key so that sibling defaults are kept.

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
        raise ScenarioError(
            "bad override",
            file=OVERRIDE_SOURCE,
            expected="KEY=VALUE, e.g. budget.scale=0.7",
            found=_short(text),
        )
    value, _ = _parse_text(raw.strip(), f"override {key}", mapping=False)
    return key, value


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlevel = 3
_repr.maxdict = 6
_repr.maxlist = 6


def _short(value: Any, limit: int = 60) -> str:
    text = _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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

_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\.[\w-]+)*): (.+)$", re.DOTALL)
_UNKNOWN_NAME = re.compile(r"^unknown [\w ]+? '([^']+)'")


def _number(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _walk(data: Any, parts: Iterable[Any]) -> tuple[tuple[Any, ...], Any, list[Any]]:
    """Follow ``parts`` through ``data``.

    Returns the path of keys actually present (digit strings matched to int keys or list
    indices), the value there (``_MISSING`` when the path left the data early) and the parts
    that could not be followed.
    """
    node = data
    path: list[Any] = []
    parts = list(parts)
    for i, part in enumerate(parts):
        number = _as_int(part) if isinstance(part, str) else None
        if isinstance(node, dict):
            if part in node:
                key = part
            elif number is not None and number in node:
                key = number
            else:
                return tuple(path), _MISSING, parts[i:]
            path.append(key)
            node = node[key]
        elif isinstance(node, list):
            index = part if isinstance(part, int) and not isinstance(part, bool) else number
            if index is None or not 0 <= index < len(node):
                return tuple(path), _MISSING, parts[i:]
            path.append(index)
            node = node[index]
        else:
            return tuple(path), _MISSING, parts[i:]
    return tuple(path), node, []


class _Problem:
    """One pydantic error with its loc split into the data path and the union branch taken."""

    def __init__(self, error: dict[str, Any], data: Any) -> None:
        self.error = error
        self.type: str = error["type"]
        self.key_error = False
        self.union_at: tuple[Any, ...] | None = None
        self.branch: str | None = None
        path: list[Any] = []
        node = data
        for part in error["loc"]:
            if node is _MISSING:
                path.append(part)
                continue
            present = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if present:
                path.append(part)
                node = node[part]
            elif part == "[key]":
                self.key_error = True
            elif (
                isinstance(part, str)
                and self.branch is None
                and self.type != "missing"
                and part not in _allowed_keys(tuple(path))
            ):
                # a union member tag such as 'constrained-float' or 'dict[int,constrained-float]'
                self.union_at, self.branch = tuple(path), part
            elif isinstance(part, str) and self.branch is not None and self.type != "missing":
                continue  # a nested union tag
            else:
                path.append(part)
                node = _MISSING
        self.path = tuple(path)

    @property
    def mismatch(self) -> bool:
        """True when this union branch simply does not fit the input's type."""
        return self.path == self.union_at and self.type in _TYPE_WORDS and not self.key_error

    def expected(self) -> str | None:
        e = self.error
        if self.type in _TYPE_WORDS:
            word = _TYPE_WORDS[self.type]
            if self.key_error:
                return f"{word} as key"
            if word == "a mapping" and (self.branch or "").startswith("dict[int,"):
                return "a mapping {year: value}"
            return word
        if self.type in _BOUNDS:
            op, name = _BOUNDS[self.type]
            return f"{op} {_number((e.get('ctx') or {}).get(name))}"
        if self.type == "literal_error":
            return f"one of {(e.get('ctx') or {}).get('expected')}"
        return None


def _convert(
    exc: ValidationError, data: Any, file: str | None, locations: Locations
) -> list[ScenarioError]:
    """One :class:`ScenarioError` per problem pydantic found (union alternatives combined)."""
    problems = [_Problem(e, data) for e in exc.errors(include_url=False)]
    by_union: dict[tuple[Any, ...], list[_Problem]] = {}
    for p in problems:
        if p.union_at is not None:
            by_union.setdefault(p.union_at, []).append(p)
    where = {tuple(str(k) for k in loc): v for loc, v in locations.items()}
    out: list[ScenarioError] = []
    handled: set[tuple[Any, ...]] = set()
    for p in problems:
        if p.union_at is None:
            out.append(_to_error(p, data, file, where))
            continue
        if p.union_at in handled:
            continue
        handled.add(p.union_at)
        group = by_union[p.union_at]
        branches: dict[str, list[_Problem]] = {}
        for q in group:
            branches.setdefault(q.branch or "", []).append(q)
        fitting = [qs for qs in branches.values() if not all(q.mismatch for q in qs)]
        if fitting:
            out.extend(_to_error(q, data, file, where) for q in fitting[0])
            continue
        words = list(dict.fromkeys(w for q in group if (w := q.expected())))
        out.append(
            _make_error(
                "wrong type",
                p.union_at,
                file,
                where,
                expected=" or ".join(words) or None,
                found=_short(p.error.get("input")),
            )
        )
    return out


def _make_error(
    message: str,
    path: tuple[Any, ...],
    file: str | None,
    where: dict[tuple[str, ...], tuple[str, int]],
    *,
    expected: str | None = None,
    found: str | None = None,
) -> ScenarioError:
    """A :class:`ScenarioError` located at ``path`` (file and line of its longest known prefix)."""
    place: tuple[str, int] | None = None
    for i in range(len(path), 0, -1):
        place = where.get(tuple(str(k) for k in path[:i]))
        if place is not None:
            break
    return ScenarioError(
        message,
        file=place[0] if place else file,
        key=_dotted(path),
        expected=expected,
        found=found,
        line=(place[1] or None) if place else None,
    )


def _unknown_key(
    path: tuple[Any, ...],
    file: str | None,
    where: dict[tuple[str, ...], tuple[str, int]],
) -> ScenarioError:
    """The error for a key the schema does not know, with the keys allowed at that level."""
    name = path[-1]
    allowed = _allowed_keys(path[:-1])
    message = f"unknown key {name!r}"
    close = difflib.get_close_matches(str(name), allowed, n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    expected = f"one of: {', '.join(allowed)}" if allowed else None
    return _make_error(message, path, file, where, expected=expected)


def _to_error(
    p: _Problem, data: Any, file: str | None, where: dict[tuple[str, ...], tuple[str, int]]
) -> ScenarioError:
    e = p.error
    path = p.path
    found: str | None = _short(e.get("input"))
    if p.type in ("extra_forbidden", "invalid_key") and path:
        return _unknown_key(path, file, where)
    if p.type in ("value_error", "assertion_error"):
        ctx_error = (e.get("ctx") or {}).get("error")
        message = str(ctx_error) if ctx_error is not None else e["msg"]
        prefix = _PREFIX.match(message)
        if prefix and "." not in prefix.group(1):
            _, node, rest = _walk(data, path)
            if not (isinstance(node, dict) and prefix.group(1) in node):
                prefix = None  # a plain word before a colon, not a key
        if prefix:
            parts = prefix.group(1).split(".")
            message = prefix.group(2)
            walked, value, rest = _walk(data, [*path, *parts])
            path = walked + tuple(rest)
            found = _short(value) if value is not _MISSING and not rest else None
            if message.startswith("Extra inputs are not permitted") and path:
                return _unknown_key(path, file, where)
        unknown = _UNKNOWN_NAME.match(message)
        _, node, rest = _walk(data, path)
        if unknown and not rest:
            name = unknown.group(1)
            if isinstance(node, dict) and name in node:
                path, found = path + (name,), None
            elif isinstance(node, list) and name in node:
                path, found = path + (node.index(name),), repr(name)
        return _make_error(message, path, file, where, found=found)
    if p.type in _TYPE_WORDS:
        message = "wrong type" if not p.key_error else "bad key"
    elif p.type in _BOUNDS:
        message = "out of range"
    elif p.type == "literal_error":
        message = "not an allowed choice"
    elif p.type == "missing":
        message, found = "required key missing", None
    else:
        message = e["msg"]
    return _make_error(message, path, file, where, expected=p.expected(), found=found)


def build_scenario(
    data: Mapping[Any, Any],
    *,
    file: str | None = None,
    locations: Locations | None = None,
    explicit: set[str] | None = None,
) -> Scenario:
    """Validate scenario data.

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
        explicit = {p for key in explicit for p in _prefixes(key)}
    merged = _with_defaults(data)
    token = EXPLICIT_KEYS.set(explicit)
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        errors = _convert(exc, data, file, locations or {})
        if not errors:
            errors = [ScenarioError(str(exc), file=file)]
        raise ScenarioErrors(errors) from None
    finally:
        EXPLICIT_KEYS.reset(token)


def _prefixes(key: str) -> set[str]:
    """``"a.b.c"`` -> ``{"a", "a.b", "a.b.c"}``."""
    parts = key.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def _key_paths(data: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key written in ``data`` (what the user set explicitly)."""
    out: set[str] = set()
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{prefix}{key}"
            out.add(here)
            out |= _key_paths(value, here + ".")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out |= _key_paths(value, f"{prefix}{i}.")
    return out


def _with_defaults(data: Mapping[Any, Any]) -> dict[Any, Any]:
    """``data`` deep-merged onto the default scenario, so a partly written section keeps the
    defaults of the keys it does not mention (mappings merge; other values replace)."""
    import copy

    base = Scenario().model_dump(mode="python", exclude_unset=False)

    def merge(b: Any, o: Any) -> Any:
        if isinstance(b, dict) and isinstance(o, Mapping) and not _is_dated(o):
            out = dict(b)
            for key, value in o.items():
                out[key] = merge(b[key], value) if key in b else copy.deepcopy(value)
            return out
        return copy.deepcopy(o)

    return merge(base, data)


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
        data = copy.deepcopy(dict(source))
        data, locations = _resolve_extends(data, {}, None, Path.cwd(), ())
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
