"""``torc.remote.ssh`` against real sshd hosts: ssh_config, known_hosts policy, agent, jump hosts, errors."""

from __future__ import annotations

import shutil
import subprocess
import time

import paramiko
import pytest

from tests.remote.support import ssh_config_block
from torc.remote.hosts import WorkerAddress
from torc.remote.ssh import SshError, SshSettings, connect

pytestmark = pytest.mark.timeout(60)


def settings(ssh_dir, **kwargs) -> SshSettings:
    return SshSettings(config_file=str(ssh_dir / "ssh_config"), **kwargs)


def add_hosts(ssh_dir, *blocks: str) -> None:
    with open(ssh_dir / "ssh_config", "a") as config:
        config.write("\n" + "\n".join(blocks))


def echo(address: WorkerAddress, ssh: SshSettings) -> str:
    with connect(address, ssh) as session:
        code, out, _ = session.run("echo hello from $USER")
        assert code == 0
        return out


def test_aliases_of_the_ssh_config(sshd_hosts, ssh_dir):
    ssh = settings(ssh_dir)
    for server in sshd_hosts:
        assert echo(WorkerAddress(server.alias), ssh) == f"hello from {server.user}\n"
    # The address's own user and port win over the config's.
    node1 = sshd_hosts[0]
    assert echo(WorkerAddress("node1", user=node1.user, port=node1.port), ssh).startswith("hello")


def test_defaults_are_the_users_ssh_files(sshd_hosts, ssh_dir, stranger, tmp_path, monkeypatch):
    node1 = sshd_hosts[0]
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(node1.known_hosts_line + "\n")
    (home / ".ssh" / "config").write_text(
        f"Host node1\n    HostName {node1.host}\n    Port {node1.port}\n    IdentityFile {node1.client_key_path}\n"
        f"Host stranger\n    HostName {stranger.host}\n    Port {stranger.port}\n    IdentityFile {node1.client_key_path}\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    assert echo(WorkerAddress("node1"), SshSettings()).startswith("hello")
    with pytest.raises(SshError, match=rf"is not in known_hosts \({home}/.ssh/known_hosts\)"):
        echo(WorkerAddress("stranger"), SshSettings())
    assert echo(WorkerAddress("stranger"), SshSettings(accept_new_host_keys=True)).startswith("hello")
    assert stranger.host_public_key in (home / ".ssh" / "known_hosts").read_text()


def test_unknown_host_refused_then_accepted_and_recorded(sshd_hosts, ssh_dir, stranger):
    known_hosts = ssh_dir / "known_hosts"
    add_hosts(ssh_dir, ssh_config_block("stranger", stranger.host, stranger.port, stranger.client_key_path, known_hosts))
    with pytest.raises(SshError) as info:
        echo(WorkerAddress("stranger"), settings(ssh_dir))
    fingerprint = paramiko.Ed25519Key.from_private_key_file(str(stranger.host_key_path)).fingerprint
    assert str(info.value) == (
        f"unknown host key for stranger ({stranger.user}@{stranger.host}:{stranger.port}) (ssh-ed25519 {fingerprint}): "
        f"[{stranger.host}]:{stranger.port} is not in known_hosts ({known_hosts}), so the host cannot be verified; "
        "check the fingerprint and add the key (e.g. connect once with ssh), or pass --accept-new-host-keys"
    )
    assert stranger.host_public_key not in known_hosts.read_text()

    assert echo(WorkerAddress("stranger"), settings(ssh_dir, accept_new_host_keys=True)).startswith("hello")
    assert f"[{stranger.host}]:{stranger.port} {stranger.host_public_key}\n" in known_hosts.read_text()
    assert echo(WorkerAddress("stranger"), settings(ssh_dir)).startswith("hello")  # known now


def test_accept_new_from_the_ssh_config(ssh_dir, stranger, tmp_path):
    known_hosts = tmp_path / "fresh" / "known_hosts"  # created, with its directory, on first use
    add_hosts(ssh_dir, ssh_config_block("stranger", stranger.host, stranger.port, stranger.client_key_path, known_hosts,
                                        "StrictHostKeyChecking accept-new"))
    assert echo(WorkerAddress("stranger"), settings(ssh_dir)).startswith("hello")
    assert stranger.host_public_key in known_hosts.read_text()


def test_changed_host_key_is_always_refused(sshd_hosts, ssh_dir):
    node1, node2 = sshd_hosts
    (ssh_dir / "known_hosts").write_text(f"[{node1.host}]:{node1.port} {node2.host_public_key}\n")
    with pytest.raises(SshError, match=r"host key of node1 \(.*\) does not match the one in known_hosts .* the host may be impersonated"):
        echo(WorkerAddress("node1"), settings(ssh_dir, accept_new_host_keys=True))


def test_connection_errors_name_the_host_and_the_cause(sshd_hosts, ssh_dir, closed_port, silent_port):
    node1, node2 = sshd_hosts
    known_hosts = ssh_dir / "known_hosts"
    add_hosts(
        ssh_dir,
        ssh_config_block("badport", "127.0.0.5", closed_port, node1.client_key_path, known_hosts),
        ssh_config_block("silent", "127.0.0.6", silent_port, node1.client_key_path, known_hosts),
        ssh_config_block("wrongkey", node2.host, node2.port, node1.client_key_path, known_hosts),
        ssh_config_block("nowhere", "no-such-host.invalid", 22, node1.client_key_path, known_hosts),
    )
    ssh = settings(ssh_dir, connect_timeout=1)
    with pytest.raises(SshError, match=rf"^connection refused by badport \(\w+@127.0.0.5:{closed_port}\): is sshd running there, and is the port right\?$"):
        echo(WorkerAddress("badport"), ssh)
    with pytest.raises(SshError, match=rf"^no SSH server answered at silent \(\w+@127.0.0.6:{silent_port}\) within 1 s"):
        echo(WorkerAddress("silent"), ssh)
    with pytest.raises(SshError, match=rf"^authentication failed for wrongkey \(\w+@{node2.host}:{node2.port}\) \(identity files: {node1.client_key_path}; agent and ~/.ssh keys not used: IdentitiesOnly\)"):
        echo(WorkerAddress("wrongkey"), ssh)
    with pytest.raises(SshError, match=r"^cannot resolve host name 'no-such-host.invalid'"):
        echo(WorkerAddress("nowhere"), ssh)
    with pytest.raises(SshError, match=r"^cannot read ssh config .*missing: No such file or directory"):
        echo(WorkerAddress("node1"), SshSettings(config_file=str(ssh_dir / "missing")))


def test_proxy_jump_and_proxy_command(sshd_hosts, ssh_dir, closed_port):
    node1, node2 = sshd_hosts
    known_hosts = ssh_dir / "known_hosts"
    add_hosts(
        ssh_dir,
        ssh_config_block("node2-via-node1", node2.host, node2.port, node2.client_key_path, known_hosts, "ProxyJump node1"),
        ssh_config_block("closed-via-node1", "127.0.0.5", closed_port, node2.client_key_path, known_hosts, "ProxyJump node1"),
        ssh_config_block("node2-via-bad-jump", node2.host, node2.port, node2.client_key_path, known_hosts, "ProxyJump nobody@127.0.0.5:1"),
        ssh_config_block("node2-via-command", node2.host, node2.port, node2.client_key_path, known_hosts,
                         f"ProxyCommand ssh -F {ssh_dir / 'ssh_config'} -W %h:%p node1"),
    )
    ssh = settings(ssh_dir, connect_timeout=5)
    with connect(WorkerAddress("node2-via-node1"), ssh) as session:
        assert isinstance(session.client.get_transport().sock, paramiko.Channel)  # tunnelled through node1
        assert session.run("echo ok") == (0, "ok\n", "")
    with pytest.raises(SshError, match=rf"^via jump host node1: could not open a tunnel to closed-via-node1 \(\w+@127.0.0.5:{closed_port}\): Connect failed"):
        connect(WorkerAddress("closed-via-node1"), ssh)
    with pytest.raises(SshError, match=r"^jump host 127.0.0.5 \(for node2-via-bad-jump\): connection refused by nobody@127.0.0.5:1"):
        connect(WorkerAddress("node2-via-bad-jump"), ssh)
    if shutil.which("ssh"):
        with connect(WorkerAddress("node2-via-command"), ssh) as session:
            assert isinstance(session.client.get_transport().sock, paramiko.ProxyCommand)
            assert session.run("echo ok") == (0, "ok\n", "")


def test_keys_from_the_ssh_agent(sshd_hosts, ssh_dir, tmp_path, monkeypatch):
    if not shutil.which("ssh-agent"):
        pytest.skip("ssh-agent not installed")
    node1 = sshd_hosts[0]
    (ssh_dir / "ssh_config").write_text(
        f"Host agent-node1\n    HostName {node1.host}\n    Port {node1.port}\n    UserKnownHostsFile {ssh_dir / 'known_hosts'}\n"
    )
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        env = {"SSH_AUTH_SOCK": str(sock), "PATH": "/usr/bin:/bin"}
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        subprocess.run(["ssh-add", "-q", str(node1.client_key_path)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh keys to fall back on
        assert echo(WorkerAddress("agent-node1"), settings(ssh_dir)).startswith("hello")
    finally:
        agent.terminate()
        agent.wait()
