"""HPC profiles: the built-in Kestrel profile, user profiles, detection, generation from scontrol."""

import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from torc.cli.main import cli
from torc.hpc.profiles import (
    HpcProfile,
    ProfileError,
    all_profiles,
    detect_profile,
    dump_toml,
    get_profile,
    profile_from_scontrol,
    resolve_profile,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("TORC_HPC_PROFILE_DIRS", raising=False)
    monkeypatch.delenv("NREL_CLUSTER", raising=False)


def test_kestrel_is_built_in():
    kestrel = get_profile("kestrel")
    assert [p.name for p in kestrel.partitions] == [
        "debug", "short", "standard", "long", "medmem", "bigmem", "bigmeml", "hbw", "hbwl", "nvme", "shared", "sharedl",
        "gpu-h100s", "gpu-h100", "gpu-h100l",
    ]
    assert kestrel.partition("standard").cpus_per_node == 104 and kestrel.partition("standard").max_walltime_secs == 2 * 86400
    gpu = kestrel.partition("gpu-h100")
    assert (gpu.cpus_per_node, gpu.gpus_per_node, gpu.gpu_type) == (128, 4, "h100")
    assert kestrel.partition("hbwl").min_nodes == 2 and kestrel.partition("debug").debug
    assert kestrel.matches({"NREL_CLUSTER": "kestrel"}, "laptop") and not kestrel.matches({}, "laptop")
    assert kestrel.matches({}, "kl2.hpc.nrel.gov")


def test_detection_and_resolution(monkeypatch):
    assert detect_profile({}, "laptop") is None
    with pytest.raises(ProfileError, match="torc hpc generate"):
        resolve_profile(None)
    monkeypatch.setenv("NREL_CLUSTER", "kestrel")
    assert resolve_profile(None).name == "kestrel"
    with pytest.raises(ProfileError, match="known: kestrel"):
        get_profile("nope")


def test_user_profiles_add_and_override(tmp_path, monkeypatch):
    mine = tmp_path / "config" / "torc" / "hpc_profiles"
    mine.mkdir(parents=True)
    (mine / "lab.yaml").write_text(yaml.safe_dump({
        "name": "lab", "detect": {"file": str(tmp_path / "marker")},
        "partitions": [{"name": "cpu", "cpus_per_node": 32, "memory_mb": 128000, "max_walltime": "1-00:00:00"}],
    }))
    (mine / "kestrel.toml").write_text('name = "kestrel"\n[[partitions]]\nname = "only"\ncpus_per_node = 1\nmemory_mb = 1000\n')
    profiles = all_profiles()
    assert profiles["lab"].partition("cpu").max_walltime_secs == 86400
    assert [p.name for p in profiles["kestrel"].partitions] == ["only"]
    (tmp_path / "marker").touch()
    assert detect_profile({}, "laptop").name == "lab"


@pytest.mark.parametrize("body, message", [
    ('name = "x"\n', "non-empty list of partitions"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\ncolour = "red"\n', "unknown field"),
    ('name = "x"\n[[partitions]]\nname = "a"\n', "memory_mb"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\nmax_walltime = "soon"\n',
     r"bad.toml: partition 1 \(a\): max_walltime: invalid walltime 'soon'"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = -4\nmemory_mb = 1\n', r"bad.toml: partition 1 \(a\): cpus_per_node must be at least 1, not -4"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = "many"\nmemory_mb = 1\n', "cpus_per_node must be a whole number, not 'many'"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\ngpus_per_node = -1\n', "gpus_per_node must be at least 0"),
    ('name = "x"\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\nmin_nodes = 4\nmax_nodes = 2\n',
     r"partition 1 \(a\): min_nodes \(4\) is greater than max_nodes \(2\)"),
    ('name = "x"\n[limits]\nmax_queued = 3\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\n', "bad.toml: limits: unknown field.*max_queued"),
    ('name = "x"\n[limits]\nmax_queued_allocations = 0\n[[partitions]]\nname = "a"\ncpus_per_node = 1\nmemory_mb = 1\n',
     "max_queued_allocations must be at least 1"),
    ("name = ", "cannot read"),
])
def test_invalid_profiles_say_what_is_wrong(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises((ProfileError, ValueError), match=message):
        get_profile(str(path))


def test_profile_from_scontrol_output():
    profile = profile_from_scontrol((DATA / "scontrol_partitions.txt").read_text(), (DATA / "scontrol_nodes.txt").read_text(), "site", "login1")
    debug, short, gpu = profile.partitions
    assert (debug.name, debug.cpus_per_node, debug.memory_mb, debug.max_walltime_secs, debug.max_nodes) == ("debug", 8, 8000, None, 1)
    assert short.max_walltime_secs == 600 and short.shared and not short.debug
    # The smallest node of a partition decides; GPUs and local disk come from Gres and TmpDisk.
    assert (gpu.cpus_per_node, gpu.memory_mb, gpu.gpus_per_node, gpu.gpu_type, gpu.max_nodes) == (64, 250000, 4, "a100", 2)
    assert gpu.max_walltime_secs == 2 * 86400 and not gpu.shared and gpu.default_qos == "gpu_qos" and gpu.local_disk_gb == 976.6
    assert profile.matches({}, "login1") and not profile.matches({}, "login2")


def test_toml_round_trip():
    for profile in (get_profile("kestrel"), profile_from_scontrol((DATA / "scontrol_partitions.txt").read_text(), (DATA / "scontrol_nodes.txt").read_text(), "s")):
        again = HpcProfile.from_dict(tomllib.loads(dump_toml(profile)), "again")
        assert again.partitions == profile.partitions and again.detect == profile.detect
        assert again.max_queued_allocations == profile.max_queued_allocations


def test_hpc_cli(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["hpc", "list"])
    assert listed.exit_code == 0 and "kestrel" in listed.stdout
    shown = runner.invoke(cli, ["hpc", "partitions", "kestrel"])
    assert shown.exit_code == 0 and "gpu-h100l" in shown.stdout and "10-00:00:00" in shown.stdout
    assert runner.invoke(cli, ["hpc", "show", "kestrel"]).stdout.startswith('name = "kestrel"')
    missing = runner.invoke(cli, ["hpc", "show", "nope"])
    assert missing.exit_code == 1 and "no HPC profile 'nope'" in missing.stderr
