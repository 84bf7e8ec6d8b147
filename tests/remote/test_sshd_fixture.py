"""Proves the loopback sshd fixture gives two real, independently keyed SSH hosts."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from .sshd_fixture import LocalSshd, SshdError, SshHosts, sshd_hosts  # noqa: F401  (fixture)

paramiko = pytest.importorskip("paramiko")


def _client(known_hosts, policy) -> "paramiko.SSHClient":
    client = paramiko.SSHClient()
    if known_hosts is not None:
        client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(policy)
    return client


def _connect(client, server: LocalSshd) -> None:
    client.connect(
        server.host,
        port=server.port,
        username=server.user,
        key_filename=str(server.client_key_path),
        # Use only the generated key: no agent, no ~/.ssh keys.
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
        banner_timeout=10,
        auth_timeout=10,
    )


def test_two_hosts_run_commands_with_paramiko(sshd_hosts: SshHosts) -> None:
    assert len(sshd_hosts.servers) == 2
    a, b = sshd_hosts
    assert (a.host, a.port) != (b.host, b.port)
    assert a.host_public_key != b.host_public_key  # two distinct "machines"
    for server in sshd_hosts:
        client = _client(sshd_hosts.known_hosts, paramiko.RejectPolicy())
        try:
            _connect(client, server)
            _, stdout, stderr = client.exec_command("echo hello")
            assert stdout.read().decode() == "hello\n"
            assert stdout.channel.recv_exit_status() == 0
            assert stderr.read() == b""
            # The host key the client verified is the one the fixture exposes.
            remote = client.get_transport().get_remote_server_key()
            assert f"{remote.get_name()} {remote.get_base64()}" == server.host_public_key
        finally:
            client.close()


def test_sftp_subsystem(sshd_hosts: SshHosts, tmp_path) -> None:
    server = sshd_hosts[0]
    client = _client(sshd_hosts.known_hosts, paramiko.RejectPolicy())
    try:
        _connect(client, server)
        sftp = client.open_sftp()
        target = tmp_path / "via-sftp.txt"
        with sftp.open(str(target), "w") as f:
            f.write("payload")
        sftp.close()
    finally:
        client.close()
    assert target.read_text() == "payload"


def test_unknown_host_key_is_rejected(sshd_hosts: SshHosts, tmp_path) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    for server in sshd_hosts:
        client = _client(empty, paramiko.RejectPolicy())
        try:
            with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
                _connect(client, server)
        finally:
            client.close()


def test_wrong_host_key_is_rejected(sshd_hosts: SshHosts, tmp_path) -> None:
    # known_hosts listing host B's key for host A's address: a spoofed host.
    a, b = sshd_hosts
    bad = tmp_path / "known_hosts_swapped"
    bad.write_text(f"[{a.host}]:{a.port} {b.host_public_key}\n")
    client = _client(bad, paramiko.RejectPolicy())
    try:
        with pytest.raises(paramiko.BadHostKeyException):
            _connect(client, a)
    finally:
        client.close()


def test_key_of_one_host_does_not_open_the_other(sshd_hosts: SshHosts) -> None:
    a, b = sshd_hosts
    client = _client(sshd_hosts.known_hosts, paramiko.RejectPolicy())
    try:
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                b.host,
                port=b.port,
                username=b.user,
                key_filename=str(a.client_key_path),
                allow_agent=False,
                look_for_keys=False,
                timeout=10,
            )
    finally:
        client.close()


def test_paramiko_via_written_ssh_config(sshd_hosts: SshHosts) -> None:
    # What an SSH worker does with a user's ~/.ssh/config: resolve the alias.
    config = paramiko.SSHConfig.from_path(str(sshd_hosts.ssh_config))
    for server in sshd_hosts:
        opts = config.lookup(server.alias)
        assert opts["hostname"] == server.host
        assert int(opts["port"]) == server.port
        client = _client(opts["userknownhostsfile"], paramiko.RejectPolicy())
        try:
            client.connect(
                opts["hostname"],
                port=int(opts["port"]),
                username=opts["user"],
                key_filename=opts["identityfile"],
                allow_agent=False,
                look_for_keys=False,
                timeout=10,
            )
            _, stdout, _ = client.exec_command("hostname -s >/dev/null && echo ok")
            assert stdout.read() == b"ok\n"
        finally:
            client.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
def test_openssh_client_uses_written_ssh_config(sshd_hosts: SshHosts) -> None:
    for server in sshd_hosts:
        out = subprocess.run(
            server.ssh_args(sshd_hosts.ssh_config) + ["echo", "hello", server.alias],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"hello {server.alias}\n"


def test_context_manager_stops_server(tmp_path) -> None:
    with LocalSshd("127.0.0.1", alias="ctx") as server:
        assert server.running
        host, port, workdir = server.host, server.port, server.workdir
        assert workdir.is_dir()
    assert not server.running
    assert not workdir.exists()  # temp dir removed on close
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).close()


def test_non_loopback_address_refused() -> None:
    with pytest.raises(ValueError):
        LocalSshd("10.0.0.1")


def test_port_in_use_reports_sshd_log(tmp_path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = LocalSshd("127.0.0.1", port, workdir=tmp_path / "busy", start_timeout=5)
        with pytest.raises(SshdError, match="Address already in use"):
            server.start()
        server.close()
