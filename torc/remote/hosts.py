"""Worker addresses ``[user@]host[:port]`` and worker files listing them, one per line.

The server stores the addresses per workflow as strings; here they are parsed once, checked with
messages that point at the offending line, and written back in one canonical spelling so that
``remove-worker`` finds what ``add-workers`` stored. IPv6 addresses are always in brackets
(``[::1]``, ``[2001:db8::1]:2222``) because their colons would otherwise read as a port.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from torc.remote import RemoteError

#: Host names, ssh_config aliases, IPv4 addresses and user names: the characters the server
#: accepts, which also keeps shell and ssh_config metacharacters out.
_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*\Z")


@dataclass(frozen=True)
class WorkerAddress:
    """Where one remote worker runs. ``host`` may be an ssh_config alias; ``user``/``port`` are
    None when the address leaves them to ``~/.ssh/config`` (or the defaults: you, port 22)."""

    host: str
    user: str | None = None
    port: int | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return f"{self.user + '@' if self.user else ''}{host}{f':{self.port}' if self.port else ''}"

    @property
    def endpoint(self) -> tuple[str, int | None]:
        """What makes two addresses the same worker: one host and port, whatever the user."""
        return self.host.lower(), self.port

    @property
    def label(self) -> str:
        """A file-name-safe name for this worker (pid and log files, collected log folders)."""
        return self.host.replace(":", "_") + (f"_{self.port}" if self.port else "")


def parse_worker(text: str) -> WorkerAddress:
    """``[user@]host[:port]``; raises :class:`RemoteError` saying what is wrong with ``text``."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        raise RemoteError(f"{text!r} is not a [user@]host[:port] worker address")
    user, at, rest = text.rpartition("@")
    if at and not _NAME.match(user):
        raise RemoteError(f"{text!r}: invalid user name {user!r}")
    port_text = ""
    if rest.startswith("["):
        host, bracket, after = rest[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise RemoteError(f"{text!r}: an IPv6 address must be written [address] or [address]:port")
        host, port_text = _ipv6(text, host), after[1:]
        if after and not port_text:
            raise RemoteError(f"{text!r}: missing port after ':'")
    elif rest.count(":") > 1:
        host = _ipv6(text, rest)  # a bare IPv6 address: no port possible
    else:
        host, colon, port_text = rest.partition(":")
        if colon and not port_text:
            raise RemoteError(f"{text!r}: missing port after ':'")
        if not _NAME.match(host):
            raise RemoteError(f"{text!r}: invalid host name {host!r}")
    return WorkerAddress(host=host, user=user or None, port=_port(text, port_text) if port_text else None)


def _ipv6(text: str, host: str) -> str:
    try:
        return ipaddress.IPv6Address(host).compressed
    except ValueError:
        raise RemoteError(f"{text!r}: {host!r} is not an IPv6 address") from None


def _port(text: str, port: str) -> int:
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise RemoteError(f"{text!r}: port {port!r} is not a number from 1 to 65535")
    return int(port)


def parse_worker_lines(lines: Iterable[str], source: str) -> list[WorkerAddress]:
    """The addresses of a worker file: blank lines and ``#`` comments are skipped; errors and
    duplicates name ``source`` and the line."""
    entries = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            entries.append((f"{text} (line {number})", parse_worker(text)))
        except RemoteError as exc:
            raise RemoteError(f"{source}, line {number}: {exc}") from None
    try:
        reject_duplicates(entries)
    except RemoteError as exc:
        raise RemoteError(f"{source}: {exc}") from None
    return [address for _, address in entries]


def read_worker_file(path: str | Path) -> list[WorkerAddress]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise RemoteError(f"cannot read worker file {path}: {exc.strerror or exc}") from None
    return parse_worker_lines(text.splitlines(), str(path))


def reject_duplicates(entries: Iterable[tuple[str, WorkerAddress]]) -> None:
    """Raise for the first address whose host and port appeared before; each ``(description,
    address)`` entry is described in the message by its description.

    A host listed twice would get two workers writing the same pid and log files.
    """
    seen: dict[tuple[str, int | None], str] = {}
    for description, address in entries:
        if address.endpoint in seen:
            raise RemoteError(
                f"duplicate worker: {description} has the same host and port as {seen[address.endpoint]}; "
                "list each host once"
            )
        seen[address.endpoint] = description
