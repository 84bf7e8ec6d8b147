"""Large sweeps expand correctly (expansion is linear; these run in a few seconds)."""

from torc.spec import load_workflow_spec

N = 100_000


def test_hundred_thousand_job_chain():
    """Every job depends on the previous one: 100,001 jobs, a 100,000-deep dependency chain."""
    wf = load_workflow_spec(
        {
            "name": "chain",
            "jobs": [
                {"name": "job_0", "command": "start"},
                {
                    "name": "job_{i}",
                    "command": "step {i}",
                    "depends_on": ["job_{prev}"],
                    "parameters": {"i": f"1:{N}", "prev": f"0:{N - 1}"},
                    "parameter_mode": "zip",
                },
            ],
        }
    )
    assert wf.stats()["jobs"] == N + 1
    assert wf.stats()["explicit_edges"] == N
    last = wf.jobs[N]
    assert (last["name"], last["command"], last["depends_on"]) == (f"job_{N}", f"step {N}", [f"job_{N - 1}"])
    assert wf.jobs[1]["depends_on"] == ["job_0"]


def test_hundred_thousand_job_sweep_with_files_and_barrier():
    wf = load_workflow_spec(
        {
            "name": "sweep",
            "files": [{"name": "out_{i:06d}", "path": "out/{i}.json", "parameters": {"i": f"1:{N}"}}],
            "jobs": [
                {
                    "name": "sim_{i:06d}",
                    "command": "sim -o ${files.output.out_{i:06d}}",
                    "parameters": {"i": f"1:{N}"},
                },
                {
                    "name": "post_{i:06d}",
                    "command": "post",
                    "depends_on": ["sim_{i:06d}"],
                    "input_files": ["out_{i:06d}"],
                    "parameters": {"i": f"1:{N}"},
                },
                {"name": "barrier", "command": "true", "depends_on_regexes": ["^post_"]},
            ],
        }
    )
    assert wf.stats()["jobs"] == 2 * N + 1
    assert wf.stats()["files"] == N
    assert wf.stats()["explicit_edges"] == 2 * N
    sim, post, barrier = wf.jobs[N - 1], wf.jobs[2 * N - 1], wf.jobs[-1]
    assert (sim["command"], sim["output_files"]) == (f"sim -o out/{N}.json", [f"out_{N:06d}"])
    assert (post["depends_on"], post["input_files"]) == ([f"sim_{N:06d}"], [f"out_{N:06d}"])
    assert len(barrier["depends_on"]) == N and barrier["depends_on"][0] == "post_000001"
