"""KDL specs -> the same document structure a YAML/JSON spec parses to.

Mapping (the one upstream's example ``.kdl`` files use, made regular):

* A top-level node with one argument is a workflow field: ``name "wf"``, ``user "me"``,
  ``compute_node_wait_for_new_jobs_seconds 120``, ``use_pending_failed #true``.
* ``parameters { i "1:10" }`` and ``slurm_defaults { mail-type "END" }`` are mappings: each
  child is a key with one value (several arguments make a list). Properties work too.
* Entry nodes append to a list: ``job``, ``file``, ``user_data``, ``resource_requirements``,
  ``failure_handler``, ``slurm_scheduler`` (their first argument is the ``name``) and
  ``action`` (no name). ``resource_monitor { ... }`` is a single object.
* Inside an entry, properties and children are fields: ``file "f" path="f.txt"`` equals
  ``file "f" { path "f.txt" }``. List fields may be repeated, take several arguments, and be
  written singular: ``depends_on_job "a"``, ``input_file "x"``, ``use_parameters "a" "b"``,
  in actions ``job``/``jobs`` and ``command``, in rules ``exit_codes 10 11``.
  A ``failure_handler`` holds its rules as ``rule { ... }`` children.
* A string ``data`` of ``user_data`` is parsed as JSON text (as upstream); a number or
  boolean is taken as it is.
* Values: strings, numbers (integers stay integers), ``#true``/``#false``/``#null``.

Unknown node names become fields, so the schema reports them exactly like a YAML typo.

kdl-py implements KDL 1.0 while upstream's examples use KDL 2.0 keywords, so the text is
first translated: ``#true``/``#false``/``#null`` -> ``true``/``false``/``null``, v2 raw
strings ``#"..."#`` -> ``r#"..."#``, and the terminator KDL 2 allows to omit before ``}``
(``a { b 1 }``) is added. Other KDL 2-only syntax (multi-line ``\"\"\"`` strings, bare
identifier values) and type annotations are reported as errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import kdl

from .errors import SpecError


@dataclass(frozen=True)
class _Kind:
    """How the children of one kind of node map to document fields."""

    named: bool = True  # the first argument is the "name" field
    lists: dict[str, str] = field(default_factory=dict)  # node name -> list field
    maps: tuple[str, ...] = ()  # children that are mappings
    entries: dict[str, tuple[str, _Kind]] = field(default_factory=dict)  # node -> (list field, kind)
    objects: dict[str, _Kind] = field(default_factory=dict)  # node -> single nested object
    json_fields: tuple[str, ...] = ()  # string values holding JSON text


def _aliases(**fields: tuple[str, ...]) -> dict[str, str]:
    """``depends_on=("depends_on_job",)`` -> {"depends_on": ..., "depends_on_job": ...}."""
    return {alias: name for name, extra in fields.items() for alias in (name, *extra)}


_PARAMETERIZED = _aliases(use_parameters=("use_parameter",))
_JOB = _Kind(
    lists=_PARAMETERIZED
    | _aliases(
        depends_on=("depends_on_job",),
        depends_on_regexes=("depends_on_regex",),
        input_files=("input_file",),
        output_files=("output_file",),
        input_file_regexes=("input_file_regex",),
        output_file_regexes=("output_file_regex",),
        input_user_data=(),
        output_user_data=(),
        input_user_data_regexes=("input_user_data_regex",),
        output_user_data_regexes=("output_user_data_regex",),
    ),
    maps=("parameters",),
)
_FILE = _Kind(lists=_PARAMETERIZED, maps=("parameters",))
_USER_DATA = _Kind(lists=_PARAMETERIZED, maps=("parameters",), json_fields=("data",))
_RULE = _Kind(named=False, lists=_aliases(exit_codes=("exit_code",)))
_ACTION = _Kind(
    named=False,
    lists=_aliases(jobs=("job",), job_name_regexes=("job_name_regex",), commands=("command",)),
)
_WORKFLOW = _Kind(
    named=False,
    maps=("parameters", "slurm_defaults"),
    entries={
        "job": ("jobs", _JOB),
        "file": ("files", _FILE),
        "user_data": ("user_data", _USER_DATA),
        "resource_requirements": ("resource_requirements", _Kind()),
        "failure_handler": ("failure_handlers", _Kind(entries={"rule": ("rules", _RULE)})),
        "slurm_scheduler": ("slurm_schedulers", _Kind()),
        "action": ("actions", _ACTION),
    },
    objects={"resource_monitor": _Kind(named=False, lists=_aliases(metrics=("metric",)))},
)

_PARSE_ERROR_RE = re.compile(r"(\d+):(\d+) parse error: (.*)", re.DOTALL)


def parse_kdl(text: str) -> dict:
    """Document of a KDL spec."""
    try:
        document = kdl.parse(
            _v2_to_v1(text), kdl.ParseConfig(nativeUntaggedValues=False, nativeTaggedValues=False)
        )
    except kdl.ParseError as exc:
        match = _PARSE_ERROR_RE.match(str(exc))
        if match is None:
            raise SpecError(f"invalid KDL: {exc}") from None
        line, column, message = match.groups()
        raise SpecError(f"invalid KDL: {message} (column {column})", line=int(line)) from None
    result: dict[str, Any] = {}
    _add_children(result, document.nodes, _WORKFLOW, "")
    return result


def _convert_node(node: kdl.Node, kind: _Kind, where: str) -> dict:
    """An entry or object node -> mapping (name argument, properties, children)."""
    _reject_tag(node, where)
    result: dict[str, Any] = {}
    if kind.named:
        if len(node.args) != 1:
            raise _error(where, f"node '{node.name}' needs exactly one argument, its name")
        result["name"] = _value(node.args[0], where)
    elif node.args:
        raise _error(where, f"node '{node.name}' takes no arguments, only children")
    for key, raw in node.props.items():
        _set_once(result, key, _field_value(kind, key, raw, f"{where}.{key}"), where)
    _add_children(result, node.nodes, kind, where)
    return result


def _add_children(result: dict, nodes: list[kdl.Node], kind: _Kind, where: str) -> None:
    counts: dict[str, int] = {}
    for child in nodes:
        name = child.name
        path = f"{where}.{name}" if where else name
        _reject_tag(child, path)
        if name in kind.entries:
            key, entry_kind = kind.entries[name]
            index = counts[key] = counts.get(key, -1) + 1
            entry_path = f"{where}.{key}[{index}]" if where else f"{key}[{index}]"
            result.setdefault(key, []).append(_convert_node(child, entry_kind, entry_path))
        elif name in kind.objects:
            _set_once(result, name, _convert_node(child, kind.objects[name], path), where)
        elif name in kind.maps:
            _set_once(result, name, _mapping(child, path), where)
        elif name in kind.lists:
            _leaf_only(child, path)
            result.setdefault(kind.lists[name], []).extend(_value(arg, path) for arg in child.args)
        else:
            _leaf_only(child, path)
            if len(child.args) != 1:
                raise _error(path, f"node '{name}' needs exactly one value, got {len(child.args)}")
            _set_once(result, name, _field_value(kind, name, child.args[0], path), where)


def _mapping(node: kdl.Node, where: str) -> dict:
    """``parameters { i "1:3" }`` or ``parameters i="1:3"`` -> {"i": "1:3"}."""
    if node.args:
        raise _error(where, f"node '{node.name}' takes no arguments, only children")
    result = {key: _value(raw, f"{where}.{key}") for key, raw in node.props.items()}
    for child in node.nodes:
        path = f"{where}.{child.name}"
        _reject_tag(child, path)
        _leaf_only(child, path)
        values = [_value(arg, path) for arg in child.args]
        if not values:
            raise _error(path, f"node '{child.name}' needs a value")
        _set_once(result, child.name, values[0] if len(values) == 1 else values, where)
    return result


def _error(where: str, message: str) -> SpecError:
    return SpecError(f"KDL {message}", field=where or None)


def _leaf_only(node: kdl.Node, where: str) -> None:
    if node.props or node.nodes:
        raise _error(where, f"node '{node.name}' takes only values, not properties or children")


def _set_once(result: dict, key: str, value: Any, where: str) -> None:
    if key in result:
        raise _error(f"{where}.{key}" if where else key, f"'{key}' is given more than once")
    result[key] = value


def _reject_tag(node: kdl.Node, where: str) -> None:
    if node.tag is not None:
        raise _error(where, f"type annotation ({node.tag}) is not supported")


def _field_value(kind: _Kind, key: str, raw: Any, where: str) -> Any:
    value = _value(raw, where)
    if key in kind.json_fields and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _error(where, f"'{key}' must hold JSON text: {exc}") from None
    return value


def _value(raw: Any, where: str) -> Any:
    """kdl-py value object -> str, int, float, bool or None."""
    if getattr(raw, "tag", None) is not None:
        raise _error(where, f"type annotation ({raw.tag}) is not supported")
    if isinstance(raw, kdl.Decimal):
        if isinstance(raw.mantissa, int) and raw.exponent >= 0:
            return raw.mantissa * 10**raw.exponent
        return float(raw.value)
    if isinstance(raw, (kdl.Stringish, kdl.Numberish, kdl.Bool)):
        return raw.value
    if isinstance(raw, kdl.Null):
        return None
    raise _error(where, f"unsupported value {raw!r}")


# --- KDL 2 -> KDL 1 translation ----------------------------------------------------------

_KEYWORD_RE = re.compile(r"#(true|false|null)(?![\w\-.])")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_RAW_OPEN_RE = re.compile(r'r?(#*)"')


def _v2_to_v1(text: str) -> str:
    """Rewrite the KDL 2 constructs upstream specs use into KDL 1 (see module docstring).

    Strings and comments are copied untouched; line numbers are preserved.
    """
    out: list[str] = []
    last = "\n"  # last significant character on the current line, outside strings/comments
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' and text.startswith('"""', i):
            line = text.count("\n", 0, i) + 1
            raise SpecError('KDL multi-line strings (""") are not supported; use \\n escapes', line=line)
        raw = _RAW_OPEN_RE.match(text, i) if c in "r#" and not _in_identifier(text, i) else None
        if raw:
            closing = '"' + raw.group(1)
            end = text.find(closing, raw.end())
            end = n if end < 0 else end + len(closing)
            out.append(("" if c == "r" else "r") + text[i:end])
            i, last = end, '"'
            continue
        keyword = _KEYWORD_RE.match(text, i) if c == "#" else None
        if keyword:
            out.append(" " + keyword.group(1))
            i, last = keyword.end(), "x"
            continue
        if c == '"':
            string = _STRING_RE.match(text, i)
            end = string.end() if string else n
            out.append(text[i:end])
            i, last = end, '"'
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        if text.startswith("/*", i):
            end = _block_comment_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        if c == "}" and last not in "\n{;":
            out.append(";")
        if c == "\n" or not c.isspace():
            last = c
        out.append(c)
        i += 1
    return "".join(out)


def _in_identifier(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_-.")


def _block_comment_end(text: str, start: int) -> int:
    """Index after the ``*/`` closing the (possibly nested) comment opened at ``start``."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)
