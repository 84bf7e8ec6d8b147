"""Everything the CLI prints: aligned tables for people, JSON for scripts, progress on a terminal.

Commands build plain data (dicts and lists of dicts with JSON-able values) and hand it to
:func:`emit_records` or :func:`emit_object`; the global ``-f/--format`` decides how it is shown.
JSON output is always the complete data (every field, ``null`` included) so that scripts see
stable keys; tables show the columns a command chose and shorten long cells.
"""

import datetime as dt
import json
import sys
import threading
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


class TerminalProgress:
    """Progress of a long command on stderr, shown only when stderr is a terminal.

    ``update(phase, done, total)`` (the signature of ``torc.spec``'s progress callbacks) shows a
    ``click.progressbar`` per phase of known size (jobs expanded, bytes uploaded); a phase of
    unknown size (``total`` 0) is a line whose elapsed time ticks until the next phase begins.
    Piped or redirected, nothing is written, so scripts see only the command's output.
    """

    #: Seconds between two redraws of a ticking line.
    TICK = 0.2

    def __init__(self, enabled: bool | None = None):
        self.enabled = stderr_is_terminal() if enabled is None else enabled
        self._phase: str | None = None
        self._bar = None
        self._ticker: tuple[threading.Thread, threading.Event, float] | None = None

    def update(self, phase: str, done: int, total: int) -> None:
        """``done`` of ``total`` in ``phase`` (``total`` 0: size unknown); a new phase ends the last."""
        if not self.enabled:
            return
        if phase != self._phase:
            self.finish()
            self._phase = phase
            if total > 0:
                self._bar = click.progressbar(length=total, label=phase[:1].upper() + phase[1:], file=click.get_text_stream("stderr"))
                self._bar.__enter__()
            else:
                self._start_ticker()
        if self._bar is not None:
            self._bar.update(done - self._bar.pos)

    def finish(self, outcome: str | None = None) -> None:
        """End the current phase; a ticking line ends with its time, or with ``outcome``."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        elif self._ticker is not None:
            thread, stop, started = self._ticker
            stop.set()
            thread.join()
            click.echo(f"\r{self._line(started)}" if outcome is None else f" {outcome}", err=True)
        self._bar = self._ticker = self._phase = None

    @contextmanager
    def running(self):
        """Around a block that calls :meth:`update`: ends its last phase, a ticking line with
        ``failed`` if the block raises (the caller's error handling says what went wrong)."""
        try:
            yield self
        except BaseException:
            self.finish("failed")
            raise
        self.finish()

    @contextmanager
    def step(self, message: str):
        """A phase of unknown size around a block."""
        with self.running():
            self.update(message, 0, 0)
            yield

    def _line(self, started: float) -> str:
        label = self._phase[:1].upper() + self._phase[1:]
        return f"{label} ... {time.monotonic() - started:.1f} s"

    def _start_ticker(self) -> None:
        started, stop = time.monotonic(), threading.Event()

        def tick():
            while not stop.wait(self.TICK):
                click.echo(f"\r{self._line(started)}", nl=False, err=True)

        click.echo(f"{self._phase[:1].upper() + self._phase[1:]} ...", nl=False, err=True)
        thread = threading.Thread(target=tick, name="torc-progress", daemon=True)
        thread.start()
        self._ticker = (thread, stop, started)
