"""SSH connections to worker hosts with paramiko, configured the way ``ssh`` would be.

paramiko instead of the ``ssh`` binary gives exact errors per host, parallel connections without a
process each, and SFTP in the same connection. To behave like ``ssh`` it honours the user's
``~/.ssh/config`` (or ``-F FILE``): HostName, User, Port, IdentityFile, IdentitiesOnly,
UserKnownHostsFile, GlobalKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ProxyJump (through
``direct-tcpip`` channels of the jump hosts) and ProxyCommand; keys come from IdentityFile, the
SSH agent and ``~/.ssh/id_*``. Nothing ever prompts: passwords and passphrases are not asked for.

Host keys are verified against known_hosts. An unknown key is refused unless the user opted in to
accept-new (``--accept-new-host-keys`` or ``StrictHostKeyChecking accept-new``), which records it
in the first UserKnownHostsFile; a key that differs from the recorded one is always refused.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from torc.remote import RemoteError
from torc.remote.hosts import WorkerAddress, parse_worker

logger = logging.getLogger("torc.remote")
# paramiko logs its transport errors, which we report per host in our own words; without a
# handler Python would print them (with tracebacks) on stderr.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

DEFAULT_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts",)
DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts",)
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Longest chain of ProxyJump hosts followed (guards against a loop in the config).
MAX_JUMPS = 8
#: Seconds a remote command may stay silent before it counts as hung.
COMMAND_TIMEOUT = 60.0

#: known_hosts files are appended to by several connection threads at once.
_known_hosts_lock = threading.Lock()


class SshError(RemoteError):
    """Connecting or talking to a host failed; the message says where and why."""


@dataclass(frozen=True)
class SshSettings:
    """Connection choices of one command, applied to every host."""

    #: An ssh_config file (like ``ssh -F``); None: ``~/.ssh/config`` if it exists.
    config_file: str | None = None
    #: Accept and record keys of hosts not yet in known_hosts.
    accept_new_host_keys: bool = False
    #: Seconds for TCP connect, banner, key exchange and authentication; None: the config's
    #: ConnectTimeout, else :data:`DEFAULT_CONNECT_TIMEOUT`.
    connect_timeout: float | None = None

    def load_config(self) -> paramiko.SSHConfig:
        path = Path(os.path.expanduser(self.config_file or DEFAULT_CONFIG))
        if self.config_file is None and not path.exists():
            return paramiko.SSHConfig()
        try:
            return paramiko.SSHConfig.from_path(str(path))
        except OSError as exc:
            raise SshError(f"cannot read ssh config {path}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Endpoint:
    """A host as ssh_config resolves it."""

    name: str  # what the user wrote (an alias or a host)
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    identities_only: bool
    known_hosts: tuple[str, ...]
    global_known_hosts: tuple[str, ...]
    accept_new: bool
    connect_timeout: float
    proxy_jump: str | None
    proxy_command: str | None

    @property
    def where(self) -> str:
        """``user@host:port``, after the alias when the config renamed the host."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        target = f"{self.user}@{host}:{self.port}"
        return target if self.name == self.hostname else f"{self.name} ({target})"


def resolve(address: WorkerAddress, settings: SshSettings, config: paramiko.SSHConfig) -> Endpoint:
    """The address completed by ssh_config; what the address says wins, as on ssh's command line."""
    options = config.lookup(address.host)

    def paths(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = options.get(key)
        return tuple(os.path.expanduser(p) for p in (value.split() if value else default))

    strict = options.get("stricthostkeychecking", "ask").lower()
    timeout = settings.connect_timeout or float(options.get("connecttimeout", DEFAULT_CONNECT_TIMEOUT))
    jump = options.get("proxyjump")
    return Endpoint(
        name=address.host,
        hostname=options.get("hostname", address.host),
        port=address.port or int(options.get("port", 22)),
        user=address.user or options.get("user") or getpass.getuser(),
        identity_files=tuple(os.path.expanduser(p) for p in options.get("identityfile", [])),
        identities_only=options.get("identitiesonly", "no").lower() == "yes",
        known_hosts=paths("userknownhostsfile", DEFAULT_KNOWN_HOSTS),
        global_known_hosts=paths("globalknownhostsfile", DEFAULT_GLOBAL_KNOWN_HOSTS),
        accept_new=settings.accept_new_host_keys or strict in ("accept-new", "no", "off"),
        connect_timeout=timeout,
        proxy_jump=None if not jump or jump.lower() == "none" else jump,
        proxy_command=options.get("proxycommand") if options.get("proxycommand", "none").lower() != "none" else None,
    )


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown host keys, naming the host and its fingerprint; or accept and record them."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        files = ", ".join(self.endpoint.known_hosts)
        if not self.endpoint.accept_new:
            raise SshError(
                f"unknown host key for {self.endpoint.where} ({key.get_name()} {key.fingerprint}): {hostname} is not "
                f"in known_hosts ({files}), so the host cannot be verified; check the fingerprint and add the key "
                "(e.g. connect once with ssh), or pass --accept-new-host-keys"
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        target = Path(self.endpoint.known_hosts[0])
        with _known_hosts_lock:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(target, "a") as out:
                out.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        logger.warning("accepted the new host key of %s (%s %s) into %s", hostname, key.get_name(), key.fingerprint, target)


class SshSession:
    """An open connection to one host (through its jump hosts, if any): commands and SFTP."""

    def __init__(self, endpoint: Endpoint, clients: list[paramiko.SSHClient]):
        self.endpoint = endpoint
        self._clients = clients  # jump hosts first, the target last

    @property
    def client(self) -> paramiko.SSHClient:
        return self._clients[-1]

    def run(self, command: str, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str, str]:
        """Run a command in the login shell; (exit status, stdout, stderr)."""
        try:
            channel_in, channel_out, channel_err = self.client.exec_command(command, timeout=timeout)
            if stdin is not None:
                channel_in.write(stdin)
            channel_in.channel.shutdown_write()
            out = channel_out.read().decode(errors="replace")
            err = channel_err.read().decode(errors="replace")
            return channel_out.channel.recv_exit_status(), out, err
        except (paramiko.SSHException, OSError) as exc:
            raise SshError(f"SSH connection to {self.endpoint.where} failed during a command: {_reason(exc)}") from None

    def open_sftp(self) -> paramiko.SFTPClient:
        try:
            return self.client.open_sftp()
        except (paramiko.SSHException, OSError) as exc:
            raise SshError(f"cannot open SFTP on {self.endpoint.where} (is the sftp subsystem enabled?): {_reason(exc)}") from None

    def close(self) -> None:
        for client in reversed(self._clients):
            client.close()

    def __enter__(self) -> "SshSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(address: WorkerAddress, settings: SshSettings, config: paramiko.SSHConfig | None = None) -> SshSession:
    """An authenticated session to ``address``; :class:`SshError` says which host failed and why."""
    config = config or settings.load_config()
    chain = _chain(resolve(address, settings, config), settings, config, depth=0)
    clients: list[paramiko.SSHClient] = []
    try:
        for index, endpoint in enumerate(chain):
            jump = (clients[-1], chain[index - 1]) if index else None
            try:
                clients.append(_open(endpoint, jump))
            except SshError as exc:
                if endpoint is chain[-1]:
                    raise
                raise SshError(f"jump host {endpoint.name} (for {chain[-1].name}): {exc}") from None
    except BaseException:
        for client in reversed(clients):
            client.close()
        raise
    return SshSession(chain[-1], clients)


def _chain(endpoint: Endpoint, settings: SshSettings, config: paramiko.SSHConfig, depth: int) -> list[Endpoint]:
    """The endpoints to connect through, in order: ProxyJump hosts (recursively), then ``endpoint``."""
    if endpoint.proxy_jump is None:
        return [endpoint]
    if depth >= MAX_JUMPS:
        raise SshError(f"more than {MAX_JUMPS} ProxyJump hosts on the way to {endpoint.name}: is there a loop in the ssh config?")
    hops = []
    for hop in endpoint.proxy_jump.split(","):
        try:
            hop_address = parse_worker(hop.removeprefix("ssh://"))
        except RemoteError as exc:
            raise SshError(f"ProxyJump of {endpoint.name}: {exc}") from None
        hops += _chain(resolve(hop_address, settings, config), settings, config, depth + 1)
    return hops + [endpoint]


def _open(endpoint: Endpoint, jump: tuple[paramiko.SSHClient, Endpoint] | None) -> paramiko.SSHClient:
    """One authenticated client; through a ``direct-tcpip`` channel of the ``jump`` host if given."""
    client = paramiko.SSHClient()
    try:
        for path in endpoint.global_known_hosts + endpoint.known_hosts:
            if os.path.isfile(path):
                client.load_system_host_keys(path)
        client.set_missing_host_key_policy(_HostKeyPolicy(endpoint))
        sock = None
        if jump is not None:
            sock = jump[0].get_transport().open_channel(
                "direct-tcpip", (endpoint.hostname, endpoint.port), ("127.0.0.1", 0), timeout=endpoint.connect_timeout
            )
        elif endpoint.proxy_command:
            sock = paramiko.ProxyCommand(endpoint.proxy_command)
        # IdentitiesOnly: only the configured keys, not every key the agent or ~/.ssh holds.
        only_configured = endpoint.identities_only and bool(endpoint.identity_files)
        client.connect(
            endpoint.hostname,
            port=endpoint.port,
            username=endpoint.user,
            key_filename=[p for p in endpoint.identity_files if os.path.isfile(p)] or None,
            allow_agent=not only_configured,
            look_for_keys=not only_configured,
            sock=sock,
            timeout=endpoint.connect_timeout,
            banner_timeout=endpoint.connect_timeout,
            auth_timeout=endpoint.connect_timeout,
            channel_timeout=endpoint.connect_timeout,
        )
        return client
    except BaseException as exc:
        # When the transport thread fails or times out (e.g. no banner), connect() may only report
        # the symptom ("No existing session"); the thread keeps the cause, if it got that far.
        transport = client.get_transport()
        cause = getattr(transport, "saved_exception", None) if transport is not None else None
        silent = transport is not None and not transport.remote_version
        client.close()
        if isinstance(exc, SshError) or not isinstance(exc, Exception):
            raise
        prefix = f"via jump host {jump[1].name}: " if jump is not None else ""
        raise SshError(prefix + _connect_error(endpoint, cause or exc, silent)) from None


def _connect_error(endpoint: Endpoint, exc: Exception, silent: bool = False) -> str:
    """Why connecting to ``endpoint`` failed, with what to check; ``silent``: the TCP connection
    was made but no SSH banner ever came."""
    where = endpoint.where
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"host key of {where} ({exc.key.get_name()} {exc.key.fingerprint}) does not match the one in known_hosts "
            f"({exc.expected_key.fingerprint}): refusing the connection, the host may be impersonated; if it was "
            f"reinstalled, remove the old key (ssh-keygen -R '[{endpoint.hostname}]:{endpoint.port}')"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        keys = ", ".join(endpoint.identity_files) or "none configured"
        return (
            f"authentication failed for {where} (identity files: {keys}; agent and ~/.ssh keys "
            f"{'not used: IdentitiesOnly' if endpoint.identities_only and endpoint.identity_files else 'tried'}): "
            f"{exc}; check User and IdentityFile, or load the key into ssh-agent (passphrases are never asked for)"
        )
    if isinstance(exc, paramiko.ChannelException):
        return f"could not open a tunnel to {where}: {exc.text}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"connection to {where} timed out after {endpoint.connect_timeout:g} s"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError)
        and all(isinstance(e, ConnectionRefusedError) for e in exc.errors.values())
    ):
        return f"connection refused by {where}: is sshd running there, and is the port right?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name {endpoint.hostname!r} ({exc.strerror}): check the address or HostName in the ssh config"
    if isinstance(exc, paramiko.SSHException) and (silent or "banner" in str(exc).lower()):
        return f"no SSH server answered at {where} within {endpoint.connect_timeout:g} s ({exc})"
    return f"cannot connect to {where}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
