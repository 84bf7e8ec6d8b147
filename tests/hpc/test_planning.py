"""Planning Slurm schedulers and actions from resource requirements and a profile (submit-slurm)."""

from pathlib import Path

import pytest

from torc.hpc.planning import plan_workflow, stages
from torc.hpc.profiles import ProfileError, get_profile, profile_from_scontrol
from torc.spec import load_workflow_spec
from torc.spec.builder import build_workflow

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def kestrel():
    return get_profile("kestrel")


@pytest.fixture(scope="module")
def local():
    return profile_from_scontrol((DATA / "scontrol_partitions.txt").read_text(), (DATA / "scontrol_nodes.txt").read_text(), "local")


def spec(jobs, rrs, **extra):
    return build_workflow({"name": "p", "jobs": jobs, "resource_requirements": rrs, **extra})


def rr(name, cpus=1, memory="1g", runtime="PT1H", gpus=0, nodes=1):
    return {"name": name, "num_cpus": cpus, "memory": memory, "runtime": runtime, "num_gpus": gpus, "num_nodes": nodes}


def many(prefix, count, rr_name, **fields):
    return [{"name": f"{prefix}{i}", "command": "true", "resource_requirements": rr_name, **fields} for i in range(count)]


def by_name(plan):
    return {s.name: s for s in plan.schedulers}


def test_stages_follow_dependencies_through_files():
    wf = spec([
        {"name": "a", "command": "true", "output_files": ["f"]},
        {"name": "b", "command": "true", "input_files": ["f"]},
        {"name": "c", "command": "true", "depends_on": ["b", "a"]},
        {"name": "d", "command": "true"},
    ], [], files=[{"name": "f", "path": "f.txt"}])
    assert stages(wf) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_staged_plan_on_the_local_cluster(local):
    wf = load_workflow_spec(Path(__file__).parents[1] / "slurm" / "specs" / "staged.yaml")
    plan = by_name(plan_workflow(wf, local, "acct"))
    assert sorted(plan) == ["four_cpus_deferred_scheduler", "one_cpu_deferred_scheduler", "one_cpu_scheduler", "two_cpus_deferred_scheduler"]
    first = plan["one_cpu_scheduler"]
    assert first.trigger_type == "on_workflow_start" and first.action()["job_names"] == []
    # 1-minute jobs: 1.5 × 60 s + the spec's 5 s buffer + 60 s start-up; the short partition is enough.
    assert first.record == {"name": "one_cpu_scheduler", "account": "acct", "nodes": 1, "walltime": "00:02:35", "partition": "short",
                            "mem": "100M", "extra": "--cpus-per-task=1"}
    wide = plan["four_cpus_deferred_scheduler"]
    assert wide.trigger_type == "on_jobs_ready" and sorted(wide.job_names) == ["big_1", "big_2"]
    assert wide.record["extra"] == "--cpus-per-task=8" and wide.num_allocations == 1
    assert plan["one_cpu_deferred_scheduler"].job_names == ["final"] and plan["one_cpu_deferred_scheduler"].stage == 2


def test_long_jobs_fall_back_to_the_unlimited_partition(local):
    plan = plan_workflow(spec(many("j", 3, "r"), [rr("r", runtime="PT2H")]), local, "a")
    assert plan.schedulers[0].partition == "debug" and plan.schedulers[0].walltime == "03:04:00"


def test_kestrel_partition_choice(kestrel):
    wf = spec(
        many("gpu", 2, "gpu", ) + many("big", 3, "big") + many("days", 1, "days") + many("fat", 1, "fat") + many("mpi", 2, "mpi") + many("tiny", 4, "tiny"),
        [rr("gpu", cpus=16, memory="64g", runtime="PT2H", gpus=2), rr("big", cpus=100, memory="200g", runtime="PT10H"),
         rr("days", cpus=104, memory="100g", runtime="P3D"), rr("fat", cpus=8, memory="1500g", runtime="PT5H"),
         rr("mpi", cpus=104, memory="200g", runtime="PT1H", nodes=4), rr("tiny", cpus=2, memory="4g", runtime="PT30M")],
    )
    plan = by_name(plan_workflow(wf, kestrel, "proj"))
    gpu = plan["gpu_scheduler"]
    assert gpu.partition == "gpu-h100s" and gpu.record["gres"] == "gpu:4" and gpu.jobs_per_allocation == 2
    assert "partition" not in gpu.record  # Kestrel routes GPU jobs itself
    big = plan["big_scheduler"]
    assert big.partition == "standard" and big.record["extra"] == "--exclusive" and big.record["mem"] == "240000M" and big.num_allocations == 3
    assert plan["days_scheduler"].partition == "long"
    assert plan["fat_scheduler"].partition == "bigmem"
    mpi = plan["mpi_scheduler"]
    assert mpi.nodes == 4 and mpi.record["nodes"] == 4 and mpi.num_allocations == 2 and mpi.jobs_per_allocation == 1
    tiny = plan["tiny_scheduler"]
    assert tiny.partition == "shared" and tiny.record["partition"] == "shared" and tiny.record["extra"] == "--cpus-per-task=8"


def test_allocations_count_jobs_per_node_and_runs_per_walltime(kestrel):
    # 20 one-hour 26-CPU jobs: 4 per node; walltime 1.5 h + buffers fits one run each: 5 allocations.
    plan = plan_workflow(spec(many("j", 20, "r"), [rr("r", cpus=52, memory="10g", runtime="PT1H")]), kestrel, "a")
    assert plan.schedulers[0].jobs_per_allocation == 2 and plan.schedulers[0].num_allocations == 10
    # Short jobs in a long walltime: several runs per allocation.
    plan = plan_workflow(spec(many("j", 40, "r"), [rr("r", cpus=52, memory="10g", runtime="PT10M")]), kestrel, "a", multiplier=6)
    runs = (3600 + 240 - 240) // 600
    assert plan.schedulers[0].num_allocations == -(-40 // (2 * runs))


def test_backlog_cap_and_cluster_limits(kestrel):
    plan = plan_workflow(spec(many("j", 300, "r"), [rr("r", cpus=104, memory="10g", runtime="PT1H")]), kestrel, "a")
    assert plan.schedulers[0].num_allocations == kestrel.max_queued_allocations == 100
    assert "capped at 100" in plan.warnings[0]
    with pytest.raises(ProfileError, match="no partition"):
        plan_workflow(spec(many("j", 1, "r"), [rr("r", cpus=500)]), kestrel, "a")
    with pytest.raises(ProfileError, match="no partition"):
        plan_workflow(spec(many("j", 1, "r"), [rr("r", runtime="P20D")]), kestrel, "a")
    single = plan_workflow(spec(many("j", 3000, "r"), [rr("r", cpus=104, runtime="PT1H")]), kestrel, "a", single_allocation=True)
    assert single.schedulers[0].nodes == 2016 and single.schedulers[0].num_allocations == 1  # short's node limit
    assert single.schedulers[0].action()["action_config"]["start_one_worker_per_node"] is True
    capped = plan_workflow(spec(many("j", 1, "r"), [rr("r", runtime="PT1H")]), kestrel, "a", max_partition_time=3600)
    assert capped.schedulers[0].walltime == "01:00:00"


def test_same_requirements_in_two_later_stages_get_separate_actions(local):
    wf = spec([
        {"name": "a", "command": "true", "resource_requirements": "r"},
        {"name": "b", "command": "true", "resource_requirements": "r", "depends_on": ["a"]},
        {"name": "c", "command": "true", "resource_requirements": "r", "depends_on": ["b"]},
    ], [rr("r", runtime="PT1M")])
    plan = by_name(plan_workflow(wf, local, "a"))
    assert sorted(plan) == ["r_deferred1_scheduler", "r_deferred2_scheduler", "r_scheduler"]
    assert plan["r_deferred1_scheduler"].action()["job_names"] == ["b"]


def test_apply_replaces_slurm_sections_and_assigns_jobs(local):
    wf = spec(
        many("j", 2, "r"), [rr("r", runtime="PT1M")],
        slurm_schedulers=[{"name": "old", "account": "x"}],
        actions=[{"trigger_type": "on_workflow_start", "action_type": "schedule_nodes", "scheduler": "old", "scheduler_type": "slurm"},
                 {"trigger_type": "on_workflow_complete", "action_type": "run_commands", "commands": ["echo done"]}],
    )
    plan = plan_workflow(wf, local, "a", group_by="partition")
    applied = plan.apply(wf)
    assert [s["name"] for s in applied.slurm_schedulers] == ["short_scheduler"]
    assert [a["action_type"] for a in applied.actions] == ["run_commands", "schedule_nodes"]
    assert {j["scheduler"] for j in applied.jobs} == {"short_scheduler"}
    sections = plan.spec_sections()
    assert sections["actions"] == [{"trigger_type": "on_workflow_start", "action_type": "schedule_nodes", "scheduler": "short_scheduler",
                                    "scheduler_type": "slurm", "num_allocations": 1}]


def test_group_by_partition_merges_requirements(local):
    wf = spec(many("a", 2, "one") + many("b", 2, "two"), [rr("one", runtime="PT1M"), rr("two", cpus=2, runtime="PT3M")])
    plan = plan_workflow(wf, local, "a", group_by="partition")
    (merged,) = plan.schedulers
    assert merged.name == "short_scheduler" and sorted(merged.job_names) == ["a0", "a1", "b0", "b1"]
    assert merged.walltime == "00:08:30" and merged.record["extra"] == "--cpus-per-task=4" and merged.num_allocations == 2
