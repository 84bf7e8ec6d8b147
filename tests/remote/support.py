"""Helpers for ``torc remote`` tests: the CLI run in-process, ssh_config blocks for extra hosts.

The "remote" hosts are this machine, so the remote torc is this checkout's ``torc`` (next to the
Python running the tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from torc.cli.main import cli

#: The torc executable of this environment, as the "remote" hosts run it.
TORC = str(Path(sys.executable).with_name("torc"))


class Remote:
    """``remote("run", wf, ...)`` runs ``torc --url URL remote run WF ...`` with the test's ssh_config
    and torc command; fails the test on an unexpected exit code."""

    def __init__(self, url: str, ssh_config: Path):
        self.url = url
        self.ssh_config = ssh_config
        self.runner = CliRunner()

    def __call__(self, command: str, *args, expect_exit: int = 0, env: dict | None = None, json_output: bool = False) -> Result:
        argv = ["--url", self.url, *(["-f", "json"] if json_output else []), "remote", command, *map(str, args)]
        env = {"TORC_SSH_CONFIG": str(self.ssh_config), "TORC_REMOTE_COMMAND": TORC, **(env or {})}
        result = self.runner.invoke(cli, argv, env=env)
        assert result.exit_code == expect_exit, (
            f"torc {' '.join(argv)} exited {result.exit_code}, expected {expect_exit}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
        return result

    def json(self, command: str, *args, **kwargs):
        return json.loads(self(command, *args, json_output=True, **kwargs).stdout)


def ssh_config_block(alias: str, hostname: str, port: int, key: Path, known_hosts: Path, *extra: str) -> str:
    """A ``Host`` block for ssh_config: this key only, host keys from ``known_hosts`` only."""
    lines = [f"Host {alias}", f"    HostName {hostname}", f"    Port {port}", f"    IdentityFile {key}",
             "    IdentitiesOnly yes", f"    UserKnownHostsFile {known_hosts}", "    GlobalKnownHostsFile /dev/null",
             *(f"    {line}" for line in extra)]
    return "\n".join(lines) + "\n"
