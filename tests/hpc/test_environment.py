"""What an allocation worker offers, from the SLURM_* variables of its allocation."""

import pytest

from torc.hpc.environment import is_subtask, slurm_resources


@pytest.fixture(autouse=True)
def no_gpus(monkeypatch):
    monkeypatch.setattr("torc.runner.resources.detect_gpus", lambda: [])


def test_batch_worker_gets_the_allocation_of_its_node():
    env = {"SLURM_JOB_ID": "5", "SLURM_CPUS_ON_NODE": "104", "SLURM_MEM_PER_NODE": "245760", "SLURM_JOB_NUM_NODES": "4", "SLURM_JOB_GPUS": "0,1,2,3"}
    res = slurm_resources(env)
    assert (res.num_cpus, res.memory_gb, res.num_gpus, res.num_nodes) == (104, 240.0, 4, 4)
    assert not is_subtask(env)


def test_srun_worker_per_node_offers_one_node():
    env = {"SLURM_JOB_ID": "5", "SLURM_STEP_ID": "0", "SLURM_CPUS_PER_TASK": "8", "SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_CPU": "1024",
           "SLURM_JOB_NUM_NODES": "3", "SLURM_GPUS_ON_NODE": "2"}
    res = slurm_resources(env)
    assert (res.num_cpus, res.memory_gb, res.num_gpus, res.num_nodes) == (8, 8.0, 2, 1)
    assert is_subtask(env)


def test_explicit_values_win_and_missing_memory_means_the_node():
    res = slurm_resources({"SLURM_CPUS_ON_NODE": "2", "SLURM_JOB_CPUS_PER_NODE": "2(x2)"}, num_cpus=1, num_gpus=0)
    assert res.num_cpus == 1 and res.memory_gb > 0 and res.num_gpus == 0
    assert slurm_resources({"SLURM_JOB_CPUS_PER_NODE": "16(x2)"}).num_cpus == 16
