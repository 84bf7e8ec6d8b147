"""Invalid specs: every problem is a located SpecError, never another exception."""

import contextlib
import datetime

import pytest

from torc.spec import SpecError, load_workflow_spec


def full_spec() -> dict:
    """A valid spec touching every object kind."""
    return {
        "name": "wf",
        "parameters": {"p": "1:2"},
        "jobs": [
            {"name": "a", "command": "c ${files.output.f}", "failure_handler": "fh", "scheduler": "s"},
            {
                "name": "b_{p}",
                "command": "c",
                "resource_requirements": "r",
                "depends_on": ["a"],
                "input_files": ["f"],
                "output_user_data": ["u"],
                "use_parameters": ["p"],
            },
        ],
        "files": [{"name": "f", "path": "p"}],
        "user_data": [{"name": "u", "data": {"k": [1]}, "is_ephemeral": True}],
        "resource_requirements": [{"name": "r", "num_cpus": 2, "memory": "1g", "runtime": "PT1H"}],
        "failure_handlers": [{"name": "fh", "rules": [{"exit_codes": [1], "max_retries": 2}]}],
        "slurm_schedulers": [{"name": "s", "account": "acct", "walltime": "01:00:00"}],
        "slurm_defaults": {"qos": "high"},
        "resource_monitor": {"enabled": True, "granularity": "summary"},
        "actions": [
            {"trigger_type": "on_workflow_start", "action_type": "run_commands", "commands": ["x"]},
            {
                "trigger_type": "on_jobs_ready",
                "action_type": "schedule_nodes",
                "jobs": ["a"],
                "scheduler": "s",
                "scheduler_type": "slurm",
            },
        ],
    }


def error_of(spec) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_workflow_spec(spec, source_name="spec.yaml")
    return info.value


def with_change(path: tuple, value) -> dict:
    """full_spec() with the item at ``path`` replaced (or deleted, if value is DELETE)."""
    spec = full_spec()
    target = spec
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return spec


DELETE = object()


def test_full_spec_is_valid():
    wf = load_workflow_spec(full_spec())
    assert [job["name"] for job in wf.jobs] == ["a", "b_1", "b_2"]


def test_error_line_names_file_job_and_field():
    err = SpecError(
        "unknown job 'sim_003'", file="spec.yaml", job="post_3", params="i=3", field="jobs[1].depends_on"
    )
    assert err.job == "post_3 (i=3)"
    assert str(err) == "spec.yaml: job 'post_3' (i=3): field 'jobs[1].depends_on': unknown job 'sim_003'"
    assert str(SpecError("bad", file="s.kdl", line=4)) == "s.kdl:4: bad"
    assert str(SpecError("bad")) == "bad"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ((), "bogus"),
        (("jobs", 0), "jobs[0].bogus"),
        (("files", 0), "files[0].bogus"),
        (("user_data", 0), "user_data[0].bogus"),
        (("resource_requirements", 0), "resource_requirements[0].bogus"),
        (("failure_handlers", 0), "failure_handlers[0].bogus"),
        (("failure_handlers", 0, "rules", 0), "failure_handlers[0].rules[0].bogus"),
        (("slurm_schedulers", 0), "slurm_schedulers[0].bogus"),
        (("resource_monitor",), "resource_monitor.bogus"),
        (("actions", 0), "actions[0].bogus"),
    ],
)
def test_unknown_field_at_every_level(path, field):
    err = error_of(with_change((*path, "bogus"), 1))
    assert err.field == field
    assert err.message.startswith("unknown field 'bogus' in ")


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("resource_monitor_config", "resource_monitor"),
        ("job", "jobs"),
        ("slurm_scheduler", "slurm_schedulers"),
    ],
)
def test_unknown_field_suggests_the_real_one(key, suggestion):
    err = error_of(with_change((key,), {}))
    assert err.message.endswith(f"(did you mean '{suggestion}'?)")


def test_unknown_job_field_names_the_job():
    err = error_of(with_change(("jobs", 0, "slurm_scheduler"), "s"))
    assert err.job == "a"
    assert str(err) == (
        "spec.yaml: job 'a': field 'jobs[0].slurm_scheduler': "
        "unknown field 'slurm_scheduler' in job (did you mean 'scheduler'?)"
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("name",), 5, "expected a string, got number 5"),
        (("jobs",), "a", "expected a list of job entries, got string 'a'"),
        (("jobs", 0), "a", "expected a mapping for job"),
        (("jobs", 0, "command"), 5, "expected a string, got number 5 (put it in quotes)"),
        (("jobs", 0, "depends_on"), "a", "expected a list, got string 'a'"),
        (("jobs", 0, "supports_termination"), "yes", "expected true or false"),
        (("resource_requirements", 0, "num_cpus"), "4", "expected an integer, got string '4'"),
        (("resource_requirements", 0, "num_cpus"), True, "expected an integer, got boolean True"),
        (("resource_requirements", 0, "num_cpus"), 0, "must be at least 1"),
        (("resource_requirements", 0, "num_gpus"), 1.5, "expected an integer"),
        (("compute_node_wait_for_new_jobs_seconds",), -1, "must be at least 0"),
        (("user_data", 0, "data"), {1: "x"}, "JSON object keys must be strings"),
        (("metadata",), datetime.date(2024, 1, 1), "cannot be represented in JSON"),
        (("failure_handlers", 0, "rules", 0, "exit_codes"), ["1"], "expected an integer"),
        (("jobs_sort_method",), "fastest", "'fastest' is not one of: gpus_runtime_memory"),
        (("parameters",), "1:3", "expected a mapping of parameter names to values"),
        (("slurm_defaults", "mail-type"), ["END"], "expected a string, number or boolean"),
        (("resource_monitor", "granularity"), "hourly", "is not one of: summary, time_series"),
        (("jobs", 0, "name"), "  ", "name must not be empty"),
    ],
)
def test_wrong_types(path, value, message):
    err = error_of(with_change(path, value))
    assert message in err.message
    assert err.field is not None and err.field.startswith(path[0])


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("name",), "name"),
        (("jobs",), "jobs"),
        (("jobs", 0, "name"), "jobs[0].name"),
        (("jobs", 0, "command"), "jobs[0].command"),
        (("files", 0, "path"), "files[0].path"),
        (("user_data", 0, "name"), "user_data[0].name"),
        (("slurm_schedulers", 0, "account"), "slurm_schedulers[0].account"),
        (("failure_handlers", 0, "rules"), "failure_handlers[0].rules"),
        (("actions", 0, "trigger_type"), "actions[0].trigger_type"),
    ],
)
def test_missing_required_fields(path, field):
    err = error_of(with_change(path, DELETE))
    assert err.field == field
    assert err.message.startswith(f"missing required field '{path[-1]}'")


def test_null_means_not_given():
    spec = with_change(("jobs", 0, "depends_on"), None)
    assert load_workflow_spec(spec).jobs[0]["depends_on"] == []
    assert error_of(with_change(("jobs", 0, "command"), None)).field == "jobs[0].command"


@pytest.mark.parametrize(
    ("section", "entry", "label"),
    [
        ("jobs", {"name": "a", "command": "other"}, "job"),
        ("files", {"name": "f", "path": "other"}, "file"),
        ("user_data", {"name": "u"}, "user_data"),
        ("resource_requirements", {"name": "r"}, "resource_requirements"),
        ("failure_handlers", {"name": "fh", "rules": [{"match_all_exit_codes": True}]}, "failure handler"),
        ("slurm_schedulers", {"name": "s", "account": "x"}, "slurm scheduler"),
    ],
)
def test_duplicate_names(section, entry, label):
    spec = full_spec()
    spec[section].append(entry)
    err = error_of(spec)
    assert err.message.startswith(f"duplicate {label} name '{entry['name']}'")
    assert err.field.startswith(f"{section}[{len(spec[section]) - 1}]")


def test_duplicate_name_produced_by_expansion():
    spec = full_spec()
    spec["jobs"].append({"name": "b_2", "command": "c"})
    err = error_of(spec)
    assert err.message == "duplicate job name 'b_2' (already produced by jobs[1])"
    assert err.field == "jobs[2]"


@pytest.mark.parametrize(
    ("jobs", "extra", "cycle"),
    [
        (
            [
                {"name": "a", "command": "c", "depends_on": ["c"]},
                {"name": "b", "command": "c", "depends_on": ["a"]},
                {"name": "c", "command": "c", "depends_on": ["b"]},
            ],
            {},
            "a -> b -> c -> a",
        ),
        ([{"name": "a", "command": "c", "depends_on": ["a"]}], {}, "a -> a"),
        (
            [
                {"name": "x", "command": "c"},
                {"name": "a", "command": "c ${files.input.f1} ${files.output.f2}"},
                {"name": "b", "command": "c", "input_files": ["f2"], "output_files": ["f1"]},
            ],
            {"files": [{"name": "f1", "path": "1"}, {"name": "f2", "path": "2"}]},
            "a -> b (via file 'f2') -> a (via file 'f1')",
        ),
        (
            [
                {"name": "a", "command": "c", "output_user_data": ["u"], "depends_on": ["b"]},
                {"name": "b", "command": "c", "input_user_data": ["u"]},
            ],
            {"user_data": [{"name": "u"}]},
            "a -> b (via user_data 'u') -> a",
        ),
    ],
)
def test_dependency_cycles_are_printed(spec_error, jobs, extra, cycle):
    err = spec_error(jobs, **extra)
    assert err.message == f"dependency cycle: {cycle}"
    assert err.job == cycle.split(" ")[0]


def test_long_chain_is_not_a_cycle(expand):
    jobs = [{"name": "j0", "command": "c"}] + [
        {"name": f"j{i}", "command": "c", "depends_on": [f"j{i - 1}"]} for i in range(1, 3000)
    ]
    assert expand(jobs).stats()["explicit_edges"] == 2999


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("resource_requirements", 0, "runtime"), "30 minutes", "invalid duration '30 minutes'"),
        (("resource_requirements", 0, "runtime"), "PT", "invalid duration 'PT'"),
        (("resource_requirements", 0, "memory"), "16 gigs", "invalid memory '16 gigs'"),
        (("slurm_schedulers", 0, "walltime"), "1 hour", "invalid walltime '1 hour'"),
        (("resource_requirements", 0, "name"), "default", "'default' is reserved"),
        (("slurm_defaults", "partition"), "debug", "'partition' is managed by torc"),
        (
            ("failure_handlers", 0, "rules", 0),
            {"max_retries": 1},
            "needs 'exit_codes' or 'match_all_exit_codes",
        ),
        (("failure_handlers", 0, "rules"), [], "has no rules"),
    ],
)
def test_bad_values(path, value, message):
    err = error_of(with_change(path, value))
    assert message in err.message
    field = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".")
    assert (err.file, err.field) == ("spec.yaml", field)
    assert str(err).startswith(f"spec.yaml: field '{field}': ")


def test_bad_duration_in_a_spec_file_names_the_file_and_field(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "name: sweep\n"
        "resource_requirements:\n  - {name: r, memory: 2g}\n  - {name: long, memory: 1g, runtime: 2 hours}\n"
        "jobs:\n  - {name: 'sim_{i}', command: run, resource_requirements: long, parameters: {i: '1:3'}}\n"
    )
    err = error_of_file(spec)
    assert (err.file, err.field) == (str(spec), "resource_requirements[1].runtime")
    assert str(err) == f"{spec}: field 'resource_requirements[1].runtime': {err.message}" and "invalid duration '2 hours'" in err.message


def error_of_file(path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_workflow_spec(path)
    return info.value


@pytest.mark.parametrize(
    ("action", "field", "message"),
    [
        (
            {"trigger_type": "on_start", "action_type": "run_commands", "commands": ["x"]},
            "trigger_type",
            "not one of",
        ),
        ({"trigger_type": "on_workflow_start", "action_type": "notify"}, "action_type", "not one of"),
        (
            {"trigger_type": "on_jobs_ready", "action_type": "run_commands", "commands": ["x"]},
            None,
            "needs 'jobs'",
        ),
        (
            {"trigger_type": "on_workflow_start", "action_type": "run_commands"},
            "commands",
            "non-empty 'commands'",
        ),
        (
            {"trigger_type": "on_workflow_start", "action_type": "schedule_nodes", "scheduler_type": "slurm"},
            "scheduler",
            "needs 'scheduler'",
        ),
        (
            {
                "trigger_type": "on_workflow_start",
                "action_type": "schedule_nodes",
                "scheduler": "nope",
                "scheduler_type": "slurm",
            },
            "scheduler",
            "unknown slurm scheduler 'nope'",
        ),
        (
            {
                "trigger_type": "on_workflow_start",
                "action_type": "schedule_nodes",
                "scheduler": "s",
                "scheduler_type": "pbs",
            },
            "scheduler_type",
            "not one of: slurm",
        ),
        (
            {
                "trigger_type": "on_jobs_complete",
                "action_type": "run_commands",
                "commands": ["x"],
                "jobs": ["zz"],
            },
            "jobs[0]",
            "unknown job 'zz'",
        ),
        (
            {
                "trigger_type": "on_jobs_complete",
                "action_type": "run_commands",
                "commands": ["x"],
                "job_name_regexes": ["^zz"],
            },
            "job_name_regexes[0]",
            "regex '^zz' matches no job",
        ),
    ],
)
def test_invalid_actions(action, field, message):
    err = error_of(with_change(("actions", 0), action))
    assert message in err.message
    assert err.field == ("actions[0]" if field is None else f"actions[0].{field}")


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("s.yaml", "name: wf\njobs:\n  - {name: a, command: [x}\n", 3, "invalid YAML"),
        ("s.yaml", "name: wf\nname: again\njobs: []\n", 2, "found duplicate key 'name'"),
        ("s.json", '{\n  "name": "wf",\n  "jobs": [,]\n}', 3, "invalid JSON"),
        ("s.json5", "{\n  name: 'wf',\n  jobs: [,],\n}", 3, "invalid JSON5"),
        ("s.kdl", 'name "wf"\njob "a" {\n    command "x" "y\n}\n', 3, "invalid KDL"),
    ],
)
def test_parse_errors_carry_the_line(write, name, text, line, message):
    path = write(name, text)
    with pytest.raises(SpecError) as info:
        load_workflow_spec(path)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.json", '{"name": "wf", "name": "x", "jobs": []}', "duplicate key 'name'"),
        ("s.json5", "{name: 'wf', jobs: [], jobs: []}", "duplicate key 'jobs'"),
        ("s.json", '{"name": "wf", "jobs": [], "x": NaN}', "invalid JSON value NaN"),
        ("s.yaml", "- a\n- b\n", "expected a mapping for workflow, got a list"),
        ("s.yaml", "", "expected a mapping for workflow, got NoneType"),
        ("s.toml", "name = 'wf'", "unsupported spec file extension '.toml'"),
        ("s.yaml", "name: wf\njobs: [{name: a, command: c, depends_on: [b]}]\n", "unknown job 'b'"),
    ],
)
def test_file_level_errors(write, name, text, message):
    path = write(name, text)
    with pytest.raises(SpecError) as info:
        load_workflow_spec(path)
    assert message in info.value.message
    assert info.value.file == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        load_workflow_spec(tmp_path / "absent.yaml")
    assert "cannot read spec file" in info.value.message


def test_not_a_path_or_mapping():
    with pytest.raises(SpecError, match="expected a spec file path or a mapping"):
        load_workflow_spec(["name", "wf"])


def test_source_name_overrides_the_path_in_messages(write):
    path = write("s.yaml", "name: wf\njobs: [{name: a}]\n")
    with pytest.raises(SpecError) as info:
        load_workflow_spec(path, source_name="uploaded.yaml")
    assert str(info.value).startswith("uploaded.yaml: job 'a': field 'jobs[0].command'")


def _leaf_paths(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaf_paths(item, (*path, i))
    yield path


@pytest.mark.parametrize(
    "bad",
    [5, 1.5, float("nan"), True, "x", "", [], [5], {}, {"x": 1}, datetime.date(2024, 1, 1), None, DELETE],
)
def test_no_other_exception_escapes(bad):
    """Replace every node of a valid spec with junk: only SpecError may come out."""
    for path in _leaf_paths(full_spec()):
        spec = with_change(path, bad) if path else bad
        with contextlib.suppress(SpecError):
            load_workflow_spec(spec)
