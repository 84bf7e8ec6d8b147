"""Parameter values, templates, product/zip modes, shared parameters and fan-in."""

import pytest

from torc.spec import SpecError
from torc.spec.errors import Context
from torc.spec.parameters import parse_values


def names(workflow) -> list[str]:
    return [job["name"] for job in workflow.jobs]


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ("1:5", [1, 2, 3, 4, 5]),
        ("0:100:25", [0, 25, 50, 75, 100]),
        ("1:100:25", [1, 26, 51, 76]),  # end is inclusive only when the step lands on it
        ("5:1:-2", [5, 3, 1]),
        ("{1:3}", [1, 2, 3]),
        (" 2:3 ", [2, 3]),
        ("[1,5,10]", [1, 5, 10]),
        ("['adam','sgd']", ["adam", "sgd"]),
        ("['a, b', \"c\", d]", ["a, b", "c", "d"]),
        ("[0.5, 2]", [0.5, 2]),
        ("7", [7]),
        ("adam", ["adam"]),
        (7, [7]),
        ([1, "x", 2.5], [1, "x", 2.5]),
    ],
)
def test_parse_values(raw, values):
    assert parse_values(raw, Context()) == values


def test_float_range_is_exact_and_includes_the_end():
    values = parse_values("0.0:1.0:0.1", Context())
    assert values == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert parse_values("0.5:2.5", Context()) == [0.5, 1.5, 2.5]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1:2:3:4", "expected 'start:end' or 'start:end:step'"),
        ("1:b", "start, end and step must be numbers"),
        ("1:5:0", "step cannot be zero"),
        ("5:1", "is empty"),
        ("[1,,2]", "empty item"),
        ("[]", "has no values"),
        ("['a' b]", "after quoted item"),
        ("['a]", "unterminated quote"),
        ("1:100000000000", "limit"),
        (True, "expected a string, number or list"),
        ([[1]], "must be strings or numbers"),
    ],
)
def test_bad_parameter_values(spec_error, raw, message):
    err = spec_error([{"name": "j{i}", "command": "c", "parameters": {"i": raw}}])
    assert message in err.message
    assert err.field.startswith("jobs[0].parameters.i")
    assert err.job == "j{i}"


def test_int_range_expands_jobs_in_order(expand):
    wf = expand([{"name": "job_{i}", "command": "echo {i}", "parameters": {"i": "1:3"}}])
    assert names(wf) == ["job_1", "job_2", "job_3"]
    assert [job["command"] for job in wf.jobs] == ["echo 1", "echo 2", "echo 3"]


def test_step_range(expand):
    wf = expand([{"name": "s{x}", "command": "c", "parameters": {"x": "0:100:10"}}])
    assert names(wf) == [f"s{x}" for x in range(0, 101, 10)]


def test_float_values_render_like_upstream(expand):
    wf = expand([{"name": "a{alpha}", "command": "c", "parameters": {"alpha": "0.0:1.0:0.5"}}])
    # Rust's f64 Display: no trailing ".0", no exponent.
    assert names(wf) == ["a0", "a0.5", "a1"]
    wf = expand([{"name": "lr{lr}", "command": "c", "parameters": {"lr": "[0.00001]"}}])
    assert names(wf) == ["lr0.00001"]


def test_list_of_strings(expand):
    wf = expand([{"name": "train_{opt}", "command": "--opt {opt}", "parameters": {"opt": "['adam','sgd']"}}])
    assert names(wf) == ["train_adam", "train_sgd"]


def test_format_specs(expand):
    wf = expand(
        [
            {
                "name": "job_{i:03d}_lr{lr:.4f}",
                "command": "run {i} {i:>4} {lr}",
                "parameters": {"i": "[7]", "lr": "[0.01]"},
            }
        ]
    )
    assert wf.jobs[0]["name"] == "job_007_lr0.0100"
    assert wf.jobs[0]["command"] == "run 7    7 0.01"


def test_format_spec_that_does_not_fit_the_value(spec_error):
    err = spec_error([{"name": "j{x:03d}", "command": "c", "parameters": {"x": "[0.5]"}}])
    assert "cannot format x=0.5 with '{x:03d}'" in err.message
    assert err.field == "jobs[0].name"


def test_product_is_cartesian_first_parameter_outermost(expand):
    wf = expand([{"name": "{a}_{b}", "command": "c", "parameters": {"a": "1:2", "b": "['x','y','z']"}}])
    assert names(wf) == ["1_x", "1_y", "1_z", "2_x", "2_y", "2_z"]


def test_zip_pairs_values(expand):
    wf = expand(
        [
            {
                "name": "{dataset}_{model}",
                "command": "c",
                "parameters": {"dataset": "['cifar','mnist']", "model": "['resnet','cnn']"},
                "parameter_mode": "zip",
            }
        ]
    )
    assert names(wf) == ["cifar_resnet", "mnist_cnn"]


def test_zip_with_unequal_lengths(spec_error):
    err = spec_error(
        [{"name": "{a}{b}", "command": "c", "parameters": {"a": "1:3", "b": "1:2"}, "parameter_mode": "zip"}]
    )
    assert "equal length" in err.message and "a has 3, b has 2" in err.message
    assert err.field == "jobs[0].parameter_mode"


def test_unknown_parameter_mode(spec_error):
    err = spec_error(
        [{"name": "j{a}", "command": "c", "parameters": {"a": "1:2"}, "parameter_mode": "cross"}]
    )
    assert err.field == "jobs[0].parameter_mode" and "not one of: product, zip" in err.message


def test_use_parameters_selects_workflow_parameters(expand):
    wf = expand(
        [
            {"name": "t_{lr}_{bs}", "command": "c", "use_parameters": ["lr", "bs"]},
            {"name": "plain", "command": "c"},
        ],
        parameters={"lr": "[0.1,0.2]", "bs": "[16]", "unused": "1:1000"},
    )
    assert names(wf) == ["t_0.1_16", "t_0.2_16", "plain"]


def test_local_parameters_override_selected_workflow_parameters(expand):
    wf = expand(
        [
            {
                "name": "t_{lr}_{bs}",
                "command": "c",
                "use_parameters": ["lr", "bs"],
                "parameters": {"bs": "[64]"},
            }
        ],
        parameters={"lr": "[0.1]", "bs": "[16,32]"},
    )
    assert names(wf) == ["t_0.1_64"]


def test_use_parameters_applies_to_files_and_user_data(expand):
    wf = expand(
        [],
        parameters={"i": "1:2"},
        files=[{"name": "f{i}", "path": "out/{i}.txt", "use_parameters": ["i"]}],
        user_data=[{"name": "u{i}", "data": {"k": 1}, "use_parameters": ["i"]}],
    )
    assert wf.files == [{"name": "f1", "path": "out/1.txt"}, {"name": "f2", "path": "out/2.txt"}]
    assert [ud["name"] for ud in wf.user_data] == ["u1", "u2"]


def test_use_parameters_naming_an_unknown_workflow_parameter(spec_error):
    err = spec_error([{"name": "t{k}", "command": "c", "use_parameters": ["k"]}], parameters={"i": "1:2"})
    assert err.field == "jobs[0].use_parameters[0]"
    assert "unknown workflow parameter 'k'" in err.message


def test_template_with_unknown_parameter(spec_error):
    err = spec_error([{"name": "post_{i}", "command": "run {seed}", "parameters": {"i": "1:2"}}])
    assert err.field == "jobs[0].command"
    assert "unknown parameter 'seed'" in err.message and "{ seed }" in err.message


def test_non_template_braces_are_left_alone(expand):
    command = "awk '{print $1}' ${HOME}/x {a,b} { i } ${i} {} && echo {i}"
    wf = expand([{"name": "j{i}", "command": command, "parameters": {"i": "[5]"}}])
    assert wf.jobs[0]["command"] == "awk '{print $1}' ${HOME}/x {a,b} { i } ${i} {} && echo 5"


def test_unparameterized_entries_keep_braces_verbatim(expand):
    wf = expand([{"name": "literal_{x}", "command": "python -c 'print(f\"{x}\")'"}])
    assert wf.jobs[0]["name"] == "literal_{x}"
    assert wf.jobs[0]["command"] == "python -c 'print(f\"{x}\")'"


def test_templates_in_every_templated_field(expand):
    wf = expand(
        [
            {"name": "p{i}", "command": "produce", "output_files": ["f{i}"], "parameters": {"i": "1:2"}},
            {
                "name": "c{i}",
                "command": "consume ${files.input.f{i}}",
                "invocation_script": "module load v{i}",
                "resource_requirements": "rr{i}",
                "failure_handler": "fh{i}",
                "scheduler": "s{i}",
                "depends_on": ["p{i}"],
                "input_user_data": ["u{i}"],
                "parameters": {"i": "1:2"},
            },
        ],
        files=[{"name": "f{i}", "path": "/data/{i}.csv", "parameters": {"i": "1:2"}}],
        user_data=[{"name": "u{i}", "parameters": {"i": "1:2"}}],
        resource_requirements=[{"name": "rr1"}, {"name": "rr2"}],
        failure_handlers=[{"name": f"fh{i}", "rules": [{"exit_codes": [1]}]} for i in (1, 2)],
        slurm_schedulers=[{"name": f"s{i}", "account": "acct"} for i in (1, 2)],
    )
    consumer = wf.jobs[3]
    assert consumer["name"] == "c2"
    assert consumer["command"] == "consume /data/2.csv"
    assert consumer["invocation_script"] == "module load v2"
    assert (consumer["resource_requirements"], consumer["failure_handler"], consumer["scheduler"]) == (
        "rr2",
        "fh2",
        "s2",
    )
    assert consumer["depends_on"] == ["p2"]
    assert consumer["input_files"] == ["f2"]
    assert consumer["input_user_data"] == ["u2"]


def test_values_inserted_into_regexes_are_escaped(expand):
    wf = expand(
        [
            {"name": "a.1", "command": "c"},
            {"name": "ax1", "command": "c"},
            {"name": "b{v}", "command": "c", "depends_on_regexes": ["^a{v}$"], "parameters": {"v": "['.1']"}},
        ]
    )
    assert wf.jobs[2]["depends_on"] == ["a.1"]


def test_fan_in_via_parameterized_depends_on(expand):
    wf = expand(
        [
            {"name": "work_{i}", "command": "w {i}", "output_files": ["out_{i}"], "parameters": {"i": "1:3"}},
            {
                "name": "summary",
                "command": "s",
                "depends_on": ["work_{i}"],
                "input_files": ["out_{i}"],
                "parameters": {"i": "1:3"},
            },
        ],
        files=[{"name": "out_{i}", "path": "o{i}", "parameters": {"i": "1:3"}}],
    )
    assert names(wf) == ["work_1", "work_2", "work_3", "summary"]
    assert wf.jobs[3]["depends_on"] == ["work_1", "work_2", "work_3"]
    assert wf.jobs[3]["input_files"] == ["out_1", "out_2", "out_3"]


def test_partial_fan_in_groups_by_the_parameters_in_the_name(expand):
    wf = expand(
        [
            {"name": "an_{d}_{t}", "command": "a", "parameters": {"d": "['x','y']", "t": "1:2"}},
            {
                "name": "report_{d}",
                "command": "r {d}",
                "depends_on": ["an_{d}_{t}"],
                "parameters": {"d": "['x','y']", "t": "1:2"},
            },
        ]
    )
    assert names(wf)[4:] == ["report_x", "report_y"]
    assert wf.jobs[4]["depends_on"] == ["an_x_1", "an_x_2"]
    assert wf.jobs[5]["depends_on"] == ["an_y_1", "an_y_2"]


def test_same_name_with_different_fields_is_an_error(spec_error):
    err = spec_error([{"name": "job", "command": "run {i}", "parameters": {"i": "1:2"}}])
    assert err.job == "job (i=1)"
    assert "(i=1) and (i=2) both produce job name 'job' but different 'command'" in err.message


def test_parameter_names_must_be_identifiers(spec_error):
    err = spec_error([{"name": "j", "command": "c", "parameters": {"my-param": "1:2"}}])
    assert "invalid parameter name 'my-param'" in err.message


def test_spec_error_is_raised_not_value_error_from_parse_values():
    with pytest.raises(SpecError):
        parse_values("1:0:1", Context(field="x"))


def test_format_specs_in_file_paths(expand):
    wf = expand(
        [{"name": "sim_{i:03d}", "command": "sim > ${files.output.out_{i:03d}}", "parameters": {"i": "1:2"}}],
        files=[{"name": "out_{i:03d}", "path": "/scratch/run_{i:03d}/lr{lr:.3f}.csv", "parameters": {"i": "1:2", "lr": "[0.5]"}}],
    )
    assert [(f["name"], f["path"]) for f in wf.files] == [("out_001", "/scratch/run_001/lr0.500.csv"), ("out_002", "/scratch/run_002/lr0.500.csv")]
    assert [job["command"] for job in wf.jobs] == ["sim > /scratch/run_001/lr0.500.csv", "sim > /scratch/run_002/lr0.500.csv"]


def test_format_specs_in_regexes(expand):
    wf = expand(
        [
            {"name": "work_{i:02d}", "command": "w", "output_files": ["out_{i:03d}"], "parameters": {"i": "[1, 10]"}},
            {"name": "unrelated_01", "command": "u"},
            {
                "name": "gather_{i:02d}",
                "command": "g",
                "depends_on_regexes": ["^work_{i:02d}$"],
                "input_file_regexes": ["^out_{i:03d}$"],
                "parameters": {"i": "[1, 10]"},
            },
        ],
        files=[{"name": "out_{i:03d}", "path": "o{i}", "parameters": {"i": "[1, 10]"}}],
    )
    gathers = {job["name"]: (job["depends_on"], job["input_files"]) for job in wf.jobs if job["name"].startswith("gather")}
    assert gathers == {"gather_01": (["work_01"], ["out_001"]), "gather_10": (["work_10"], ["out_010"])}
