"""References from jobs to jobs, files and user_data: names, regexes, ${...} substitution."""

import json

import pytest

FILES = [{"name": "raw", "path": "/d/raw.csv"}, {"name": "clean", "path": "/d/clean.csv"}]
USER_DATA = [{"name": "meta", "data": {"rows": 3, "tags": ["a"]}}, {"name": "result"}]


def test_files_input_and_output_substitution(expand):
    wf = expand(
        [{"name": "prep", "command": "prep -i ${files.input.raw} -o ${files.output.clean}"}], files=FILES
    )
    job = wf.jobs[0]
    assert job["command"] == "prep -i /d/raw.csv -o /d/clean.csv"
    assert job["input_files"] == ["raw"]
    assert job["output_files"] == ["clean"]


def test_substitution_in_invocation_script(expand):
    wf = expand(
        [{"name": "j", "command": "run", "invocation_script": "cd $(dirname ${files.input.raw}) &&"}],
        files=FILES,
    )
    assert wf.jobs[0]["invocation_script"] == "cd $(dirname /d/raw.csv) &&"
    assert wf.jobs[0]["input_files"] == ["raw"]


def test_user_data_substitution_inserts_the_data_json(expand):
    wf = expand(
        [{"name": "j", "command": "run '${user_data.input.meta}' ${user_data.output.result}"}],
        user_data=USER_DATA,
    )
    job = wf.jobs[0]
    assert (
        job["command"] == "run '" + json.dumps({"rows": 3, "tags": ["a"]}, separators=(",", ":")) + "' null"
    )
    assert job["input_user_data"] == ["meta"]
    assert job["output_user_data"] == ["result"]


def test_explicit_lists_and_substitutions_are_merged_without_duplicates(expand):
    wf = expand(
        [
            {
                "name": "j",
                "command": "x ${files.input.clean} ${files.input.raw}",
                "input_files": ["raw", "raw"],
            }
        ],
        files=FILES,
    )
    assert wf.jobs[0]["input_files"] == ["raw", "clean"]


@pytest.mark.parametrize(
    ("field", "target", "matches"),
    [
        ("input_file_regexes", "input_files", ["raw", "clean"]),
        ("output_file_regexes", "output_files", ["raw", "clean"]),
        ("input_user_data_regexes", "input_user_data", ["meta", "result"]),
        ("output_user_data_regexes", "output_user_data", ["meta", "result"]),
    ],
)
def test_data_regexes(expand, field, target, matches):
    pattern = "a" if "file" in field else "t"  # search semantics: matches anywhere in the name
    wf = expand([{"name": "j", "command": "c", field: [pattern]}], files=FILES, user_data=USER_DATA)
    assert wf.jobs[0][target] == matches


def test_depends_on_regexes_match_expanded_names_except_itself(expand):
    wf = expand(
        [
            {"name": "stage1_{i}", "command": "c", "parameters": {"i": "1:3"}},
            {"name": "other", "command": "c"},
            {
                "name": "stage1_barrier",
                "command": "c",
                "depends_on_regexes": ["^stage1_"],
                "depends_on": ["other"],
            },
        ]
    )
    assert wf.jobs[-1]["depends_on"] == ["other", "stage1_1", "stage1_2", "stage1_3"]


def test_regex_matching_only_the_job_itself(spec_error):
    err = spec_error([{"name": "solo", "command": "c", "depends_on_regexes": ["solo"]}])
    assert "matches no job but itself" in err.message


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("depends_on_regexes", "job"),
        ("input_file_regexes", "file"),
        ("output_user_data_regexes", "user_data"),
    ],
)
def test_regex_matching_nothing(spec_error, field, kind):
    err = spec_error([{"name": "j", "command": "c", field: ["^nothing$"]}], files=FILES, user_data=USER_DATA)
    assert err.message == f"regex '^nothing$' matches no {kind}"
    assert err.field == f"jobs[0].{field}"


def test_invalid_regex(spec_error):
    err = spec_error([{"name": "j", "command": "c", "input_file_regexes": ["raw("]}], files=FILES)
    assert err.message.startswith("invalid regex 'raw('")
    assert err.field == "jobs[0].input_file_regexes"
    assert err.job == "j"


@pytest.mark.parametrize(
    ("job_fields", "field", "message"),
    [
        ({"depends_on": ["nope"]}, "depends_on", "unknown job 'nope'"),
        ({"input_files": ["nope"]}, "input_files", "unknown file 'nope'"),
        ({"output_files": ["nope"]}, "output_files", "unknown file 'nope'"),
        ({"input_user_data": ["nope"]}, "input_user_data", "unknown user_data 'nope'"),
        ({"output_user_data": ["nope"]}, "output_user_data", "unknown user_data 'nope'"),
        ({"resource_requirements": "nope"}, "resource_requirements", "unknown resource_requirements 'nope'"),
        ({"failure_handler": "nope"}, "failure_handler", "unknown failure handler 'nope'"),
        ({"scheduler": "nope"}, "scheduler", "unknown slurm scheduler 'nope'"),
        ({"command": "x ${files.output.nope}"}, "command", "unknown file 'nope'"),
        ({"command": "x ${user_data.input.nope}"}, "command", "unknown user_data 'nope'"),
        ({"command": "x ${files.inptu.raw}"}, "command", "invalid reference '${files.inptu.raw}'"),
    ],
)
def test_unknown_references(spec_error, job_fields, field, message):
    err = spec_error([{"name": "j", "command": "c", **job_fields}], files=FILES, user_data=USER_DATA)
    assert err.message.startswith(message)
    assert (err.job, err.field) == ("j", f"jobs[0].{field}")


def test_unknown_reference_names_the_expansion_that_made_it(spec_error):
    err = spec_error(
        [
            {"name": "sim_{i:03d}", "command": "c", "parameters": {"i": "1:2"}},
            {"name": "post_{i}", "command": "c", "depends_on": ["sim_{i:03d}"], "parameters": {"i": "1:3"}},
        ]
    )
    assert err.job == "post_3 (i=3)"
    assert err.field == "jobs[1].depends_on"
    assert err.message.startswith("unknown job 'sim_003'")
    assert str(err).startswith(
        "spec.yaml: job 'post_3' (i=3): field 'jobs[1].depends_on': unknown job 'sim_003'"
    )


def test_unknown_name_suggests_a_close_one(spec_error):
    err = spec_error([{"name": "j", "command": "c", "input_files": ["claen"]}], files=FILES)
    assert err.message == "unknown file 'claen' (did you mean 'clean'?)"
