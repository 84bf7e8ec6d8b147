"""The KDL -> document mapping, KDL 2 syntax support and KDL-specific errors."""

import pytest

from torc.spec import SpecError, load_workflow_spec
from torc.spec.kdl_format import parse_kdl

EVERYTHING = r"""
name "wf"
user "me"
compute_node_wait_for_new_jobs_seconds 120
use_pending_failed #true
parameters {
    i "1:3"
    opt "['a','b']"
}
slurm_defaults {
    mail-type "END"
    exclusive #true
}
resource_monitor {
    enabled #true
    sample_interval_seconds 5
    metrics "cpu" "mem"
}
file "raw" path="/d/raw.csv"
file "out_{i}" path="o/{i}" {
    use_parameters "i"
}
user_data "meta" {
    is_ephemeral #false
    data "{\"rows\": [1, 2]}"
}
resource_requirements "big" {
    num_cpus 8
    memory "16g"
}
failure_handler "retry" {
    rule {
        exit_codes 10 11
        max_retries 2
    }
    rule {
        match_all_exit_codes #true
    }
}
slurm_scheduler "cpu" {
    account "acct"
    nodes 2
}
job "work_{i}" {
    command "run {i}"
    depends_on_job "prep"
    depends_on "setup"
    input_file "raw"
    output_files "out_{i}"
    input_user_data "meta"
    depends_on_regexes "^a" "^b"
    parameters {
        i "1:3"
    }
    parameter_mode "product"
    cancel_on_blocking_job_failure #false
}
action {
    trigger_type "on_jobs_ready"
    action_type "run_commands"
    job "work_1"
    jobs "work_2" "work_3"
    job_name_regex "^w"
    command "echo 1"
    commands "echo 2"
}
"""


def test_kdl_document_mapping():
    assert parse_kdl(EVERYTHING) == {
        "name": "wf",
        "user": "me",
        "compute_node_wait_for_new_jobs_seconds": 120,
        "use_pending_failed": True,
        "parameters": {"i": "1:3", "opt": "['a','b']"},
        "slurm_defaults": {"mail-type": "END", "exclusive": True},
        "resource_monitor": {"enabled": True, "sample_interval_seconds": 5, "metrics": ["cpu", "mem"]},
        "files": [
            {"name": "raw", "path": "/d/raw.csv"},
            {"name": "out_{i}", "path": "o/{i}", "use_parameters": ["i"]},
        ],
        "user_data": [{"name": "meta", "is_ephemeral": False, "data": {"rows": [1, 2]}}],
        "resource_requirements": [{"name": "big", "num_cpus": 8, "memory": "16g"}],
        "failure_handlers": [
            {
                "name": "retry",
                "rules": [{"exit_codes": [10, 11], "max_retries": 2}, {"match_all_exit_codes": True}],
            }
        ],
        "slurm_schedulers": [{"name": "cpu", "account": "acct", "nodes": 2}],
        "jobs": [
            {
                "name": "work_{i}",
                "command": "run {i}",
                "depends_on": ["prep", "setup"],
                "input_files": ["raw"],
                "output_files": ["out_{i}"],
                "input_user_data": ["meta"],
                "depends_on_regexes": ["^a", "^b"],
                "parameters": {"i": "1:3"},
                "parameter_mode": "product",
                "cancel_on_blocking_job_failure": False,
            }
        ],
        "actions": [
            {
                "trigger_type": "on_jobs_ready",
                "action_type": "run_commands",
                "jobs": ["work_1", "work_2", "work_3"],
                "job_name_regexes": ["^w"],
                "commands": ["echo 1", "echo 2"],
            }
        ],
    }


def test_kdl_and_yaml_give_the_same_workflow(write):
    kdl = write(
        "s.kdl",
        'name "wf"\nfile "f" path="f.txt"\njob "a" {\n  command "make ${files.output.f}"\n}\n'
        'job "b" {\n  command "use"\n  input_file "f"\n  supports_termination #true\n}\n',
    )
    yaml = write(
        "s.yaml",
        "name: wf\nfiles: [{name: f, path: f.txt}]\njobs:\n"
        "  - {name: a, command: 'make ${files.output.f}'}\n"
        "  - {name: b, command: use, input_files: [f], supports_termination: true}\n",
    )
    assert load_workflow_spec(kdl).to_dict() == load_workflow_spec(yaml).to_dict()


def test_kdl1_and_kdl2_spellings():
    v1 = parse_kdl('name "wf"\nuse_pending_failed true\njob "a" {\n  command r#"say "hi" \\d"#\n}\n')
    v2 = parse_kdl('name "wf"\nuse_pending_failed #true\njob "a" { command #"say "hi" \\d"# }\n')
    assert (
        v1
        == v2
        == {
            "name": "wf",
            "use_pending_failed": True,
            "jobs": [{"name": "a", "command": 'say "hi" \\d'}],
        }
    )


def test_last_child_may_omit_its_terminator():
    doc = parse_kdl('name "wf"\njob "a" { command "x"; depends_on "b" }\njob "b" { command "}" /* } */ }\n')
    assert doc["jobs"] == [{"name": "a", "command": "x", "depends_on": ["b"]}, {"name": "b", "command": "}"}]


def test_strings_and_comments_are_not_rewritten():
    doc = parse_kdl('// #true }\nname "#true } #false"\njob "a" {\n  command "echo #null" // #false\n}\n')
    assert doc == {"name": "#true } #false", "jobs": [{"name": "a", "command": "echo #null"}]}


def test_numbers_keep_their_type():
    doc = parse_kdl('name "wf"\nparameters {\n  a 3\n  b 2.5\n  c 1e3\n  d 0x10\n}\njobs_sort_method #null\n')
    assert doc["parameters"] == {"a": 3, "b": 2.5, "c": 1000, "d": 16}
    assert doc["jobs_sort_method"] is None


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ('name "wf"\njob { command "x" }\n', "jobs[0]", "node 'job' needs exactly one argument, its name"),
        ('name "wf"\naction "a" { }\n', "actions[0]", "node 'action' takes no arguments"),
        ('name "wf"\njob "a" { command "x" "y" }\n', "jobs[0].command", "needs exactly one value, got 2"),
        (
            'name "wf"\njob "a" { command "x"; command "y" }\n',
            "jobs[0].command",
            "'command' is given more than once",
        ),
        ('name "wf"\njob "a" { input_file "x" { y 1 } }\n', "jobs[0].input_file", "takes only values"),
        ('name "wf"\njob "a" { command (sh)"x" }\n', "jobs[0].command", "type annotation (sh)"),
        ('name "wf"\n(kind)job "a" { command "x" }\n', "job", "type annotation (kind)"),
        ('name "wf"\nuser_data "u" { data "{oops" }\n', "user_data[0].data", "'data' must hold JSON text"),
        ('name "wf"\nparameters { i }\n', "parameters.i", "node 'i' needs a value"),
        ('name "wf"\nname "again"\n', "name", "'name' is given more than once"),
    ],
)
def test_kdl_structure_errors(text, field, message):
    with pytest.raises(SpecError) as info:
        parse_kdl(text)
    assert info.value.field == field
    assert message in info.value.message


def test_kdl2_multiline_string_is_reported_with_its_line():
    with pytest.raises(SpecError) as info:
        parse_kdl('name "wf"\njob "a" {\n  command """\n    x\n    """\n}\n')
    assert info.value.line == 3
    assert "multi-line strings" in info.value.message


def test_unknown_kdl_node_is_an_unknown_field(write):
    path = write("s.kdl", 'name "wf"\njob "a" {\n  command "x"\n  comand "y"\n}\n')
    with pytest.raises(SpecError) as info:
        load_workflow_spec(path)
    assert str(info.value) == (
        f"{path}: job 'a': field 'jobs[0].comand': unknown field 'comand' in job (did you mean 'command'?)"
    )
