"""Run one operation on many hosts at once, a bounded number at a time, one result per host.

A host that fails (unreachable, refused, a command error) yields its error message and never stops
the others; results come back in the order of the hosts so output is stable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from torc.remote import RemoteError

logger = logging.getLogger("torc.remote")

DEFAULT_MAX_CONNECTIONS = 16

T = TypeVar("T")


@dataclass
class HostResult(Generic[T]):
    """What ``operation`` returned for ``host``, or why it failed."""

    host: T
    value: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def for_each_host(hosts: Sequence[T], operation: Callable[[T], dict], max_connections: int = DEFAULT_MAX_CONNECTIONS) -> list[HostResult[T]]:
    """``operation(host)`` for every host, at most ``max_connections`` at a time."""
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(max_connections, len(hosts)), thread_name_prefix="torc-remote") as pool:
        return list(pool.map(lambda host: _attempt(host, operation), hosts))


def _attempt(host: T, operation: Callable[[T], dict]) -> HostResult[T]:
    try:
        return HostResult(host, value=operation(host))
    except RemoteError as exc:
        return HostResult(host, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one host's bug must not hide the others' results
        logger.debug("%s: unexpected error", host, exc_info=exc)
        return HostResult(host, error=f"unexpected error ({type(exc).__name__}: {exc}); rerun with --log-level debug for details")
