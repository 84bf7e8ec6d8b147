"""Upstream torc's example specs (copied to tests/data/specs/upstream) load and expand right."""

import json
import re
from pathlib import Path

import pytest

from torc.spec import load_workflow_spec

UPSTREAM_SPECS = Path(__file__).resolve().parents[1] / "data" / "specs" / "upstream"
ALL_EXAMPLES = sorted(
    p.relative_to(UPSTREAM_SPECS).as_posix() for p in UPSTREAM_SPECS.glob("*/*") if p.is_file()
)


def test_all_formats_and_folders_are_present():
    suffixes = {Path(p).suffix for p in ALL_EXAMPLES}
    assert suffixes == {".yaml", ".json", ".json5", ".kdl"}
    assert {p.split("/")[0] for p in ALL_EXAMPLES} == {"yaml", "json", "kdl", "subgraphs"}
    assert len(ALL_EXAMPLES) == 57


@pytest.fixture
def upstream() -> Path:
    return UPSTREAM_SPECS


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_example_loads_with_consistent_references(upstream, name):
    wf = load_workflow_spec(upstream / name)
    job_names = {job["name"] for job in wf.jobs}
    file_names = {f["name"] for f in wf.files}
    assert wf.jobs and len(job_names) == len(wf.jobs)
    for job in wf.jobs:
        assert set(job["depends_on"]) <= job_names - {job["name"]}
        assert set(job["input_files"]) | set(job["output_files"]) <= file_names
        assert "${files." not in job["command"] and "${user_data." not in job["command"]
    for action in wf.actions:
        assert set(action["job_names"]) <= job_names


@pytest.mark.parametrize(
    ("name", "jobs", "explicit_edges", "files"),
    [
        ("yaml/hundred_jobs_parameterized.yaml", 100, 0, 0),
        ("json/hundred_jobs_workflow.json5", 100, 0, 0),
        ("kdl/hundred_jobs_parameterized.kdl", 101, 100, 0),
        ("kdl/mixed_workload.kdl", 121, 120, 0),
        # 4 downloads + 4 preprocess + 12 analyses + 4 reports (fan-in of 3) + 1 summary (fan-in of 4)
        ("yaml/data_pipeline_parameterized.yaml", 25, 4 + 12 + 12 + 4, 4 + 4 + 12),
        # 2 prep + 18 training (2 deps each) + aggregate (fan-in of 18)
        ("yaml/hyperparameter_sweep.yaml", 21, 18 * 2 + 18, 2 + 18 + 18),
        ("kdl/hyperparameter_sweep_shared_params.kdl", 21, 18 * 2 + 18, 2 + 18 + 18),
        # temp 250:400:50 (4 values) x pressure 1:100:25 (1, 26, 51, 76: end not on a step)
        ("yaml/simulation_sweep.yaml", 1 + 16 + 16 + 1, 16 * 3, 1 + 16 * 3),
        (
            "json/multi_stage_barrier_pattern.json5",
            1000 + 1 + 1000 + 1 + 100 + 1 + 1,
            1000 + 1000 + 1000 + 100 + 100 + 1,
            0,
        ),
        ("yaml/failure_handler_simulation.yaml", 10, 9, 0),
        ("yaml/zip_parameter_mode.yaml", 1 + 3 + 3 + 1, 3 + 3 + 3, 6),
        ("kdl/zip_parameter_mode.kdl", 6, 3, 3),
        ("yaml/diamond_workflow.yaml", 4, 0, 6),
        ("subgraphs/subgraphs_workflow.yaml", 15, 0, 17),
        ("yaml/workflow_actions_data_pipeline.yaml", 14, 4 + 4 + 4 + 1, 0),
        ("json/workflow_actions_ml_training.json5", 10, 8 + 8, 0),
    ],
)
def test_example_counts(upstream, name, jobs, explicit_edges, files):
    stats = load_workflow_spec(upstream / name).stats()
    assert (stats["jobs"], stats["explicit_edges"], stats["files"]) == (jobs, explicit_edges, files)


def test_hundred_jobs_names_and_commands(upstream, job):
    wf = load_workflow_spec(upstream / "yaml/hundred_jobs_parameterized.yaml")
    assert [j["name"] for j in wf.jobs] == [f"job_{i:03d}" for i in range(1, 101)]
    assert job(wf, "job_042")["command"] == "echo hello 42"
    assert wf.resource_requirements[0]["runtime"] == "P0DT1M"


def test_diamond_implicit_files(upstream, job):
    wf = load_workflow_spec(upstream / "yaml/diamond_workflow.yaml")
    pre, post = job(wf, "preprocess"), job(wf, "postprocess")
    assert pre["command"] == "bash tests/scripts/preprocess.sh -i f1.json -o f2.json -o f3.json"
    assert (pre["input_files"], pre["output_files"]) == (["f1"], ["f2", "f3"])
    assert (post["input_files"], post["output_files"]) == (["f4", "f5"], ["f6"])


def test_data_pipeline_fan_in(upstream, job):
    wf = load_workflow_spec(upstream / "yaml/data_pipeline_parameterized.yaml")
    report = job(wf, "report_sales")
    assert report["depends_on"] == [
        "analyze_sales_summary",
        "analyze_sales_trends",
        "analyze_sales_anomalies",
    ]
    assert report["input_files"] == [
        "results_sales_summary",
        "results_sales_trends",
        "results_sales_anomalies",
    ]
    assert job(wf, "executive_summary")["depends_on"] == [
        "report_sales",
        "report_inventory",
        "report_customers",
        "report_products",
    ]


def test_subgraph_actions_select_expanded_jobs(upstream):
    wf = load_workflow_spec(upstream / "subgraphs/subgraphs_workflow.yaml")
    assert wf.actions[0]["job_names"] == ["prep_a", "prep_b"]
    assert wf.actions[1]["job_names"] == [f"work_a_{i}" for i in range(1, 6)]
    assert wf.actions[1]["action_config"] == {"scheduler": "work_a_sched", "scheduler_type": "slurm"}


def test_resource_monitor_and_slurm_defaults(upstream):
    wf = load_workflow_spec(upstream / "yaml/resource_monitoring_demo.yaml")
    assert json.loads(wf.workflow["resource_monitor_config"]) == {
        "enabled": True,
        "granularity": "time_series",
        "sample_interval_seconds": 2,
        "generate_plots": False,
    }
    assert wf.workflow["slurm_defaults"] == (
        '{"account": "myproject", "mail-type": "BEGIN,END,FAIL", "mail-user": "user@example.com"}'
    )


# KDL examples with a YAML/JSON5 twin describing the same workflow.
KDL_TWINS = [
    ("kdl/diamond_workflow.kdl", "yaml/diamond_workflow.yaml"),
    ("kdl/failure_handler_simulation.kdl", "yaml/failure_handler_simulation.yaml"),
    ("kdl/failure_handler_simulation.kdl", "json/failure_handler_simulation.json"),
    ("kdl/hyperparameter_sweep_shared_params.kdl", "json/hyperparameter_sweep_shared_params.json5"),
    ("kdl/workflow_actions_simple.kdl", "yaml/workflow_actions_simple.yaml"),
    ("kdl/workflow_actions_simple_slurm.kdl", "json/workflow_actions_simple_slurm.json5"),
    ("kdl/zip_parameter_mode.kdl", "json/zip_parameter_mode.json5"),
    ("subgraphs/subgraphs_workflow.kdl", "subgraphs/subgraphs_workflow.yaml"),
    ("subgraphs/subgraphs_workflow_no_slurm.kdl", "subgraphs/subgraphs_workflow_no_slurm.yaml"),
    ("subgraphs/subgraphs_workflow_no_slurm.kdl", "subgraphs/subgraphs_workflow_no_slurm.json5"),
]
# Twins whose YAML writes commands over several lines with "\" continuations.
KDL_TWINS_MODULO_LINE_BREAKS = [
    ("kdl/hyperparameter_sweep.kdl", "yaml/hyperparameter_sweep.yaml"),
    ("kdl/hyperparameter_sweep_shared_params.kdl", "yaml/hyperparameter_sweep_shared_params.yaml"),
]
# Other .kdl files share a name with a YAML/JSON5 file but describe a different workflow
# (simplified or changed upstream): hundred_jobs_parameterized, resource_monitoring_demo,
# slurm_staged_pipeline, workflow_actions_data_pipeline, workflow_actions_ml_training.
YAML_JSON5_TWINS = [
    "data_pipeline_parameterized",
    "hundred_jobs_parameterized",
    "hyperparameter_sweep",
    "multi_stage_barrier_pattern",
    "simulation_sweep",
    "slurm_staged_pipeline",
    "workflow_actions_data_pipeline",
    "workflow_actions_ml_training",
]


@pytest.mark.parametrize(("kdl", "twin"), KDL_TWINS)
def test_kdl_example_equals_its_twin(upstream, kdl, twin):
    assert load_workflow_spec(upstream / kdl).to_dict() == load_workflow_spec(upstream / twin).to_dict()


def _joined_lines(data: dict) -> dict:
    for job in data["jobs"]:
        job["command"] = re.sub(r"\s*\\\n\s*", " ", job["command"]).strip()
    return data


@pytest.mark.parametrize(("kdl", "twin"), KDL_TWINS_MODULO_LINE_BREAKS)
def test_kdl_example_equals_its_twin_modulo_line_breaks(upstream, kdl, twin):
    kdl_data = load_workflow_spec(upstream / kdl).to_dict()
    twin_data = load_workflow_spec(upstream / twin).to_dict()
    assert kdl_data != twin_data
    assert _joined_lines(kdl_data) == _joined_lines(twin_data)


def test_kdl_sample_workflow_matches_json5_except_commands(upstream, job):
    kdl_wf = load_workflow_spec(upstream / "kdl/sample_workflow.kdl")
    json_wf = load_workflow_spec(upstream / "json/sample_workflow.json5")
    assert (
        job(kdl_wf, "data_download")["command"]
        == "wget https://example.com/data.csv -O /data/input/raw_data.csv"
    )
    assert job(kdl_wf, "data_analysis")["command"] == (
        "python /scripts/analyze_data.py /data/processed/validated_data.csv "
        "--output /data/output/results.json"
    )
    for wf in (kdl_wf, json_wf):
        for record in wf.jobs:
            del record["command"], record["invocation_script"]
    assert kdl_wf.to_dict() == json_wf.to_dict()


@pytest.mark.parametrize("name", YAML_JSON5_TWINS)
def test_yaml_example_equals_its_json5_twin(upstream, name):
    yaml_data = load_workflow_spec(upstream / f"yaml/{name}.yaml").to_dict()
    assert yaml_data == load_workflow_spec(upstream / f"json/{name}.json5").to_dict()
