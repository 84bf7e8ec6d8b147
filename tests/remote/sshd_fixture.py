"""A real OpenSSH server on a loopback address, for testing torc's SSH workers.

Each :class:`LocalSshd` runs its own ``/usr/sbin/sshd -D -e`` with a private
config, host key, client key and ``authorized_keys`` in a temporary directory,
listening on ``127.0.0.x`` and a free high port. Several instances on different
loopback addresses look like different hosts to the client::

    with LocalSshd("127.0.0.2", alias="node1") as a, LocalSshd("127.0.0.3", alias="node2") as b:
        known_hosts, ssh_config = LocalSshd.write_client_files([a, b], tmpdir)
        subprocess.run(["ssh", "-F", ssh_config, "node1", "hostname"])

In pytest, use the ``sshd_hosts`` fixture (two hosts per test session): import it
into the test module or a conftest with
``from tests.remote.sshd_fixture import sshd_hosts``.

Requires Debian's ``openssh-server`` (``tests/remote/install_sshd.sh``); the
fixture runs that script itself when running as root and sshd is missing.
Only loopback addresses are accepted: tests must not listen anywhere else.
"""

from __future__ import annotations

import dataclasses
import getpass
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

import pytest

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
INSTALL_SCRIPT = Path(__file__).with_name("install_sshd.sh")


class SshdError(RuntimeError):
    """sshd could not be started; the message includes its log."""


def ensure_sshd_installed() -> None:
    """Install openssh-server (as root) if /usr/sbin/sshd is missing.

    Raises SshdError when it is missing and cannot be installed here.
    """
    if os.access(SSHD, os.X_OK) and shutil.which(SSH_KEYGEN):
        return
    if os.geteuid() != 0:
        raise SshdError(f"{SSHD} is missing; run tests/remote/install_sshd.sh as root")
    subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True)


def _free_port(host: str) -> int:
    # Ask the kernel for a free port on this address. Another process could
    # take it before sshd binds it; start() retries with a new port then.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class LocalSshd:
    """One sshd process on ``host:port`` (host must be a 127.x.y.z address).

    Attributes after :meth:`start`: ``host``, ``port``, ``alias``, ``user``,
    ``client_key_path`` (private key accepted by this server),
    ``host_public_key`` (``"ssh-ed25519 AAAA..."``), ``known_hosts_line``,
    ``workdir``, ``log_path``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        alias: str | None = None,
        user: str | None = None,
        client_key_path: str | os.PathLike[str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"LocalSshd only listens on loopback addresses, not {host!r}")
        self.host = host
        self.port = port or 0
        self._fixed_port = port is not None
        self.alias = alias or f"sshd-{host.replace('.', '-')}"
        self.user = user or getpass.getuser()
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="torc-sshd-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._shared_client_key = Path(client_key_path) if client_key_path else None
        self.client_key_path = self._shared_client_key or self.workdir / "client_ed25519"
        self.host_key_path = self.workdir / "ssh_host_ed25519_key"
        self.authorized_keys_path = self.workdir / "authorized_keys"
        self.config_path = self.workdir / "sshd_config"
        self.pid_path = self.workdir / "sshd.pid"
        self.log_path = self.workdir / "sshd.log"
        self.host_public_key = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    # ------------------------------------------------------------------ setup
    def _make_keys(self) -> None:
        if not self.host_key_path.exists():
            _keygen(self.host_key_path, f"torc-test-host-{self.alias}")
        if not self.client_key_path.exists():
            _keygen(self.client_key_path, f"torc-test-client-{self.alias}")
        # The host public key is what a client must trust (known_hosts).
        self.host_public_key = " ".join(
            self.host_key_path.with_suffix(".pub").read_text().split()[:2]
        )
        pub = Path(str(self.client_key_path) + ".pub").read_text()
        self.authorized_keys_path.write_text(pub)
        self.authorized_keys_path.chmod(0o600)

    def _write_config(self) -> None:
        self.config_path.write_text(
            "\n".join(
                [
                    "# Generated by torc tests/remote/sshd_fixture.py",
                    f"ListenAddress {self.host}:{self.port}",
                    f"HostKey {self.host_key_path}",
                    f"PidFile {self.pid_path}",
                    # Keys live in the temp dir, not in ~/.ssh.
                    f"AuthorizedKeysFile {self.authorized_keys_path}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    # PAM would need /etc/pam.d setup and is irrelevant here.
                    "UsePAM no",
                    # The temp dir and key files are ours but perms under /tmp
                    # vary; don't let sshd reject them.
                    "StrictModes no",
                    # Tests run as root; keys only.
                    "PermitRootLogin prohibit-password",
                    "Subsystem sftp internal-sftp",
                    # No reverse DNS lookups: each would delay logins.
                    "UseDNS no",
                    # Tests may open many connections at once (parallel
                    # workers): the default MaxStartups 10:30:100 randomly
                    # drops connections beyond 10 unauthenticated ones.
                    "MaxStartups 200",
                    "MaxSessions 100",
                    # bash sources ~/.bashrc for commands run by sshd, but only in a
                    # top-level shell: with SHLVL set it skips it. The hosts then run
                    # commands in a clean shell, not in the developer's interactive
                    # setup (pyenv init alone costs ~0.3 s a command and takes a lock
                    # that concurrent sessions contend for).
                    "SetEnv SHLVL=1",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    # -------------------------------------------------------------- lifecycle
    def start(self) -> "LocalSshd":
        if self._proc is not None:
            return self
        ensure_sshd_installed()
        # Privilege-separation directory, normally made by systemd-tmpfiles
        # (absent here: no systemd). sshd refuses to start without it.
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except PermissionError:
            pass  # non-root: sshd then runs without privilege separation
        self._make_keys()
        attempts = 1 if self._fixed_port else 5
        last_error = ""
        for _ in range(attempts):
            if not self._fixed_port:
                self.port = _free_port(self.host)
            self._write_config()
            try:
                self._spawn_and_wait()
                return self
            except SshdError as exc:
                last_error = str(exc)
                self._stop_process()
                if "Address already in use" not in last_error:
                    break
        raise SshdError(last_error)

    def _spawn_and_wait(self) -> None:
        self._log_file = open(self.log_path, "ab")
        # sshd must be run by absolute path (it re-executes itself).
        # -D: stay in the foreground so we own the process; -e: log to stderr.
        # New session: close() can signal the whole group, including the
        # per-connection sshd children.
        self._proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise SshdError(
                    f"sshd on {self.host}:{self.port} exited with {self._proc.returncode}:\n"
                    + self.log_text()
                )
            if self._banner_ok():
                return
            if time.monotonic() > deadline:
                raise SshdError(
                    f"sshd on {self.host}:{self.port} not accepting connections after "
                    f"{self.start_timeout}s:\n" + self.log_text()
                )
            time.sleep(0.02)

    def _banner_ok(self) -> bool:
        # Reading the SSH banner proves it is *our* sshd on that port, not
        # merely that something accepts connections.
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                s.settimeout(1.0)
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self) -> None:
        """Stop sshd (and its connection children); remove the temp dir we made."""
        self._stop_process()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "LocalSshd":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- client
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def known_hosts_line(self) -> str:
        """known_hosts entry for this server, by address and by alias."""
        return f"[{self.host}]:{self.port},[{self.alias}]:{self.port} {self.host_public_key}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @staticmethod
    def write_client_files(
        servers: Iterable["LocalSshd"], directory: str | os.PathLike[str]
    ) -> tuple[Path, Path]:
        """Write ``known_hosts`` and ``ssh_config`` for these servers into directory.

        The ssh_config has one ``Host <alias>`` block per server (HostName,
        Port, User, IdentityFile) and pins host keys to the known_hosts file,
        so ``ssh -F ssh_config <alias> cmd`` works without prompts.
        Returns (known_hosts_path, ssh_config_path).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        servers = list(servers)
        known_hosts = directory / "known_hosts"
        ssh_config = directory / "ssh_config"
        known_hosts.write_text("".join(s.known_hosts_line + "\n" for s in servers))
        blocks = []
        for s in servers:
            blocks.append(
                "\n".join(
                    [
                        f"Host {s.alias}",
                        f"    HostName {s.host}",
                        f"    Port {s.port}",
                        f"    User {s.user}",
                        f"    IdentityFile {s.client_key_path}",
                        "    IdentitiesOnly yes",
                        f"    UserKnownHostsFile {known_hosts}",
                        "    GlobalKnownHostsFile /dev/null",
                        "    StrictHostKeyChecking yes",
                        "    BatchMode yes",
                        "    LogLevel ERROR",
                        "",
                    ]
                )
            )
        ssh_config.write_text("\n".join(blocks))
        ssh_config.chmod(0o600)  # ssh refuses a config writable by others
        return known_hosts, ssh_config

    def ssh_args(self, ssh_config: str | os.PathLike[str]) -> list[str]:
        """OpenSSH client argv prefix for this host via a written ssh_config."""
        return ["ssh", "-F", str(ssh_config), self.alias]

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalSshd({self.alias} {self.user}@{self.host}:{self.port}, {state})"


@dataclasses.dataclass
class SshHosts:
    """What the ``sshd_hosts`` fixture yields."""

    servers: list[LocalSshd]
    known_hosts: Path
    ssh_config: Path

    def __iter__(self) -> Iterator[LocalSshd]:
        return iter(self.servers)

    def __getitem__(self, index: int) -> LocalSshd:
        return self.servers[index]


# Two "hosts" on different loopback addresses (Linux routes all of 127/8 to lo).
DEFAULT_HOSTS = (("127.0.0.2", "node1"), ("127.0.0.3", "node2"))


@pytest.fixture(scope="session")
def sshd_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshHosts]:
    """Two running LocalSshd servers (aliases node1, node2) plus client files."""
    try:
        ensure_sshd_installed()
    except (SshdError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no sshd available: {exc}")
    base = tmp_path_factory.mktemp("sshd")
    servers: list[LocalSshd] = []
    try:
        for host, alias in DEFAULT_HOSTS:
            servers.append(LocalSshd(host, alias=alias, workdir=base / alias).start())
        known_hosts, ssh_config = LocalSshd.write_client_files(servers, base / "client")
        yield SshHosts(servers, known_hosts, ssh_config)
    finally:
        for server in servers:
            server.close()
