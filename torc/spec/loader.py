"""Reading spec files: YAML, JSON, JSON5 and KDL into one plain document structure.

The format is chosen by file extension. Parse errors become SpecError with the parser's
line number; duplicate keys in a mapping are errors too (YAML and JSON parsers would keep
the last one silently, hiding a mistake).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import json5
import yaml

from . import kdl_format
from .errors import SpecError

_JSON5_ERROR_RE = re.compile(r"<string>:(\d+) (.*)", re.DOTALL)


def read_spec_file(path: str | PathLike) -> Any:
    """Parsed document of a spec file (not yet validated)."""
    path = Path(path)
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        raise SpecError(
            f"unsupported spec file extension '{path.suffix}': expected one of {', '.join(_PARSERS)}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec file is not valid UTF-8: {exc.reason}") from None
    except OSError as exc:
        raise SpecError(f"cannot read spec file: {exc.strerror or exc}") from None
    return parser(text)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise SpecError(f"duplicate key '{key}' in a JSON object")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise SpecError(f"invalid JSON value {name}")


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SpecError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None


def _parse_json5(text: str) -> Any:
    try:
        return json5.loads(text, object_pairs_hook=_reject_duplicates)
    except ValueError as exc:
        if isinstance(exc, SpecError):
            raise
        match = _JSON5_ERROR_RE.match(str(exc))
        if match:
            raise SpecError(f"invalid JSON5: {match.group(2)}", line=int(match.group(1))) from None
        raise SpecError(f"invalid JSON5: {exc}") from None


class _StrictYamlLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated within one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key '{key}'",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictYamlLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SpecError(f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    ".yaml": _parse_yaml,
    ".yml": _parse_yaml,
    ".json": _parse_json,
    ".json5": _parse_json5,
    ".kdl": kdl_format.parse_kdl,
}
