"""Parameter values (``"1:100"``, ``"[1,5,10]"``, ...) and ``{name:fmt}`` templates.

Parameterization turns one job/file/user_data entry into many. The syntax follows upstream
torc's ``parameter_expansion.rs``; where upstream is ambiguous this module is stricter
(empty value lists, bad format specs and unknown template names are errors).

Combinations are tuples of *indices* into each parameter's value list, and every template
is compiled once per entry with each value pre-formatted, so rendering one expanded job is
a few list lookups and a join: a 100,000-job sweep costs no per-job formatting or parsing.
"""

from __future__ import annotations

import decimal
import itertools
import math
import re
from dataclasses import dataclass

from .errors import Context

ParamValue = int | float | str

# Protects against a typo like "1:1e9" turning into a hang instead of an error.
MAX_COMBINATIONS = 10_000_000

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
# {name} or {name:spec}, not preceded by '$' so shell ${VAR} and ${files.input.x} survive;
# braces with spaces or other characters ({print $1}, {a,b}) are never templates.
_TEMPLATE_RE = re.compile(rf"(?<!\$)\{{({IDENTIFIER})(?::([^{{}}]*))?\}}")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_values(raw: object, ctx: Context) -> list[ParamValue]:
    """All values of one parameter, from its spec string (or a native YAML/JSON value)."""
    if isinstance(raw, bool) or raw is None:
        raise ctx.error(f"expected a string, number or list of values, got {raw!r}")
    if isinstance(raw, (int, float)):
        values: list[ParamValue] = [raw]
    elif isinstance(raw, list):
        values = [_native_item(item, ctx.at(i)) for i, item in enumerate(raw)]
    elif isinstance(raw, str):
        values = _parse_string(raw, ctx)
    else:
        raise ctx.error(f"expected a string, number or list of values, got {type(raw).__name__}")
    if not values:
        raise ctx.error(f"parameter {raw!r} has no values")
    return values


def _native_item(item: object, ctx: Context) -> ParamValue:
    if isinstance(item, bool) or not isinstance(item, (int, float, str)):
        raise ctx.error(f"parameter values must be strings or numbers, got {item!r}")
    return item


def _parse_string(text: str, ctx: Context) -> list[ParamValue]:
    body = text.strip()
    # Upstream tolerates "{1:100}" because users confuse values with templates.
    if body.startswith("{") and body.endswith("}") and "," not in body:
        body = body[1:-1].strip()
    if body.startswith("[") and body.endswith("]"):
        return _parse_list(body[1:-1], ctx)
    if ":" in body:
        return _parse_range(body, ctx)
    return [_scalar(body)]


def _scalar(token: str) -> ParamValue:
    if _INT_RE.fullmatch(token):
        return int(token)
    if _FLOAT_RE.fullmatch(token):
        return float(token)
    return token


def _parse_list(body: str, ctx: Context) -> list[ParamValue]:
    """Items of ``[1, 5, 'a,b', "c"]``: quoted items are strings, the rest scalars."""
    if not body.strip():
        return []
    items: list[ParamValue] = []
    pos = 0
    while True:
        while pos < len(body) and body[pos].isspace():
            pos += 1
        if pos < len(body) and body[pos] in "'\"":
            end = body.find(body[pos], pos + 1)
            if end < 0:
                raise ctx.error(f"unterminated quote in list [{body}]")
            items.append(body[pos + 1 : end])
            pos = end + 1
            comma = body.find(",", pos)
            rest = body[pos : comma if comma >= 0 else len(body)]
            if rest.strip():
                raise ctx.error(f"unexpected {rest.strip()!r} after quoted item in list [{body}]")
        else:
            comma = body.find(",", pos)
            token = body[pos : comma if comma >= 0 else len(body)].strip()
            if not token:
                raise ctx.error(f"empty item in list [{body}]")
            items.append(_scalar(token))
        if comma < 0:
            return items
        pos = comma + 1


def _parse_range(body: str, ctx: Context) -> list[ParamValue]:
    """Inclusive ``start:end[:step]`` over integers, or over decimals (computed exactly)."""
    parts = [part.strip() for part in body.split(":")]
    if len(parts) not in (2, 3):
        raise ctx.error(f"invalid range {body!r}: expected 'start:end' or 'start:end:step'")
    if len(parts) == 2:
        parts.append("1")
    if all(_INT_RE.fullmatch(part) for part in parts):
        start, end, step = (int(part) for part in parts)
        convert = int
    elif all(_FLOAT_RE.fullmatch(part) for part in parts):
        # Decimal arithmetic makes "0.0:1.0:0.1" end exactly at 1.0, without float drift.
        start, end, step = (decimal.Decimal(part) for part in parts)
        convert = float
    else:
        raise ctx.error(f"invalid range {body!r}: start, end and step must be numbers")
    if step == 0:
        raise ctx.error(f"invalid range {body!r}: step cannot be zero")
    count = max(0, math.floor((end - start) / step) + 1)
    if count == 0:
        raise ctx.error(f"range {body!r} is empty")
    if count > MAX_COMBINATIONS:
        raise ctx.error(f"range {body!r} has {count} values (limit {MAX_COMBINATIONS})")
    return [convert(start + k * step) for k in range(count)]


def format_value(value: ParamValue, spec: str = "") -> str:
    """Text of a value in a template: Python format spec if given, else upstream's rendering.

    Floats render like Rust's ``Display`` (shortest round-trip, never an exponent, no
    trailing ``.0``) so expanded names match those upstream torc creates.
    """
    if spec:
        return format(value, spec)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(decimal.Decimal(text), "f")
        return text[:-2] if text.endswith(".0") else text
    return str(value)


@dataclass(frozen=True)
class Template:
    """A string with holes for several parameters, pre-split into literals and values.

    ``parts`` holds literal strings and ``(position, texts)`` pairs where ``texts[i]`` is the
    rendering of the parameter's i-th value.
    """

    parts: tuple[str | tuple[int, tuple[str, ...]], ...]

    def render(self, combo: tuple[int, ...]) -> str:
        return "".join(part if part.__class__ is str else part[1][combo[part[0]]] for part in self.parts)


@dataclass(frozen=True)
class Lookup:
    """A template using a single parameter (the common case): all renderings precomputed."""

    position: int
    texts: tuple[str, ...]

    @classmethod
    def build(cls, position: int, parts: tuple) -> Lookup:
        count = next(len(part[1]) for part in parts if part.__class__ is not str)
        texts = [""] * count
        for part in parts:  # part by part, as whole-list operations: fast for big sweeps
            if part.__class__ is str:
                texts = [text + part for text in texts]
            else:
                texts = [text + value for text, value in zip(texts, part[1])]
        return cls(position, tuple(texts))

    def render(self, combo: tuple[int, ...]) -> str:
        return self.texts[combo[self.position]]


@dataclass(frozen=True)
class Literal:
    """A template without holes."""

    text: str

    def render(self, combo: tuple[int, ...]) -> str:
        return self.text


@dataclass(frozen=True)
class ParameterSet:
    """The parameters of one spec entry, with values in declaration order."""

    names: tuple[str, ...]
    values: tuple[tuple[ParamValue, ...], ...]

    @classmethod
    def from_dict(cls, params: dict[str, list[ParamValue]]) -> ParameterSet:
        return cls(tuple(params), tuple(tuple(v) for v in params.values()))

    def combinations(self, mode: str, ctx: Context) -> list[tuple[int, ...]]:
        """Index tuples of every expansion: Cartesian product, or element-wise for zip."""
        lengths = [len(v) for v in self.values]
        if mode == "zip":
            if len(set(lengths)) > 1:
                sizes = ", ".join(f"{n} has {k}" for n, k in zip(self.names, lengths))
                raise ctx.error(f"parameter_mode 'zip' needs parameters of equal length: {sizes}")
            count = lengths[0] if lengths else 1
            return [(k,) * len(self.names) for k in range(count)]
        total = math.prod(lengths)
        if total > MAX_COMBINATIONS:
            raise ctx.error(f"parameters expand to {total} combinations (limit {MAX_COMBINATIONS})")
        return list(itertools.product(*(range(n) for n in lengths)))

    def describe(self, combo: tuple[int, ...]) -> str:
        """``"i=3, lr=0.01"``: the values that produced one expansion, for messages."""
        return ", ".join(
            f"{name}={format_value(values[k])}" for name, values, k in zip(self.names, self.values, combo)
        )

    def compile(self, text: str, ctx: Context, *, regex: bool = False) -> Template | Lookup | Literal:
        """Compile ``text``; values inserted into a regex are escaped so they match literally.

        Entries without parameters are never scanned, so their braces stay as written
        (upstream compatibility). In parameterized entries an unknown ``{name}`` is an error.
        """
        if not self.names:
            return Literal(text)
        parts = self._split(text, ctx, regex)
        positions = {part[0] for part in parts if part.__class__ is not str}
        if not positions:
            return Literal(text)
        if len(positions) > 1:
            return Template(parts)
        return Lookup.build(positions.pop(), parts)

    def _split(self, text: str, ctx: Context, regex: bool) -> tuple:
        """Literal strings and ``(position, texts)`` holes of ``text``."""
        parts: list = []
        last = 0
        for match in _TEMPLATE_RE.finditer(text):
            name, spec = match.group(1), match.group(2) or ""
            if name not in self.names:
                raise ctx.error(
                    f"unknown parameter '{name}' in {text!r} (parameters: {', '.join(self.names)}); "
                    f"if this is not a template, add a space inside the braces, e.g. '{{ {name} }}'"
                )
            position = self.names.index(name)
            texts = [self._format(name, value, spec, ctx) for value in self.values[position]]
            parts.append(text[last : match.start()])
            parts.append((position, tuple(re.escape(t) for t in texts) if regex else tuple(texts)))
            last = match.end()
        parts.append(text[last:])
        return tuple(part for part in parts if part != "")

    @staticmethod
    def _format(name: str, value: ParamValue, spec: str, ctx: Context) -> str:
        try:
            return format_value(value, spec)
        except (ValueError, TypeError) as exc:
            raise ctx.error(f"cannot format {name}={value!r} with '{{{name}:{spec}}}': {exc}") from None
