"""Safe YAML for scenarios: libyaml parsing, checked before any value is built.

A document is parsed by libyaml (through :class:`yaml.CSafeLoader`; the pure-Python loader
where libyaml is missing). A plain scenario mapping — no anchors, aliases or merge keys, the
usual case — is built straight from the parser's events (:func:`_parse_events`: a 5 MB file in
about a second); any other document, and any document with a problem, is composed into a node
graph that is checked first: only the plain YAML types are allowed (never a Python object),
duplicate keys are refused, and so are alias bombs, whose expansion is measured on the graph
instead of being performed. Both paths give the same values, lines and errors. The line of every key and list
item is recorded so that later errors can point at it. Every problem is a
:class:`~povsim.errors.ScenarioError` naming the file and the line, quoting at most a short
excerpt of what was read.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from povsim.errors import ScenarioError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "USES_LIBYAML", "Locations",
           "parse_text", "read_text"]

Locations = dict[tuple[Any, ...], tuple[str, int]]
"""Where each key stands: ``{("budget", "scale"): ("scenario.yaml", 4), ...}`` (1-based lines)."""

#: Most alias uses (``*name``) accepted in one document.
MAX_ALIASES = 10_000
#: Most nodes a document may expand to once every alias is replaced by its anchor's content.
MAX_NODES = 1_000_000
#: Deepest nesting of mappings and lists accepted (scenarios are about six levels deep).
MAX_DEPTH = 100
#: Largest scenario file read, in bytes (the library's files are a few kB; a 5 MB file of
#: generated events validates in a few seconds).
MAX_BYTES = 10_000_000
_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp"))

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
#: True when documents are parsed by libyaml (PyYAML built with it), the fast path
USES_LIBYAML: bool = _CLoader is not yaml.SafeLoader


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


class _Fallback(Exception):
    """The document needs the node-graph path (anchors, merge keys or a problem to word)."""


def _parse_events(text: str, file: str) -> tuple[dict[Any, Any], Locations] | None:
    """The fast path of :func:`parse_text`: a plain scenario mapping built from parser events.

    Composing a node graph costs several Python objects per value (a 5 MB file has half a
    million); most scenarios need none of what the graph is for (anchors, aliases and merge
    keys, whose expansion is checked on it). This builds the values and their locations straight
    from libyaml's events, with the same resolution and construction of scalars as
    :class:`_Builder`. It returns ``None`` — and :func:`parse_text` then takes the node-graph
    path, which words every error — whenever the document is not a single mapping free of
    anchors, aliases and merge keys with allowed tags, unique keys and constructible scalars, or
    the parser reports any problem.
    """
    loader = _Loader(text)
    try:
        return _build_events(loader, file)
    except (_Fallback, yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def _build_events(loader: _Loader, file: str) -> tuple[dict[Any, Any], Locations]:
    get = loader.get_event
    constructors = loader.yaml_constructors
    resolve = loader.resolve
    resolved = loader._resolved  # plain scalars' tags, by text (filled by resolve)
    scalars: dict[tuple[str, str], Any] = {}
    locations: Locations = {}
    scalar_ev, map_ev, seq_ev = (yaml.ScalarEvent, yaml.MappingStartEvent,
                                 yaml.SequenceStartEvent)
    end_evs = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    if get().__class__ is not yaml.StreamStartEvent or get().__class__ is not yaml.DocumentStartEvent:
        raise _Fallback
    first = get()
    if first.__class__ is not map_ev or first.anchor is not None or first.tag not in (
            None, "!", _MAP_TAG):
        raise _Fallback
    root: dict[Any, Any] = {}
    # frames: [container, is_mapping, path, key waiting for its value (mappings), depth]
    stack: list[list[Any]] = [[root, True, (), _NO_KEY, 1]]
    while stack:
        ev = get()
        cls = ev.__class__
        frame = stack[-1]
        container, is_map, path, key, depth = frame
        if cls in end_evs:
            if key is not _NO_KEY:
                raise _Fallback
            stack.pop()
            continue
        if ev.anchor is not None:
            raise _Fallback
        if cls is scalar_ev:
            tag = ev.tag
            if tag is None or tag == "!":
                tag = resolved.get(ev.value) if ev.implicit[0] else None
                if tag is None:
                    tag = resolve(ScalarNode, ev.value, ev.implicit)
            ck = (tag, ev.value)
            try:
                value = scalars[ck]
            except KeyError:
                if tag not in _SCALAR_TAGS:
                    raise _Fallback from None
                node = ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
                try:
                    value = constructors[tag](loader, node)
                except Exception:  # worded by the node-graph path
                    raise _Fallback from None
                scalars[ck] = value
            if is_map and key is _NO_KEY:  # a key
                if value in container or tag == _MERGE_TAG:
                    raise _Fallback
                locations[(*path, value)] = (file, ev.start_mark.line + 1)
                frame[3] = value
                continue
        elif cls is map_ev or cls is seq_ev:
            if is_map and key is _NO_KEY:  # a mapping key must be a scalar
                raise _Fallback
            if depth + 1 > MAX_DEPTH:
                raise _Fallback
            if ev.tag not in (None, "!", _MAP_TAG if cls is map_ev else _SEQ_TAG):
                raise _Fallback
            value = {} if cls is map_ev else []
        else:  # an alias, or anything unexpected
            raise _Fallback
        if is_map:
            here = (*path, key)
            container[key] = value
            frame[3] = _NO_KEY
        else:
            here = (*path, len(container))
            locations[here] = (file, ev.start_mark.line + 1)
            container.append(value)
        if cls is not scalar_ev:
            stack.append([value, cls is map_ev, here, _NO_KEY, depth + 1])
    if get().__class__ is not yaml.DocumentEndEvent or get().__class__ is not yaml.StreamEndEvent:
        raise _Fallback  # a second document: the node-graph path says so
    return root, locations


#: marks a mapping frame whose next scalar is a key
_NO_KEY = object()


def parse_text(text: str, file: str, *, mapping: bool) -> tuple[Any, Locations]:
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
    fast = _parse_events(text, file)
    if fast is not None:
        return fast
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
        if line is not None and isinstance(exc, yaml.scanner.ScannerError
                                           | yaml.parser.ParserError):
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
    except RecursionError:  # the pure-Python composer (no libyaml) on absurd nesting
        raise ScenarioError(f"the document is nested too deeply (more than {MAX_DEPTH} levels)",
                            file=file) from None
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
    return builder.build(root), builder.locations


def read_text(path: str | Path) -> str:
    """The text of a scenario file (UTF-8, a BOM allowed, at most :data:`MAX_BYTES`).

    Raises
    ------
    ScenarioError
        The file is missing, a directory, unreadable, too large or not UTF-8 text.
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
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
            "a scenario is a YAML text file",
            file=file, line=raw.count(b"\n", 0, exc.start) + 1) from None
