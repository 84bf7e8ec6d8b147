"""sbatch script rendering: directives from schedulers and defaults, quoting, no shell injection."""

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torc.hpc.templates import (
    TemplateError,
    default_directives,
    extra_directives,
    find_template,
    render,
    render_script,
    sbatch_directives,
    shell_command,
)

SCHEDULER = {"account": "proj", "partition": "short", "walltime": "04:00:00", "nodes": 2, "mem": "240G", "gres": "gpu:h100:4",
             "qos": "high", "ntasks_per_node": 1, "tmp": "100G", "extra": "--exclusive --signal=B:TERM@300"}


def directives(scheduler=None, **kwargs):
    return sbatch_directives(scheduler or SCHEDULER, job_name=kwargs.pop("job_name", "torc_wf1_3"), output_dir=kwargs.pop("output_dir", Path("/scratch/out")),
                             workflow_id=1, **kwargs)


def test_directives_from_scheduler_fields_defaults_and_extra():
    lines = directives(slurm_defaults={"mail-type": "END", "partition": "ignored", "exclusive": True, "requeue": False})
    assert lines == [
        "#SBATCH --job-name=torc_wf1_3",
        "#SBATCH --time=04:00:00",
        "#SBATCH --output=/scratch/out/slurm_output_wf1_sl%j.o",
        "#SBATCH --error=/scratch/out/slurm_output_wf1_sl%j.e",
        "#SBATCH --account=proj",
        "#SBATCH --partition=short",
        "#SBATCH --qos=high",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --mem=240G",
        "#SBATCH --gres=gpu:h100:4",
        "#SBATCH --tmp=100G",
        "#SBATCH --mail-type=END",
        "#SBATCH --exclusive",
        "#SBATCH --exclusive",
        "#SBATCH --signal=B:TERM@300",
    ]


def test_output_dir_with_spaces_is_quoted_for_sbatch():
    lines = directives({"account": "a"}, output_dir=Path("/scratch/my runs"))
    assert '#SBATCH --output="/scratch/my runs/slurm_output_wf1_sl%j.o"' in lines


@pytest.mark.parametrize(
    "field, value",
    [
        ("account", "proj\necho pwned"),
        ("account", "proj; rm -rf /"),
        ("partition", "short $(id)"),
        ("qos", "a`id`"),
        ("mem", "10G\n"),
        ("gres", "gpu:1;id"),
        ("walltime", "01:00:00\nid"),
        ("nodes", "2; id"),
        ("nodes", 0),
        ("extra", "--comment=x\nid"),
        ("extra", "--comment=\"a\" ; id"),
        ("extra", "id"),
        ("extra", "--x=$(id)`"),
    ],
)
def test_unsafe_scheduler_values_are_rejected(field, value):
    with pytest.raises(TemplateError):
        directives({"account": "a", field: value})


@pytest.mark.parametrize("name", ["a;b", "x\ny", "$(id)", "a b", "", "-leading", "../etc"])
def test_unsafe_job_names_are_rejected(name):
    with pytest.raises(TemplateError):
        directives({"account": "a"}, job_name=name)


@pytest.mark.parametrize("defaults", [{"comment": "a\nid"}, {"bad key": 1}, {"comment": "it's"}, {"x;id": 1}])
def test_unsafe_slurm_defaults_are_rejected(defaults):
    with pytest.raises(TemplateError):
        default_directives(defaults)


def test_extra_flags_with_separate_values_and_spaces():
    assert extra_directives("-p short --comment 'two words' --exclusive") == [
        "#SBATCH -p short", '#SBATCH --comment "two words"', "#SBATCH --exclusive",
    ]


def test_shell_values_are_quoted_and_script_is_valid_bash(tmp_path):
    url = "http://host:8080/torc-service/v1?x=$(touch /tmp/pwned)"
    out = tmp_path / "out dir; id"
    command = shell_command(["/opt/venv/bin/python", "-m", "torc.cli.main", "slurm", "run-jobs", url, "1", str(out)])
    script = render_script(None, directives=directives({"account": "a"}), environment={"TORC_WORKER_COMMAND": "python -m 'torc'"},
                           worker_command=command, workflow_id=1, job_name="torc_wf1_3", output_dir=out, url=url)
    path = tmp_path / "s.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    last = script.strip().splitlines()[-1]
    assert shlex.split(last)[:2] == ["exec", "/opt/venv/bin/python"]
    assert shlex.split(last)[6] == url and shlex.split(last)[8] == str(out)
    assert script.startswith("#!/bin/bash\n")
    # Directives precede every command line (sbatch stops reading them at the first command).
    lines = script.splitlines()
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert max(i for i, line in enumerate(lines) if line.startswith("#SBATCH")) < first_command
    # The exported value is quoted too.
    assert "export TORC_WORKER_COMMAND='python -m '\"'\"'torc'\"'\"''" in script


def test_one_worker_per_node_uses_srun():
    line = shell_command(["torc", "slurm", "run-jobs"], one_worker_per_node=True)
    assert "srun --ntasks-per-node=1" in line and line.endswith("torc slurm run-jobs")
    assert "unset SLURM_MEM_PER_CPU" in line
    assert "\nexec srun " in line


def test_sigterm_to_the_batch_shell_reaches_the_worker(tmp_path):
    """Slurm signals the batch shell before the time limit; the worker must get that SIGTERM itself."""
    marker = tmp_path / "terminated"
    worker = ("import pathlib, signal, sys, time\n"
              f"signal.signal(signal.SIGTERM, lambda *_: (pathlib.Path({str(marker)!r}).write_text('yes'), sys.exit(0)))\n"
              f"pathlib.Path({str(tmp_path / 'started')!r}).write_text('yes')\n"
              "time.sleep(30)\n")
    script = render_script(None, directives=[], environment={}, worker_command=shell_command([sys.executable, "-c", worker]),
                           workflow_id=1, job_name="torc_wf1_3", output_dir=tmp_path, url="http://h")
    path = tmp_path / "s.sh"
    path.write_text(script)
    shell = subprocess.Popen(["bash", str(path)])
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline and shell.poll() is None, "the worker did not start"
            time.sleep(0.05)
        shell.send_signal(signal.SIGTERM)
        shell.wait(timeout=10)
    finally:
        shell.kill()
    assert marker.read_text() == "yes"


def test_render_rejects_unknown_placeholders():
    with pytest.raises(TemplateError, match="nme"):
        render("{{ nme }}", {"name": "x"})
    assert render("a {{name}} {{ name }}", {"name": "x"}) == "a x x"


def test_template_lookup(tmp_path, monkeypatch):
    assert find_template().name == "default.sh"
    assert find_template("default.sh").is_file()
    custom = tmp_path / "site.sh"
    custom.write_text("#!/bin/bash\n{{ sbatch_directives }}\nmodule load python\n{{ environment }}\n{{ worker_command }}\n")
    assert find_template(str(custom)) == custom
    monkeypatch.setenv("TORC_SLURM_TEMPLATE", str(custom))
    assert find_template() == custom
    monkeypatch.setenv("TORC_SLURM_TEMPLATE_DIR", str(tmp_path))
    assert find_template("site.sh") == custom
    with pytest.raises(TemplateError, match="not found"):
        find_template("nope.sh")


def test_template_without_directives_is_rejected(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\n{{ worker_command }}\n")
    with pytest.raises(TemplateError, match="sbatch_directives"):
        render_script(str(bad), directives=[], environment={}, worker_command="torc", workflow_id=1, job_name="x", output_dir=Path("."), url="u")


def _script(template, scheduler):
    return render_script(template, directives=[], environment={}, worker_command="exec torc", workflow_id=1,
                         job_name="torc_wf1_3", output_dir=Path("."), url="http://h", scheduler=scheduler)


def test_scheduler_template_wins_over_profile_template_and_default(tmp_path):
    own, profile = tmp_path / "own.sh", tmp_path / "profile.sh"
    for path in (own, profile):
        path.write_text(f"#!/bin/bash\n{{{{ sbatch_directives }}}}\necho {path.stem}\n{{{{ worker_command }}}}\n")
    assert "echo own" in _script(str(profile), {"name": "gpu", "template": str(own)})
    assert "echo profile" in _script(str(profile), {"name": "gpu", "template": None})
    default = _script(None, {"name": "gpu"})
    assert default == _script(str(find_template()), None) and "echo" not in default


def test_missing_or_unreadable_scheduler_template_names_the_scheduler_and_the_path(tmp_path):
    missing = tmp_path / "gone.sh"
    with pytest.raises(TemplateError, match=f"Slurm scheduler 'gpu': template '{missing}' not found"):
        _script(None, {"name": "gpu", "template": str(missing)})
    binary = tmp_path / "binary.sh"
    binary.write_bytes(b"\xff\xfe{{ sbatch_directives }}")
    with pytest.raises(TemplateError, match=f"Slurm scheduler 'gpu': cannot read template '{binary}'"):
        _script(None, {"name": "gpu", "template": str(binary)})
