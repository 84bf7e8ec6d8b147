"""Memory, duration and walltime strings in specs.

Memory and duration parsing is shared with the server (``torc.units``), so a spec accepts
exactly what the server stores; walltimes are only checked by the spec.
"""

import pytest

import torc.units
from torc.spec import parse_duration_seconds, parse_memory_bytes


def test_spec_and_server_share_the_parsers():
    assert parse_memory_bytes is torc.units.parse_memory_bytes
    assert parse_duration_seconds is torc.units.parse_duration_seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", 1024**2),
        ("512k", 512 * 1024),
        ("512m", 512 * 1024**2),
        ("16g", 16 * 1024**3),
        ("1t", 1024**4),
        ("16G", 16 * 1024**3),
        ("2GB", 2 * 1024**3),
        ("300gb", 300 * 1024**3),
        ("100", 100),
        ("100b", 100),
    ],
)
def test_memory(text, expected):
    assert parse_memory_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("PT30M", 1800), ("P1DT12H", 129600), ("P0DT1M", 60), ("P0DT48H", 172800)]
)
def test_duration(text, expected):
    assert parse_duration_seconds(text) == expected


@pytest.mark.parametrize("memory", ["", "g", "16 gigs", "-1g", "16x"])
def test_bad_memory_in_spec(spec_error, memory):
    err = spec_error([], resource_requirements=[{"name": "r", "memory": memory}])
    assert err.field == "resource_requirements[0].memory"
    assert err.message.startswith(f"invalid memory {memory!r}")


@pytest.mark.parametrize("runtime", ["", "P", "PT", "30M", "PT30", "P1H", "PT-5M", "1:00:00", "P1DT"])
def test_bad_duration_in_spec(spec_error, runtime):
    err = spec_error([], resource_requirements=[{"name": "r", "runtime": runtime}])
    assert err.field == "resource_requirements[0].runtime"
    assert err.message.startswith(f"invalid duration {runtime!r}")


@pytest.mark.parametrize(
    "walltime", ["01:00:00", "30", "30:00", "1-12", "1-12:30", "2-00:00:00", "UNLIMITED"]
)
def test_walltime(expand, walltime):
    wf = expand([], slurm_schedulers=[{"name": "s", "account": "a", "walltime": walltime}])
    assert wf.slurm_schedulers[0]["walltime"] == walltime


@pytest.mark.parametrize("walltime", ["1h", "1:2:3:4", "-1:00", "1-", ""])
def test_bad_walltime(spec_error, walltime):
    err = spec_error([], slurm_schedulers=[{"name": "s", "account": "a", "walltime": walltime}])
    assert err.field == "slurm_schedulers[0].walltime"
    assert err.message.startswith(f"invalid walltime {walltime!r}")
