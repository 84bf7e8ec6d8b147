"""Input fingerprints: what each job consumes, so that a new run reruns only the jobs whose inputs changed.

A job's fingerprint (``job.input_hash``) is the SHA-256 of its command, its invocation script, the
ids of the files it reads, the ids and contents of the user data it reads, and the names of the
jobs it waits for (explicit ``depends_on`` and the implicit edges from files and user data).
Contents of user data that a job of the workflow writes, or that is ephemeral (cleared for every
run), are left out, only their ids count: the run itself fills them, so they change with every
run without anyone changing an input (upstream torc hashes them and reports every consumer as
changed after each run).

The stored fingerprint is what the job consumed when its current run was placed. It is written at
creation (from a spec), refreshed for the jobs that initialization places, and for the jobs that
``process_changed_job_inputs`` resets. A full initialization of a workflow that nobody changed
since its fingerprints were computed skips the refresh: every write that may change a job's
inputs marks the workflow (``workflow_status.input_hashes_stale``), and only then are the
fingerprints of all placed jobs recomputed.
"""

import hashlib
from collections import defaultdict

from torc.db.connection import database_proxy
from torc.db.models import WorkflowStatus
from torc.engine.sql import bulk_update
from torc.engine.sql import rows as sql_rows
from torc.status import JobStatus

def fingerprint(command: str, invocation_script: str | None, input_file_ids, input_user_data, upstream_names) -> str:
    """``input_user_data``: (user data id, JSON text, or None for data the run itself fills).

    The digest is taken over the ``repr`` of a tuple of str/int/None values and sorted lists of
    them: deterministic, and a third cheaper than JSON encoding for 100,000 jobs at creation.
    """
    text = repr((command, invocation_script, sorted(input_file_ids), sorted(map(tuple, input_user_data)), sorted(upstream_names)))
    return hashlib.sha256(text.encode()).hexdigest()


def mark_stale(workflow_id: int) -> None:
    """Something a job consumes may have changed: the next full initialization refreshes fingerprints."""
    WorkflowStatus.update(input_hashes_stale=True).where(WorkflowStatus.workflow == workflow_id).execute()


def compute(workflow_id: int, status: JobStatus | None = None) -> dict[int, tuple[str, str | None, str]]:
    """job id → (name, stored fingerprint, current fingerprint) for the workflow's jobs, or only
    those in ``status``. Five plain queries, whatever the workflow's size."""
    p = database_proxy.obj.param
    params: tuple = (workflow_id,)
    only = ""
    if status is not None:
        only, params = f" AND x.status = {p}", (workflow_id, int(status))
    files: dict[int, list] = defaultdict(list)
    user_data: dict[int, list] = defaultdict(list)
    upstreams: dict[int, list] = defaultdict(list)
    for job, file in sql_rows(f"SELECT i.job_id, i.file_id FROM job_input_file i JOIN job x ON x.id = i.job_id WHERE i.workflow_id = {p}{only}", params):
        files[job].append(file)
    contents = dict(sql_rows(
        f"SELECT id, data FROM user_data WHERE workflow_id = {p} AND NOT is_ephemeral "
        f"AND id NOT IN (SELECT user_data_id FROM job_output_user_data WHERE workflow_id = {p})",
        (workflow_id, workflow_id),
    ))
    for job, item in sql_rows(f"SELECT i.job_id, i.user_data_id FROM job_input_user_data i JOIN job x ON x.id = i.job_id WHERE i.workflow_id = {p}{only}", params):
        user_data[job].append((item, contents.get(item)))
    for job, name in sql_rows(
        f"SELECT d.job_id, u.name FROM job_depends_on d JOIN job x ON x.id = d.job_id JOIN job u ON u.id = d.depends_on_job_id WHERE d.workflow_id = {p}{only}",
        params,
    ):
        upstreams[job].append(name)
    jobs = sql_rows(f"SELECT x.id, x.name, x.command, x.invocation_script, x.input_hash FROM job x WHERE x.workflow_id = {p}{only}", params)
    return {
        job_id: (name, stored, fingerprint(command, script, files.get(job_id, ()), user_data.get(job_id, ()), upstreams.get(job_id, ())))
        for job_id, name, command, script, stored in jobs
    }


def refresh_placed(workflow_id: int, all_jobs: bool, stale: bool) -> None:
    """Store the current fingerprints of the jobs about to be placed (the uninitialized ones).

    ``all_jobs``: a full initialization, which skips the work unless the workflow is ``stale``
    and then clears the mark. Only fingerprints that differ are written.
    """
    if all_jobs and not stale:
        return
    changed = [(job_id, fresh) for job_id, (_, stored, fresh) in compute(workflow_id, JobStatus.UNINITIALIZED).items() if stored != fresh]
    bulk_update("job", "input_hash", changed)
    if all_jobs:
        WorkflowStatus.update(input_hashes_stale=False).where(WorkflowStatus.workflow == workflow_id).execute()
