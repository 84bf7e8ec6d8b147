"""What ``torc remote`` does on one host: start a detached worker, report it, stop it, fetch and
delete its logs. Each operation takes one worker address, opens its own SSH session and returns a
record; :func:`torc.remote.fanout.for_each_host` runs it on every host.

The worker is ``torc run WF --remote`` started with ``nohup setsid`` so that it outlives the SSH
session. Its pid and its stdout/stderr go to ``<output>/remote_worker_<host>_wf<W>.pid|.log``: the
names carry the host because several hosts may share one file system (an NFS home directory).
Relative paths are relative to the login directory on the host; a leading ``~/`` means the remote
home. The scripts need only a POSIX shell, ``ps`` and ``kill`` on the host.
"""

from __future__ import annotations

import re
import shlex
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from torc import __version__ as torc_version
from torc.client import TorcApi
from torc.client.transport import parse_version
from torc.remote import RemoteError
from torc.remote.hosts import WorkerAddress
from torc.remote.ssh import SshSession, SshSettings, connect

#: Exit status of the scripts when a worker is running and must not be: the message is on stderr.
_BUSY = 3

#: ``alive PID``: that process is a remote torc worker that still runs. ``kill -0`` alone is not
#: enough: an exited worker whose parent (often init in a container) has not reaped it yet is a
#: zombie that still answers, and after a while its pid may belong to another program (pids wrap
#: around quickly on busy hosts), which ``stop`` must not signal. Without ``ps``, ``kill -0`` decides;
#: with it, a process that ``ps`` no longer lists has exited since ``kill -0`` (not alive).
_ALIVE = """alive() {
  kill -0 "$1" 2>/dev/null || return 1
  command -v ps >/dev/null 2>&1 || return 0
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in "" | *Z*) return 1 ;; esac
  case "$(ps -ww -o args= -p "$1" 2>/dev/null)" in *" run "*" --remote"*) return 0 ;; esac
  return 1
}
"""

#: Seconds between checks while waiting for a worker to register or to exit.
_POLL_SECONDS = 0.25


def remote_word(word: str) -> str:
    """``word`` quoted for the remote shell; a leading ``~/`` still means the remote home."""
    if word == "~":
        return '"$HOME"'
    if word.startswith("~/"):
        return '"$HOME"/' + shlex.quote(word[2:])
    return shlex.quote(word)


def _sh(script: str) -> str:
    """Run ``script`` with sh, whatever the user's login shell is."""
    return "sh -c " + shlex.quote(script)


def _last_line(output: str) -> str:
    """A script's answer: its last line (shell startup files on the host may print before it)."""
    lines = output.strip().splitlines()
    return lines[-1].strip() if lines else ""


@dataclass(frozen=True)
class WorkerLaunch:
    """How ``torc remote run`` starts each worker."""

    url: str
    #: The torc executable on the hosts, as words (e.g. ``["/opt/venv/bin/torc"]``).
    torc_command: list[str]
    #: Options of the remote ``torc run`` (output directory, resources, intervals, ...).
    run_args: list[str] = field(default_factory=list)
    #: Options of the remote ``torc`` before ``run`` (e.g. ``--skip-version-check``).
    global_args: list[str] = field(default_factory=list)
    check_version: bool = True
    #: Seconds a started worker has to register with the server.
    startup_timeout: float = 60.0
    #: Sent on the SSH channel's stdin (not on a command line, where ``ps`` would show it).
    password: str | None = None


class RemoteWorkers:
    """The remote workers of one workflow whose files live in ``output_dir`` on every host."""

    def __init__(self, workflow_id: int, output_dir: str, settings: SshSettings):
        self.workflow_id = workflow_id
        self.output_dir = output_dir.rstrip("/") or "/"
        self.settings = settings
        self.config = settings.load_config()  # read once, shared by the connection threads

    def _file_name(self, address: WorkerAddress, suffix: str) -> str:
        return f"remote_worker_{address.label}_wf{self.workflow_id}.{suffix}"

    def pid_file(self, address: WorkerAddress) -> str:
        return f"{self.output_dir}/{self._file_name(address, 'pid')}"

    def log_file(self, address: WorkerAddress) -> str:
        return f"{self.output_dir}/{self._file_name(address, 'log')}"

    def _connect(self, address: WorkerAddress) -> SshSession:
        return connect(address, self.settings, self.config)

    def _files(self, address: WorkerAddress) -> str:
        """Shell variables ``out``, ``pid_file`` and ``log`` for this worker, and ``alive``."""
        return (
            f"out={remote_word(self.output_dir)}\n"
            f"pid_file=\"$out\"/{shlex.quote(self._file_name(address, 'pid'))}\n"
            f"log=\"$out\"/{shlex.quote(self._file_name(address, 'log'))}\n" + _ALIVE
        )

    # ------------------------------------------------------------------ run

    def start(self, address: WorkerAddress, launch: WorkerLaunch, api: TorcApi) -> dict:
        """Check torc on the host, start the worker detached, and wait until it registered."""
        with self._connect(address) as session:
            version = check_torc_version(session, launch.torc_command) if launch.check_version else None
            command = " ".join(
                remote_word(w)
                for w in [*launch.torc_command, "--url", launch.url, *launch.global_args, "run", str(self.workflow_id), "--remote", *launch.run_args]
            )
            script = (
                ("IFS= read -r TORC_PASSWORD; export TORC_PASSWORD\n" if launch.password is not None else "")
                + self._files(address)
                + 'mkdir -p -- "$out" || exit 1\n'
                'if [ -f "$pid_file" ] && alive "$(cat "$pid_file")"; then\n'
                f'  echo "a worker of workflow {self.workflow_id} already runs there (pid $(cat "$pid_file")); stop it first" >&2; exit {_BUSY}\n'
                "fi\n"
                # setsid: a session of its own, so nothing of the SSH session's end reaches it.
                "if command -v setsid >/dev/null 2>&1; then detach=setsid; else detach=; fi\n"
                f'nohup $detach {command} >"$log" 2>&1 </dev/null &\n'
                'echo $! >"$pid_file"\n'
                'echo "$! $(uname -n)"\n'
            )
            stdin = None if launch.password is None else launch.password + "\n"
            code, out, err = session.run(_sh(script), stdin=stdin)
            if code != 0:
                raise RemoteError(err.strip() if code == _BUSY else f"could not start the worker (exit {code}): {(err or out).strip()}")
            try:
                pid_text, hostname = _last_line(out).split()
                pid = int(pid_text)
            except ValueError:
                raise RemoteError(f"unexpected output of the start script: {out.strip()!r}") from None
            node_id = self._await_registration(session, address, api, pid, hostname, launch)
        return {"state": "started", "pid": pid, "hostname": hostname, "compute_node_id": node_id, "torc_version": version, "log": self.log_file(address)}

    def _await_registration(self, session: SshSession, address: WorkerAddress, api: TorcApi, pid: int, hostname: str, launch: WorkerLaunch) -> int:
        """The id of the compute node the worker registered: proof that it runs, that torc works
        there and that the host reaches the server."""
        deadline = time.monotonic() + launch.startup_timeout
        while True:
            node_id = self._registered_node(api, pid, hostname)
            if node_id is not None:
                return node_id
            if not self._alive(session, pid):
                # It may have registered and finished just after the query above.
                node_id = self._registered_node(api, pid, hostname)
                if node_id is not None:
                    return node_id
                raise RemoteError(f"the worker (pid {pid}) exited before registering with the server; {self._log_tail(session, address)}")
            if time.monotonic() > deadline:
                raise RemoteError(
                    f"the worker (pid {pid}) runs but did not register with the server within {launch.startup_timeout:g} s: "
                    f"can the host reach {launch.url}? It keeps trying (torc remote stop ends it); {self._log_tail(session, address)}"
                )
            time.sleep(_POLL_SECONDS)

    def _registered_node(self, api: TorcApi, pid: int, hostname: str) -> int | None:
        nodes = api.compute_nodes.list_compute_nodes(self.workflow_id, hostname=hostname).items
        return next((n.id for n in nodes if n.pid == pid and n.compute_node_type == "remote"), None)

    def _log_tail(self, session: SshSession, address: WorkerAddress, lines: int = 3) -> str:
        log = self.log_file(address)
        _, out, _ = session.run(_sh(self._files(address) + f'tail -n {lines} "$log" 2>/dev/null'))
        text = " | ".join(line.strip() for line in out.splitlines() if line.strip())
        return f"its log {log} ends with: {text}" if text else f"its log {log} is empty"

    # ------------------------------------------------------------------ status and stop

    def _state(self, session: SshSession, address: WorkerAddress) -> tuple[str, int | None]:
        """(``alive`` | ``dead`` | ``not started``, pid) from the pid file."""
        script = self._files(address) + (
            'if [ ! -f "$pid_file" ]; then echo none\n'
            'elif alive "$(cat "$pid_file")"; then echo "alive $(cat "$pid_file")"\n'
            'else echo "dead $(cat "$pid_file")"; fi\n'
        )
        code, out, err = session.run(_sh(script))
        words = _last_line(out).split()
        if code != 0 or not words:
            raise RemoteError(f"cannot read the pid file {self.pid_file(address)}: {err.strip() or out.strip()}")
        if words[0] == "none":
            return "not started", None
        return words[0], int(words[1]) if len(words) > 1 and words[1].isdigit() else None

    def _alive(self, session: SshSession, pid: int) -> bool:
        code, _, _ = session.run(_sh(_ALIVE + f"alive {pid}"))
        return code == 0

    def status(self, address: WorkerAddress) -> dict:
        with self._connect(address) as session:
            state, pid = self._state(session, address)
        return {"state": state, "pid": pid, "log": self.log_file(address)}

    def stop(self, address: WorkerAddress, force: bool = False, wait_seconds: float = 0.0) -> dict:
        """SIGTERM (SIGKILL with ``force``) to the worker; wait up to ``wait_seconds`` for it to end.

        On SIGTERM the worker terminates its running jobs, which are reported ``terminated``; on
        SIGKILL its watchdog kills the jobs and the server requeues them when the lease expires.
        """
        signal_name = "KILL" if force else "TERM"
        with self._connect(address) as session:
            state, pid = self._state(session, address)
            if state != "alive":
                return {"state": "not running", "pid": pid, "signal": None}
            code, _, err = session.run(f"kill -{signal_name} {pid}")
            if code != 0 and self._alive(session, pid):
                raise RemoteError(f"cannot signal the worker (pid {pid}): {err.strip()}")
            deadline = time.monotonic() + wait_seconds
            while self._alive(session, pid):
                if time.monotonic() >= deadline:
                    return {"state": "stopping", "pid": pid, "signal": f"SIG{signal_name}"}
                time.sleep(_POLL_SECONDS)
        return {"state": "stopped", "pid": pid, "signal": f"SIG{signal_name}"}

    # ------------------------------------------------------------------ logs

    def _output_path(self, session: SshSession) -> str | None:
        """The output directory's absolute path on the host, or None if it does not exist."""
        code, out, _ = session.run(_sh(f"cd -- {remote_word(self.output_dir)} 2>/dev/null && pwd -P"))
        return _last_line(out) if code == 0 and _last_line(out) else None

    def collect_logs(self, address: WorkerAddress, local_dir: Path, delete: bool = False) -> dict:
        """Download the host's output directory into ``local_dir/<host>/`` over SFTP."""
        target = Path(local_dir) / address.label
        with self._connect(address) as session:
            remote_dir = self._output_path(session)
            if remote_dir is None:
                raise RemoteError(f"nothing to collect: the output directory {self.output_dir} does not exist there")
            sftp = session.open_sftp()
            try:
                files, size = _download_tree(sftp, remote_dir, target)
            finally:
                sftp.close()
            if delete:
                self._delete(session, remote_dir)
        return {"state": "collected", "files": files, "bytes": size, "local_dir": str(target), "deleted": delete}

    def delete_logs(self, address: WorkerAddress) -> dict:
        with self._connect(address) as session:
            remote_dir = self._output_path(session)
            if remote_dir is not None:
                self._delete(session, remote_dir)
        return {"state": "deleted" if remote_dir else "nothing to delete", "output_dir": remote_dir or self.output_dir}

    def _delete(self, session: SshSession, remote_dir: str) -> None:
        """Remove the output directory, unless a remote worker still writes to it."""
        script = (
            f"dir={shlex.quote(remote_dir)}\n" + _ALIVE +
            'if [ "$dir" = / ] || [ "$dir" = "$(cd && pwd -P)" ]; then echo "refusing to delete $dir" >&2; exit 1; fi\n'
            'for f in "$dir"/remote_worker_*.pid; do\n'
            f'  if [ -f "$f" ] && alive "$(cat "$f")"; then echo "not deleted: a worker still runs (pid $(cat "$f"), $f); stop it first" >&2; exit {_BUSY}; fi\n'
            "done\n"
            'rm -rf -- "$dir"\n'
        )
        code, _, err = session.run(_sh(script))
        if code != 0:
            raise RemoteError(err.strip() or f"deleting {remote_dir} failed (exit {code})")


def check_torc_version(session: SshSession, torc_command: list[str]) -> str:
    """The torc version on the host; :class:`RemoteError` unless its major.minor matches ours
    (the worker's command line and the HTTP API it speaks must be the ones this torc knows)."""
    shown = shlex.join(torc_command)
    code, out, err = session.run(" ".join(remote_word(w) for w in torc_command) + " --version")
    if code == 127:
        raise RemoteError(f"torc command {shown!r} not found there ({err.strip()}); install torc there or pass --torc-command (env TORC_REMOTE_COMMAND)")
    if code != 0:
        raise RemoteError(f"'{shown} --version' failed there with exit {code}: {(err or out).strip()}")
    match = re.search(r"version\s+(\S+)", out)
    try:
        remote = parse_version(match[1]) if match else None
    except ValueError:
        remote = None
    if remote is None:
        raise RemoteError(f"cannot read a version in the output of '{shown} --version': {out.strip()!r}")
    if remote != parse_version(torc_version):
        raise RemoteError(
            f"torc {match[1]} there is not compatible with torc {torc_version} here (major.minor versions must match); "
            "install the same torc version there, or pass --skip-version-check"
        )
    return match[1]


def _download_tree(sftp, remote_dir: str, local_dir: Path) -> tuple[int, int]:
    """Copy the regular files under ``remote_dir`` (recursively) into ``local_dir``; (files, bytes)."""
    files = size = 0
    pending = [(remote_dir, local_dir)]
    while pending:
        remote, local = pending.pop()
        local.mkdir(parents=True, exist_ok=True)
        try:
            entries = sftp.listdir_attr(remote)
        except OSError as exc:
            raise RemoteError(f"cannot list {remote}: {exc.strerror or exc}") from None
        for entry in entries:
            path = f"{remote}/{entry.filename}"
            if stat.S_ISDIR(entry.st_mode):
                pending.append((path, local / entry.filename))
            elif stat.S_ISREG(entry.st_mode):
                try:
                    sftp.get(path, str(local / entry.filename))
                except OSError as exc:
                    raise RemoteError(f"cannot download {path}: {exc.strerror or exc}") from None
                files += 1
                size += entry.st_size or 0
    return files, size
