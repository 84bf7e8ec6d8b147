"""``python -m bench.profile`` still runs, and profiles the request pattern it claims to: in a chain
every request completes one job and claims the next (the dependent released by the completion)."""

import re
import subprocess
import sys

import pytest


def profile(*options: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bench.profile", *options, "--top", "3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(("options", "requests"), [(["--jobs", "12", "--batch", "2"], 6), (["--jobs", "5", "--chain"], 5)])
def test_one_request_per_batch_and_a_split_by_layer(options, requests):
    out = profile(*options)
    assert re.search(rf"^{requests} requests, [0-9.]+ ms of profiled server time each$", out, re.M), out
    shares = [int(share) for share in re.findall(r"^\| [^|]+ \| [0-9.]+ \| (\d+)% \|$", out, re.M)]
    assert "database driver (SQL execution)" in out and 97 <= sum(shares) <= 103, out
