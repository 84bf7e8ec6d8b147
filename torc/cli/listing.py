"""The one way list commands fetch and show records: every list command is a call to :func:`show_list`.

Without ``--limit`` a list follows the server's pages to the end (the server caps a page at
10,000 records); with it, only the requested window is fetched.
"""

from collections.abc import Callable, Sequence
from itertools import islice

import click

from torc.cli.context import CliState
from torc.cli.output import Column, records_of
from torc.client.api import MAX_PAGE_SIZE


def page_options(command: Callable) -> Callable:
    """``--limit`` and ``--offset`` for a list command."""
    command = click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Skip this many records.")(command)
    return click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most this many records (default: all).")(command)


def fetch_records(state: CliState, list_method: Callable, *args, limit: int | None = None, offset: int = 0, **filters) -> list:
    """Items of a generated ``list_*`` operation; filters that are None are left out."""
    filters = {name: value for name, value in filters.items() if value is not None}
    page_size = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
    items = state.api.iter_items(list_method, *args, offset=offset, page_size=page_size, **filters)
    return list(islice(items, limit) if limit else items)


def show_list(
    state: CliState,
    list_method: Callable,
    *args,
    cols: Sequence[Column],
    limit: int | None = None,
    offset: int = 0,
    **filters,
) -> None:
    """Fetch records (see :func:`fetch_records`) and print them as a table or a JSON array."""
    state.records(records_of(fetch_records(state, list_method, *args, limit=limit, offset=offset, **filters)), cols)
