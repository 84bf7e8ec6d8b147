"""Shape of ExpandedWorkflow: server field names, defaults, actions, to_dict() and stats()."""

import json

import pytest


def test_job_record_defaults(expand):
    wf = expand([{"name": "a", "command": "c"}])
    assert wf.jobs == [
        {
            "name": "a",
            "command": "c",
            "invocation_script": None,
            "cancel_on_blocking_job_failure": True,
            "supports_termination": False,
            "resource_requirements": None,
            "failure_handler": None,
            "scheduler": None,
            "depends_on": [],
            "input_files": [],
            "output_files": [],
            "input_user_data": [],
            "output_user_data": [],
        }
    ]


def test_workflow_record_minimal(expand, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    assert expand([]).workflow == {
        "name": "wf",
        "user": "alice",
        "compute_node_wait_for_new_jobs_seconds": 90,
    }
    monkeypatch.delenv("USER")
    assert expand([]).workflow["user"] == "unknown"


def test_workflow_record_full(expand):
    wf = expand(
        [],
        user="bob",
        description="d",
        project="p",
        metadata={"owner": "x"},
        compute_node_expiration_buffer_seconds=60,
        compute_node_wait_for_new_jobs_seconds=0,
        compute_node_ignore_workflow_completion=True,
        compute_node_wait_for_healthy_database_minutes=20,
        compute_node_min_time_for_new_jobs_seconds=300,
        jobs_sort_method="none",
        use_pending_failed=True,
        resource_monitor={"enabled": True, "granularity": "time_series"},
        slurm_defaults={"account": "acct", "mail-type": "END"},
    )
    assert wf.workflow == {
        "name": "wf",
        "user": "bob",
        "description": "d",
        "project": "p",
        "metadata": '{"owner": "x"}',
        "compute_node_wait_for_new_jobs_seconds": 0,
        "compute_node_expiration_buffer_seconds": 60,
        "compute_node_ignore_workflow_completion": True,
        "compute_node_wait_for_healthy_database_minutes": 20,
        "compute_node_min_time_for_new_jobs_seconds": 300,
        "jobs_sort_method": "none",
        "use_pending_failed": True,
        "resource_monitor_config": '{"enabled": true, "granularity": "time_series"}',
        "slurm_defaults": '{"account": "acct", "mail-type": "END"}',
    }


@pytest.mark.parametrize(
    ("metadata", "text"), [('{"a": 1}', '{"a": 1}'), ("free text", '"free text"'), ([1], "[1]")]
)
def test_metadata_is_always_json_text(expand, metadata, text):
    assert expand([], metadata=metadata).workflow["metadata"] == text


def test_resource_requirements_defaults(expand):
    wf = expand(
        [], resource_requirements=[{"name": "small"}, {"name": "gpu", "num_gpus": 2, "runtime": "PT4H"}]
    )
    assert wf.resource_requirements == [
        {"name": "small", "num_cpus": 1, "num_gpus": 0, "num_nodes": 1, "memory": "1m", "runtime": "P0DT1M"},
        {"name": "gpu", "num_cpus": 1, "num_gpus": 2, "num_nodes": 1, "memory": "1m", "runtime": "PT4H"},
    ]


def test_failure_handler_rule_defaults(expand):
    wf = expand(
        [],
        failure_handlers=[
            {
                "name": "h",
                "rules": [
                    {"exit_codes": [10, 11], "recovery_script": "fix.sh"},
                    {"match_all_exit_codes": True},
                ],
            }
        ],
    )
    assert wf.failure_handlers == [
        {
            "name": "h",
            "rules": [
                {
                    "exit_codes": [10, 11],
                    "match_all_exit_codes": False,
                    "recovery_script": "fix.sh",
                    "max_retries": 3,
                },
                {"exit_codes": [], "match_all_exit_codes": True, "recovery_script": None, "max_retries": 3},
            ],
        }
    ]


def test_slurm_scheduler_defaults_and_given_keys_only(expand):
    wf = expand([], slurm_schedulers=[{"name": "s", "account": "a", "gres": "gpu:1", "extra": "--exclusive"}])
    assert wf.slurm_schedulers == [
        {
            "name": "s",
            "account": "a",
            "nodes": 1,
            "walltime": "01:00:00",
            "gres": "gpu:1",
            "extra": "--exclusive",
        }
    ]


def test_user_data_records(expand):
    wf = expand([], user_data=[{"name": "a"}, {"name": "b", "data": [1, {"x": None}], "is_ephemeral": True}])
    assert wf.user_data == [
        {"name": "a", "data": None, "is_ephemeral": False},
        {"name": "b", "data": [1, {"x": None}], "is_ephemeral": True},
    ]


def test_actions(expand):
    wf = expand(
        [{"name": f"train_{i}", "command": "c"} for i in range(3)] + [{"name": "eval", "command": "c"}],
        slurm_schedulers=[{"name": "gpu", "account": "a"}],
        actions=[
            {
                "trigger_type": "on_jobs_ready",
                "action_type": "schedule_nodes",
                "jobs": ["eval", "train_0"],
                "job_name_regexes": ["^train_"],
                "scheduler": "gpu",
                "scheduler_type": "slurm",
                "num_allocations": 2,
                "start_one_worker_per_node": True,
                "max_parallel_jobs": 4,
            },
            {"trigger_type": "on_worker_start", "action_type": "run_commands", "commands": ["module load x"]},
            {
                "trigger_type": "on_worker_complete",
                "action_type": "run_commands",
                "commands": ["y"],
                "persistent": False,
            },
            {"trigger_type": "on_workflow_complete", "action_type": "run_commands", "commands": ["z"]},
        ],
    )
    assert wf.actions[0] == {
        "trigger_type": "on_jobs_ready",
        "action_type": "schedule_nodes",
        "job_names": ["eval", "train_0", "train_1", "train_2"],
        "action_config": {
            "scheduler": "gpu",
            "scheduler_type": "slurm",
            "num_allocations": 2,
            "start_one_worker_per_node": True,
            "max_parallel_jobs": 4,
        },
        "persistent": False,
    }
    assert wf.actions[1] == {
        "trigger_type": "on_worker_start",
        "action_type": "run_commands",
        "job_names": [],
        "action_config": {"commands": ["module load x"]},
        "persistent": True,
    }
    assert [action["persistent"] for action in wf.actions[2:]] == [False, False]


def test_to_dict_is_a_json_able_copy(expand):
    wf = expand([{"name": "a", "command": "c"}], user_data=[{"name": "u", "data": {"k": [1]}}])
    data = wf.to_dict()
    assert set(data) == {
        "workflow",
        "files",
        "user_data",
        "resource_requirements",
        "failure_handlers",
        "slurm_schedulers",
        "jobs",
        "actions",
    }
    assert json.loads(json.dumps(data)) == data
    data["jobs"][0]["depends_on"].append("x")
    data["user_data"][0]["data"]["k"].append(2)
    assert wf.jobs[0]["depends_on"] == []
    assert wf.user_data[0]["data"] == {"k": [1]}


def test_stats(expand):
    wf = expand(
        [
            {"name": "a_{i}", "command": "c", "parameters": {"i": "1:4"}},
            {"name": "b", "command": "c", "depends_on_regexes": ["^a_"], "output_files": ["f"]},
            {"name": "c", "command": "c", "depends_on": ["b"], "input_files": ["f"]},
        ],
        files=[{"name": "f", "path": "p"}],
        user_data=[{"name": "u"}],
    )
    assert wf.stats() == {
        "jobs": 6,
        "explicit_edges": 5,
        "files": 1,
        "user_data": 1,
        "resource_requirements": 0,
        "failure_handlers": 0,
        "slurm_schedulers": 0,
        "actions": 0,
    }
