"""A Slurm scheduler's ``template`` in a spec: relative paths point at the file next to the spec."""

import pytest

from torc.spec import SpecError, load_workflow_spec

SPEC = """
name: tmpl
jobs:
  - name: j
    command: "true"
slurm_schedulers:
  - name: own
    account: acct
    template: {template}
  - name: plain
    account: acct
"""


def schedulers(expanded):
    return {s["name"]: s for s in expanded.slurm_schedulers}


def test_relative_template_next_to_the_spec_becomes_absolute(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "gpu.sh").write_text("#!/bin/bash\n{{ sbatch_directives }}\n")
    spec = tmp_path / "wf.yaml"
    spec.write_text(SPEC.format(template="site/gpu.sh"))
    monkeypatch.chdir("/")  # created from anywhere: the path stays the spec's
    found = schedulers(load_workflow_spec(spec))
    assert found["own"]["template"] == str(tmp_path / "site" / "gpu.sh")
    assert "template" not in found["plain"]


@pytest.mark.parametrize("template", ["default.sh", "/opt/site/gpu.sh", "not/there.sh"])
def test_other_templates_are_kept_as_written(tmp_path, template):
    spec = tmp_path / "wf.yaml"
    spec.write_text(SPEC.format(template=template))
    assert schedulers(load_workflow_spec(spec))["own"]["template"] == template


def test_a_spec_given_as_a_mapping_keeps_the_template(tmp_path):
    doc = {"name": "w", "jobs": [{"name": "j", "command": "true"}],
           "slurm_schedulers": [{"name": "own", "account": "a", "template": "gpu.sh"}]}
    assert schedulers(load_workflow_spec(doc))["own"]["template"] == "gpu.sh"


def test_a_template_that_is_not_a_string_is_a_spec_error(tmp_path):
    spec = tmp_path / "wf.yaml"
    spec.write_text(SPEC.format(template="[1, 2]"))
    with pytest.raises(SpecError, match="template"):
        load_workflow_spec(spec)


def test_kdl_spec_template_is_anchored_too(tmp_path):
    (tmp_path / "gpu.sh").write_text("#!/bin/bash\n{{ sbatch_directives }}\n")
    spec = tmp_path / "wf.kdl"
    spec.write_text('name "k"\njob "j" {\n    command "true"\n}\nslurm_scheduler "own" {\n    account "a"\n    template "gpu.sh"\n}\n')
    assert schedulers(load_workflow_spec(spec))["own"]["template"] == str(tmp_path / "gpu.sh")
