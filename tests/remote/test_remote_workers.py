"""``torc remote`` end to end: real sshd hosts, a real server, real detached workers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.remote.support import ssh_config_block
from tests.runner.support import create_workflow, jobs_by_name
from torc.client import make_api

pytestmark = pytest.mark.timeout(90)

#: Quick workers: short polls, and they exit soon after the work is done.
FAST = ["--poll-interval", "0.1", "--idle-timeout", "3"]


def job(name, command, **extra):
    return {"name": name, "command": command, **extra}


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def statuses(api_url, wf) -> list[str]:
    return sorted(j.status for j in jobs_by_name(api_url, wf).values())


def by_worker(rows) -> dict:
    return {row["worker"]: row for row in rows}


def test_worker_list_is_stored_per_workflow(remote, api_url, tmp_path):
    wf = create_workflow(api_url, [job("a", "true")])
    other = create_workflow(api_url, [job("a", "true")])
    added = remote.json("add-workers", wf, "node1", "alice@node2:2222", "[::1]:2222")
    assert added["added"] == ["node1", "alice@node2:2222", "[::1]:2222"]
    worker_file = tmp_path / "workers.txt"
    worker_file.write_text("# lab machines\nnode1   # already there: kept once\nbob@[2001:db8:0::1]:22\n\n")
    assert remote.json("add-workers-from-file", wf, worker_file)["added"] == ["bob@[2001:db8::1]:22"]

    result = remote("list-workers", wf)
    assert result.stdout.split()[2:] == ["[::1]:2222", "alice@node2:2222", "bob@[2001:db8::1]:22", "node1"]
    assert remote.json("list-workers", other) == []

    # The same host and port as a stored worker under another spelling is a duplicate.
    result = remote("add-workers", wf, "carol@node1", expect_exit=1)
    assert result.stderr == (
        "Error: duplicate worker: carol@node1 has the same host and port as node1 (already a worker of workflow "
        f"{wf}); list each host once\n"
    )
    worker_file.write_text("node3\nnode3\n")
    result = remote("add-workers-from-file", wf, worker_file, expect_exit=1)
    assert result.stderr == (
        f"Error: {worker_file}: duplicate worker: node3 (line 2) has the same host and port as node3 (line 1); list each host once\n"
    )
    result = remote("add-workers", wf, "node1:123456", expect_exit=1)
    assert result.stderr == "Error: 'node1:123456': port '123456' is not a number from 1 to 65535\n"

    assert remote("remove-worker", wf, "[0:0::1]:2222").stdout == f"Removed worker [::1]:2222 from workflow {wf}\n"
    result = remote("remove-worker", wf, "node9", expect_exit=1)
    assert result.stderr == f"Error: remote worker 'node9' of workflow {wf} not found\n"
    assert [w["worker"] for w in remote.json("list-workers", wf)] == ["alice@node2:2222", "bob@[2001:db8::1]:22", "node1"]
    assert remote("list-workers", 999999, expect_exit=1).stderr == "Error: workflow 999999 not found\n"


def test_fifty_jobs_on_two_hosts_then_status_and_logs(remote, api_url, out, tmp_path):
    # Enough work that neither worker can finish it alone before the other one starts.
    wf = create_workflow(api_url, [job(f"j{i:02}", "sleep 0.2; echo $TORC_JOB_NAME") for i in range(50)])
    remote("add-workers", wf, "node1", "node2")
    rows = by_worker(remote.json("run", wf, "-o", out, "--max-parallel-jobs", 3, *FAST, env={"TORC_PASSWORD": "pw"}))
    api = make_api(api_url)
    nodes = {node.id: node for node in api.iter_compute_nodes(wf)}
    for name in ("node1", "node2"):
        row = rows[name]
        assert row["state"] == "started" and row["error"] is None, row
        assert row["torc_version"] and row["log"] == f"{out}/remote_worker_{name}_wf{wf}.log"
        node = nodes[row["compute_node_id"]]
        assert (node.compute_node_type, node.pid, node.hostname) == ("remote", row["pid"], row["hostname"])

    wait_for(lambda: api.workflows.is_workflow_complete(wf).is_complete, 60, "the workflow to complete")
    assert statuses(api_url, wf) == ["completed"] * 50
    workers_used = {r.compute_node_id for r in api.iter_results(wf)}
    assert workers_used == {rows["node1"]["compute_node_id"], rows["node2"]["compute_node_id"]}, "the work was not shared"

    # Once the work is done the workers exit by themselves.
    wait_for(lambda: {r["state"] for r in remote.json("status", wf, "-o", out)} == {"dead"}, 30, "the workers to exit")
    table = remote("status", wf, "-o", out).stdout.splitlines()
    assert table[0].split() == ["worker", "state", "pid", "log"]
    assert [line.split()[:2] for line in table[2:]] == [["node1", "dead"], ["node2", "dead"]]

    local = tmp_path / "collected"
    collected = by_worker(remote.json("collect-logs", wf, "-o", out, "-l", local))
    for name in ("node1", "node2"):
        assert collected[name]["state"] == "collected" and collected[name]["local_dir"] == str(local / name)
        log = local / name / f"remote_worker_{name}_wf{wf}.log"
        assert f"Workflow {wf}:" in log.read_text()  # the worker's summary line
        assert len(list((local / name / "job_stdio").glob(f"job_wf{wf}_*.o"))) == 50  # one shared file system
    assert out.is_dir()  # only copied

    deleted = by_worker(remote.json("delete-logs", wf, "-o", out))
    assert {r["state"] for r in deleted.values()} <= {"deleted", "nothing to delete"}  # hosts share out/
    assert not out.exists()


def test_stop_terminates_running_jobs(remote, api_url, out, tmp_path):
    wf = create_workflow(api_url, [job(f"long{i}", "sleep 60", supports_termination=True) for i in range(4)])
    remote("add-workers", wf, "node1", "node2")
    remote("run", wf, "-o", out, "--max-parallel-jobs", 2, "--termination-grace", 5, *FAST)
    wait_for(lambda: statuses(api_url, wf) == ["running"] * 4, 30, "4 running jobs")
    assert [r["state"] for r in remote.json("status", wf, "-o", out)] == ["alive", "alive"]

    rows = remote.json("stop", wf, "-o", out)
    assert [(r["worker"], r["state"], r["signal"]) for r in rows] == [("node1", "stopped", "SIGTERM"), ("node2", "stopped", "SIGTERM")]
    assert statuses(api_url, wf) == ["terminated"] * 4
    assert [r["state"] for r in remote.json("status", wf, "-o", out)] == ["dead", "dead"]
    assert [r["state"] for r in remote.json("stop", wf, "-o", out)] == ["not running", "not running"]
    logs = "".join(p.read_text() for p in out.glob(f"job_runner_*_wf{wf}_*.log"))
    assert logs.count("received SIGTERM") == 2


def test_force_stop_kills_worker_and_collect_deletes(remote, api_url, out, tmp_path):
    job_pid = tmp_path / "job.pid"
    wf = create_workflow(api_url, [job("long", f"echo $$ > {job_pid}; exec sleep 60")])
    remote("add-workers", wf, "node1")
    remote("run", wf, "-o", out, *FAST)
    wait_for(lambda: job_pid.exists() and job_pid.read_text().strip(), 30, "the job to start")

    rows = remote.json("stop", wf, "-o", out, "--force")
    assert [(r["state"], r["signal"]) for r in rows] == [("stopped", "SIGKILL")]
    # The worker had no chance to stop its job: its watchdog kills it.
    wait_for(lambda: not Path(f"/proc/{job_pid.read_text().strip()}").exists(), 10, "the watchdog to kill the job")

    local = tmp_path / "collected"
    rows = remote.json("collect-logs", wf, "-o", out, "-l", local, "--delete")
    assert [(r["state"], r["deleted"]) for r in rows] == [("collected", True)]
    assert (local / "node1" / f"remote_worker_node1_wf{wf}.pid").exists()
    assert not out.exists()
    result = remote("collect-logs", wf, "-o", out, "-l", local, expect_exit=1)
    assert result.stderr == (
        f"node1: nothing to collect: the output directory {out} does not exist there\n"
        "Error: collecting logs failed on 1 of 1 workers: node1\n"
    )


def test_failing_hosts_are_reported_and_the_others_run(remote, api_url, out, sshd_hosts, ssh_dir, stranger, closed_port, silent_port):
    node1 = sshd_hosts[0]
    known_hosts = ssh_dir / "known_hosts"
    with open(ssh_dir / "ssh_config", "a") as config:
        config.write(ssh_config_block("stranger", stranger.host, stranger.port, node1.client_key_path, known_hosts))
        config.write(ssh_config_block("badport", "127.0.0.5", closed_port, node1.client_key_path, known_hosts))
        config.write(ssh_config_block("silent", "127.0.0.6", silent_port, node1.client_key_path, known_hosts))
    wf = create_workflow(api_url, [job(f"j{i}", "sleep 0.1") for i in range(20)])
    remote("add-workers", wf, "node1", "stranger", "badport", "node2", "silent")

    result = remote("run", wf, "-o", out, "--max-parallel-jobs", 2, "--connect-timeout", 2, *FAST, expect_exit=1)
    # One row per host, in the order the server lists them (by address).
    assert [line.split()[:2] for line in result.stdout.splitlines()[2:]] == [
        ["badport", "failed"], ["node1", "started"], ["node2", "started"], ["silent", "failed"], ["stranger", "failed"],
    ]
    user = node1.user
    badport, silent, unknown_key, summary = result.stderr.splitlines()
    assert badport == f"badport: connection refused by badport ({user}@127.0.0.5:{closed_port}): is sshd running there, and is the port right?"
    assert silent.startswith(f"silent: no SSH server answered at silent ({user}@127.0.0.6:{silent_port}) within 2 s")
    assert unknown_key.startswith(f"stranger: unknown host key for stranger ({user}@{stranger.host}:{stranger.port}) (ssh-ed25519 SHA256:")
    assert unknown_key.endswith("or pass --accept-new-host-keys")
    assert summary == "Error: starting workers failed on 3 of 5 workers: badport, silent, stranger"
    api = make_api(api_url)
    wait_for(lambda: api.workflows.is_workflow_complete(wf).is_complete, 60, "the good hosts to finish the workflow")

    # Trusting the new host once records its key; the unreachable ones are removed.
    remote("remove-worker", wf, "badport")
    remote("remove-worker", wf, "silent")
    rows = by_worker(remote.json("status", wf, "-o", out, "--accept-new-host-keys"))
    assert rows["stranger"]["state"] == "not started" and rows["stranger"]["error"] is None
    assert f"[{stranger.host}]:{stranger.port} {stranger.host_public_key}" in known_hosts.read_text()
    assert by_worker(remote.json("status", wf, "-o", out))["stranger"]["state"] == "not started"


def test_remote_torc_must_be_found_and_compatible(remote, api_url, out, tmp_path):
    wf = create_workflow(api_url, [job("a", "true")])
    remote("add-workers", wf, "node1", "node2")
    fake = tmp_path / "fake-torc"
    fake.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "torc, version 9.4.1"; exit 0; fi\necho "fake torc: cannot run" >&2\nexit 1\n')
    fake.chmod(0o755)

    result = remote("run", wf, "-o", out, "--torc-command", fake, expect_exit=1)
    version = __import__("torc").__version__
    assert result.stderr.splitlines()[0] == (
        f"node1: torc 9.4.1 there is not compatible with torc {version} here (major.minor versions must match); "
        "install the same torc version there, or pass --skip-version-check"
    )
    result = remote("run", wf, "-o", out, env={"TORC_REMOTE_COMMAND": str(tmp_path / "nowhere" / "torc")}, expect_exit=1)
    assert result.stderr.splitlines()[1].startswith(f"node2: torc command '{tmp_path}/nowhere/torc' not found there (")
    assert not out.exists()  # nothing was started

    # Skipping the check starts the fake, which dies at once: the error quotes its log.
    result = remote("run", wf, "-o", out, "--torc-command", fake, "--skip-version-check", expect_exit=1)
    first = result.stderr.splitlines()[0]
    assert first.startswith("node1: the worker (pid ")
    assert first.endswith(f"exited before registering with the server; its log {out}/remote_worker_node1_wf{wf}.log ends with: fake torc: cannot run")


def test_a_worker_that_cannot_reach_the_server_is_reported(remote, api_url, out):
    wf = create_workflow(api_url, [job("a", "true")])
    remote("add-workers", wf, "node1")
    unreachable = "http://127.0.0.1:9/torc-service/v1"
    result = remote("run", wf, "-o", out, "--worker-url", unreachable, "--startup-timeout", 1, expect_exit=1)
    first = result.stderr.splitlines()[0]
    assert first.startswith("node1: the worker (pid ")
    assert f"runs but did not register with the server within 1 s: can the host reach {unreachable}?" in first
    assert [r["state"] for r in remote.json("status", wf, "-o", out)] == ["alive"]  # still trying
    assert [r["state"] for r in remote.json("stop", wf, "-o", out)] == ["stopped"]


def test_run_refuses_a_finished_workflow_and_a_workflow_without_hosts(remote, api_url, out):
    wf = create_workflow(api_url, [job("a", "true")])
    result = remote("run", wf, "-o", out, expect_exit=1)
    assert result.stderr == f"Error: workflow {wf} has no remote workers: add them with 'torc remote add-workers {wf} HOST...'\n"
    make_api(api_url).workflows.cancel_workflow(wf)
    remote("add-workers", wf, "node1")
    result = remote("run", wf, "-o", out, expect_exit=1)
    assert result.stderr == f"Error: workflow {wf} is canceled: nothing to run (torc workflows reset-status starts it again)\n"


def test_run_adds_the_workers_of_a_file_and_refuses_a_second_worker(remote, api_url, out, tmp_path):
    marker = tmp_path / "password.txt"
    wf = create_workflow(api_url, [job("wait", f"printenv TORC_PASSWORD > {marker}; sleep 60", supports_termination=True)])
    worker_file = tmp_path / "workers.txt"
    worker_file.write_text("node1\n")
    remote("run", wf, "--workers", worker_file, "-o", out, *FAST, env={"TORC_PASSWORD": "s3cret pass"})
    assert [w["worker"] for w in remote.json("list-workers", wf)] == ["node1"]
    wait_for(marker.exists, 30, "the job to start")
    assert wait_for(marker.read_text, 5, "the job's output") == "s3cret pass\n"  # forwarded on stdin, not argv
    pid = int((out / f"remote_worker_node1_wf{wf}.pid").read_text())
    assert "s3cret" not in Path(f"/proc/{pid}/cmdline").read_text()

    result = remote("run", wf, "-o", out, expect_exit=1)
    assert result.stderr.splitlines()[0] == f"node1: a worker of workflow {wf} already runs there (pid {pid}); stop it first"
    remote("stop", wf, "-o", out)
    result = remote("delete-logs", wf, "-o", out)
    assert "deleted" in result.stdout and not out.exists()
