"""What the workflow's files look like on disk, and recording it in the files' ``st_mtime``.

``st_mtime`` is the modification time torc last saw for a file; null means the file did not exist
then, or that a job will (re)write it. Comparing it with the file on disk is how reinitialization
notices changed inputs.
"""

import os
from pathlib import Path

from torc.client import TorcApi
from torc.openapi_client.models import FileModel

#: Modification times closer than this are the same (a float round trip through JSON and the
#: database must not count as a change; any real write moves the time by far more).
MTIME_TOLERANCE_SECONDS = 1e-6


def current_mtime(file: FileModel, base_dir: str | os.PathLike | None) -> float | None:
    """The file's modification time now, or None if it does not exist."""
    return path_mtime(file.path, base_dir)


def path_mtime(path: str, base_dir: str | os.PathLike | None) -> float | None:
    """Modification time of a workflow file path now (relative to ``base_dir``), or None if absent."""
    try:
        return (Path(base_dir or ".") / path).stat().st_mtime
    except FileNotFoundError:
        return None


def same_mtime(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= MTIME_TOLERANCE_SECONDS


def store_mtime(api: TorcApi, file: FileModel, mtime: float | None) -> FileModel:
    """Set the file's recorded ``st_mtime`` (None records that the file is absent)."""
    updated = FileModel(id=file.id, workflow_id=file.workflow_id, name=file.name, path=file.path, st_mtime=mtime)
    return api.files.update_file(file.id, updated)


def produced_file_ids(api: TorcApi, workflow_id: int) -> set[int]:
    """Ids of the workflow's files that some job writes."""
    links = api.iter_items(api.workflows.list_job_file_relationships, workflow_id)
    return {link.file_id for link in links if link.producer_job_id is not None}


def record_start_of_run(api: TorcApi, workflow_id: int, base_dir: str | os.PathLike | None) -> int:
    """Record files as a full run starts: inputs no job writes get their current mtime (null if
    absent); files jobs write get null, since the run rewrites them. Returns how many changed.

    One request per changed record: the API has no bulk file update. Records that are already
    right cost nothing, so repeated initializations are cheap.
    """
    produced = produced_file_ids(api, workflow_id)
    changed = 0
    for file in api.iter_files(workflow_id):
        mtime = None if file.id in produced else current_mtime(file, base_dir)
        if not same_mtime(mtime, file.st_mtime):
            store_mtime(api, file, mtime)
            changed += 1
    return changed
