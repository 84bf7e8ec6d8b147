"""The optional pyslurm backend against a fake module with pyslurm's documented (>= 23.2) API."""

import sys
import types

import pytest

from torc.hpc import pyslurm_backend
from torc.hpc.pyslurm_backend import PySlurmScheduler, usable
from torc.hpc.scheduler import SchedulerCommandError, TransientSchedulerError, get_scheduler
from torc.hpc.slurm import CommandRetry, SlurmCommands


class RPCError(Exception):
    def __init__(self, msg="", errno=1):
        super().__init__(msg)
        self.errno = errno


def fake_pyslurm(version="22.5.1"):
    """A module with the parts of pyslurm's API the backend uses; records what it was asked."""
    module = types.ModuleType("pyslurm")
    module.__version__ = version
    module.RPCError = RPCError
    module.submitted = []
    module.canceled = []
    module.failures = []
    module.running = {}

    class JobSubmitDescription:
        def __init__(self, script=None, environment=None, **kwargs):
            self.script, self.environment, self.options_loaded = script, environment, False

        def load_sbatch_options(self, overwrite=False):
            self.options_loaded = True

        def submit(self):
            if module.failures:
                raise module.failures.pop(0)
            module.submitted.append(self)
            return 4242

    class Job:
        def __init__(self, job_id):
            self.id = job_id

        def cancel(self):
            if self.id not in module.running:
                raise RPCError("Invalid job id specified", 2017)
            module.canceled.append(self.id)

    class Jobs(dict):
        @classmethod
        def load(cls):
            return cls(module.running)

    db = types.SimpleNamespace(
        JobFilter=lambda ids=None: types.SimpleNamespace(ids=ids),
        Jobs=types.SimpleNamespace(load=lambda db_filter: {
            i: types.SimpleNamespace(id=i, name=f"torc_wf1_{i}", state="CANCELLED", exit_code=0, start_time=1_700_000_000,
                                     end_time=1_700_000_060, elapsed_time=60, nodelist="n1") for i in db_filter.ids}),
    )
    module.JobSubmitDescription, module.Job, module.Jobs, module.db = JobSubmitDescription, Job, Jobs, db
    return module


@pytest.fixture
def pyslurm(monkeypatch):
    module = fake_pyslurm()
    monkeypatch.setitem(sys.modules, "pyslurm", module)
    return module


def backend(module):
    return PySlurmScheduler(module, CommandRetry(attempts=3, first_delay=0.01), sleep=lambda s: None)


def test_usable_only_when_the_versions_match(pyslurm, monkeypatch):
    assert usable((22, 5))
    assert not usable((23, 2))
    monkeypatch.setattr(pyslurm_backend, "installed_slurm_version", lambda: (22, 5))
    assert isinstance(get_scheduler("auto"), PySlurmScheduler)
    monkeypatch.setattr(pyslurm_backend, "installed_slurm_version", lambda: (23, 11))
    assert isinstance(get_scheduler("auto"), SlurmCommands)


def test_not_usable_without_pyslurm(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyslurm", None)  # import fails
    assert not usable((22, 5))
    assert isinstance(get_scheduler("auto"), SlurmCommands)


def test_submit_loads_the_scripts_directives(pyslurm, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_MEM_PER_CPU", "1")
    assert backend(pyslurm).submit(tmp_path / "s.sh") == "4242"
    (description,) = pyslurm.submitted
    assert description.script == str(tmp_path / "s.sh") and description.options_loaded
    assert "SLURM_MEM_PER_CPU" not in description.environment


def test_rpc_errors_are_classified_and_retried(pyslurm, tmp_path):
    pyslurm.failures = [RPCError("Socket timed out on send/recv operation"), RPCError("Socket timed out on send/recv operation")]
    assert backend(pyslurm).submit(tmp_path / "s.sh") == "4242"
    pyslurm.failures = [RPCError("Invalid account or account/partition combination specified")]
    with pytest.raises(SchedulerCommandError, match="sacctmgr") as raised:
        backend(pyslurm).submit(tmp_path / "s.sh")
    assert not isinstance(raised.value, TransientSchedulerError)


def test_status_cancel_and_accounting(pyslurm):
    pyslurm.running[11] = types.SimpleNamespace(state="RUNNING", name="torc_wf1_1", start_time=1_700_000_000, end_time=1_700_003_600,
                                                nodes="n1", state_reason="None")
    hpc = backend(pyslurm)
    states = hpc.status(["11", "12"])
    assert states["11"].is_active and states["11"].end_time - states["11"].start_time == 3600
    assert states["12"].state == "CANCELLED" and states["12"].was_killed  # from accounting
    assert hpc.end_time("11") == 1_700_003_600
    hpc.cancel(["11", "99"])  # an unknown id is not an error
    assert pyslurm.canceled == [11]
    (record,) = hpc.accounting(["12"])
    assert (record.job_id, record.state, record.nodes) == ("12", "CANCELLED", "n1")
