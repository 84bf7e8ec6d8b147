"""A minimal in-test worker: claims ready jobs and completes them through the API like ``torc run``.

It does not run commands; it writes each job's output files (so that reinitialization sees them)
and reports success, or the status a test asks for.
"""

import datetime as dt
import os
from pathlib import Path

from torc.client import TorcApi
from torc.openapi_client.models import ComputeNodeModel, FileModel, ResultModel


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def register_node(api: TorcApi, workflow_id: int) -> int:
    node = ComputeNodeModel(
        workflow_id=workflow_id, hostname="localhost", pid=os.getpid(), start_time=_now(),
        num_cpus=4, memory_gb=8.0, num_gpus=0, num_nodes=1, compute_node_type="local",
    )
    return api.compute_nodes.create_compute_node(node).id


def run_ready_jobs(
    api: TorcApi,
    workflow_id: int,
    *,
    outcomes: dict[str, str] | None = None,
    record_output_mtimes: bool = False,
    base_dir: Path | str = ".",
) -> list[str]:
    """Run until nothing is ready; returns the names of the jobs run, in order.

    ``outcomes`` maps job names to a final status other than ``completed`` (``failed`` jobs get
    return code 1 and write no outputs). ``record_output_mtimes`` also stores each written file's
    mtime, as upstream's runner does on success.
    """
    outcomes = outcomes or {}
    node = register_node(api, workflow_id)
    run_id = api.workflows.get_workflow_status(workflow_id).run_id
    files = {file.id: file for file in api.iter_files(workflow_id)}
    outputs = {job.id: job.output_file_ids or [] for job in api.iter_jobs(workflow_id, include_relationships=True)}
    ran = []
    while claimed := api.workflows.claim_next_jobs(workflow_id, compute_node_id=node, limit=100).jobs:
        for job in claimed:
            api.jobs.start_job(job.id, run_id, node)
            status = outcomes.get(job.name, "completed")
            if status == "completed":
                for file_id in outputs[job.id]:
                    _write_output(api, files[file_id], f"{job.name} run {run_id}", record_output_mtimes, base_dir)
            result = ResultModel(
                job_id=job.id, workflow_id=workflow_id, run_id=run_id, compute_node_id=node,
                return_code=0 if status == "completed" else 1, exec_time_minutes=0.01,
                completion_time=_now(), status=status,
            )
            api.jobs.complete_job(job.id, status, run_id, result)
            ran.append(job.name)
    return ran


def _write_output(api: TorcApi, file: FileModel, text: str, record_mtime: bool, base_dir) -> None:
    path = Path(base_dir) / file.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if record_mtime:
        record = FileModel(id=file.id, workflow_id=file.workflow_id, name=file.name, path=file.path, st_mtime=path.stat().st_mtime)
        api.files.update_file(file.id, record)


def statuses(api: TorcApi, workflow_id: int) -> dict[str, str]:
    return {job.name: job.status for job in api.iter_jobs(workflow_id)}
