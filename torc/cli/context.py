"""State shared by every command: where the server is, how to print, and the one API connection.

The ``torc`` group stores a :class:`CliState` in the click context; commands receive it with
``@pass_state``. The connection is made on first use, so commands that need no server (``torc
workflows create --dry-run``, ``--help``) work without one.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import click

from torc.cli.output import Column, emit_object, emit_records
from torc.client import RetryPolicy, TorcApi, make_api


@dataclass
class CliState:
    url: str
    output_format: str = "table"
    skip_version_check: bool = False
    retry_seconds: float = 60.0
    _api: TorcApi | None = field(default=None, repr=False)

    @property
    def api(self) -> TorcApi:
        if self._api is None:
            self._api = make_api(
                self.url,
                skip_version_check=self.skip_version_check,
                retry=RetryPolicy(total_seconds=self.retry_seconds),
            )
        return self._api

    @property
    def json(self) -> bool:
        return self.output_format == "json"

    def records(self, records: Sequence[dict], cols: Sequence[Column], empty: str = "(none)") -> None:
        emit_records(self.output_format, records, cols, empty)

    def object(self, record: dict, summary: str | None = None) -> None:
        emit_object(self.output_format, record, summary)

    def use_url(self, url: str) -> None:
        """Talk to another server from now on (e.g. the private server of ``run --standalone``)."""
        self.close()
        self.url = url

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


pass_state = click.make_pass_decorator(CliState)

#: Record ids are 32-bit on the server: larger numbers are usage errors, not "URL not found".
ID = click.IntRange(min=0, max=2**31 - 1)
