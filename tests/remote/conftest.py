"""Fixtures for ``torc remote`` tests: real sshd "hosts" on loopback addresses, a real server, and
the ``torc`` CLI run in-process with an ssh_config that reaches those hosts.

Every host is this machine and sees the same file system: the tests' output directories are
absolute paths under ``tmp_path``.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.remote.sshd_fixture import LocalSshd, SshHosts, sshd_hosts  # noqa: F401  (session fixture)
from tests.remote.support import Remote


@pytest.fixture
def ssh_dir(sshd_hosts: SshHosts, tmp_path) -> Path:  # noqa: F811
    """A private known_hosts (node1 and node2) and ssh_config for this test: it may add hosts and keys."""
    directory = tmp_path / "ssh"
    LocalSshd.write_client_files(sshd_hosts, directory)
    return directory


@pytest.fixture
def remote(api_url, ssh_dir) -> Remote:
    return Remote(api_url, ssh_dir / "ssh_config")


@pytest.fixture
def out(tmp_path) -> Path:
    """The workers' output directory; workers still running at the end of the test are killed."""
    path = tmp_path / "out"
    yield path
    for pid_file in path.glob("remote_worker_*.pid"):
        try:
            pid = int(pid_file.read_text())
            # Only our worker: its pid may belong to another process by now.
            if str(path).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except (ValueError, OSError):
            pass


@pytest.fixture(scope="module")
def stranger(sshd_hosts: SshHosts, tmp_path_factory):  # noqa: F811
    """A host whose key no known_hosts file lists (it accepts node1's client key)."""
    with LocalSshd("127.0.0.4", alias="stranger", client_key_path=sshd_hosts[0].client_key_path,
                   workdir=tmp_path_factory.mktemp("stranger")) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.5 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.5", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port on 127.0.0.6 that accepts connections and never says a word (a hung host)."""
    with socket.socket() as s:
        s.bind(("127.0.0.6", 0))
        s.listen(16)
        yield s.getsockname()[1]
