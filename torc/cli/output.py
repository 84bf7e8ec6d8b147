"""Everything the CLI prints: aligned tables for people, JSON for scripts, progress on a terminal.

Commands build plain data (dicts and lists of dicts with JSON-able values) and hand it to
:func:`emit_records` or :func:`emit_object`; the global ``-f/--format`` decides how it is shown.
JSON output is always the complete data (every field, ``null`` included) so that scripts see
stable keys; tables show the columns a command chose and shorten long cells.
"""

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

#: Longest cell a table shows before cutting it with "…" (commands and JSON data get long).
MAX_CELL_WIDTH = 60


@dataclass(frozen=True)
class Column:
    """A table column: its header and how to get the cell from a record (a key or a function)."""

    header: str
    value: str | Callable[[dict], Any]

    def cell(self, record: dict) -> str:
        raw = self.value(record) if callable(self.value) else record.get(self.value)
        return format_cell(raw)


def columns(*specs: str | tuple[str, str | Callable[[dict], Any]]) -> list[Column]:
    """``columns("id", "name", ("category", lambda r: r["data"].get("category")))``."""
    return [Column(spec, spec) if isinstance(spec, str) else Column(*spec) for spec in specs]


def format_cell(value: Any, max_width: int | None = MAX_CELL_WIDTH) -> str:
    """One line of text for a value: nothing for null, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, str)) for v in value):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if max_width is None or len(text) <= max_width else text[: max_width - 1] + "…"


def render_table(records: Sequence[dict], cols: Sequence[Column]) -> str:
    """Columns padded to their widest cell; numbers are right-aligned."""
    cells = [[col.cell(record) for col in cols] for record in records]
    widths = [max([len(col.header)] + [len(row[i]) for row in cells]) for i, col in enumerate(cols)]
    numeric = [all(_is_number(row[i]) for row in cells) and bool(cells) for i in range(len(cols))]

    def line(row: Sequence[str]) -> str:
        padded = (text.rjust(w) if num else text.ljust(w) for text, w, num in zip(row, widths, numeric))
        return "  ".join(padded).rstrip()

    return "\n".join([line([c.header for c in cols]), line(["-" * w for w in widths]), *map(line, cells)])


def render_fields(record: dict) -> str:
    """A single object as ``key  value`` lines (values in full: there is room for them)."""
    width = max((len(key) for key in record), default=0)
    return "\n".join(f"{key.ljust(width)}  {format_cell(value, None)}".rstrip() for key, value in record.items())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == ""
    return True


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def emit_records(output_format: str, records: Sequence[dict], cols: Sequence[Column], empty: str = "(none)") -> None:
    """A list of records: a JSON array, or an aligned table (``empty`` when there are none)."""
    if output_format == "json":
        print_json(list(records))
    elif records:
        click.echo(render_table(records, cols))
    else:
        click.echo(empty)


def emit_object(output_format: str, record: dict, summary: str | None = None) -> None:
    """One object: JSON, or a sentence (``summary``) if given, else ``key value`` lines."""
    if output_format == "json":
        print_json(record)
    else:
        click.echo(summary if summary is not None else render_fields(record))


def record_of(model: Any) -> dict:
    """A generated model as plain JSON data with every field (nulls kept, for stable keys)."""
    return model.model_dump(mode="json", by_alias=True)


def records_of(models: Iterable[Any]) -> list[dict]:
    return [record_of(model) for model in models]


def iso_from_ms(milliseconds: int | None) -> str | None:
    """Event timestamps (ms since the epoch) as readable UTC for tables."""
    if milliseconds is None:
        return None
    return dt.datetime.fromtimestamp(milliseconds / 1000, dt.timezone.utc).isoformat(timespec="seconds")


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_step(message: str, enabled: bool | None = None):
    """``message ... 1.2 s`` on stderr around a slow step, only when stderr is a terminal.

    Piped or redirected output stays clean for scripts. The step's failure is reported by the
    caller's error handling, so a failed step just ends its line.
    """
    if enabled is None:
        enabled = stderr_is_terminal()
    if not enabled:
        yield
        return
    click.echo(f"{message} ...", nl=False, err=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        click.echo(" failed", err=True)
        raise
    click.echo(f" {time.monotonic() - started:.1f} s", err=True)
