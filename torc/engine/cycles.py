"""Refusing dependency cycles: the jobs of a cycle would wait for each other forever.

The client checks a spec before sending it (``torc.spec.graph``, whose message also names the
files a cycle goes through), and the server checks again when it creates the workflow, so that
no client can store a deadlock. Edges that appear later are checked when they appear: a job
updated with new dependencies (:func:`check_job`), and implicit edges that initialization derives
from files and user data linked after creation (:func:`check_workflow`).
"""

from torc.db.connection import database_proxy
from torc.engine.errors import Invalid
from torc.engine.sql import in_chunks
from torc.engine.sql import rows as sql_rows
from torc.spec.graph import find_cycle


def _refuse(cycle_names: list[str]) -> None:
    raise Invalid(f"dependency cycle: {' -> '.join(cycle_names)}")


def check_jobs(names: list[str], upstreams: list[list[int]]) -> None:
    """Jobs by position: ``upstreams[i]`` are the positions of the jobs job ``i`` waits for.

    One pass when every job comes after the jobs it waits for (as specs usually list them: then
    there is no cycle); otherwise a depth-first search, linear in jobs + edges.
    """
    if all(up < i for i, ups in enumerate(upstreams) for up in ups):
        return
    successors: list[list[int]] = [[] for _ in names]
    for i, ups in enumerate(upstreams):
        for up in ups:
            successors[up].append(i)
    cycle = find_cycle(successors)
    if cycle is not None:
        _refuse([names[i] for i in cycle])


def check_workflow(workflow_id: int) -> None:
    """Refuse a cycle among all the dependency edges of a workflow."""
    p = database_proxy.obj.param
    edges = sql_rows(f"SELECT depends_on_job_id, job_id FROM job_depends_on WHERE workflow_id = {p}", (workflow_id,))
    ids = sorted({node for edge in edges for node in edge})  # in id order: the message starts at the oldest job
    position = {job_id: i for i, job_id in enumerate(ids)}
    successors: list[list[int]] = [[] for _ in ids]
    for upstream, job in edges:
        successors[position[upstream]].append(position[job])
    cycle = find_cycle(successors)
    if cycle is None:
        return
    names: dict[int, str] = {}
    for chunk in in_chunks({ids[i] for i in cycle}):
        names.update(sql_rows(f"SELECT id, name FROM job WHERE id IN ({', '.join([p] * len(chunk))})", chunk))
    _refuse([names[ids[i]] for i in cycle])


def check_job(job_id: int, workflow_id: int) -> None:
    """After ``job_id``'s dependencies changed: refuse if the job now waits for itself.

    Walks upstream from the job (cost proportional to its ancestors); the whole workflow is read
    only to name the cycle.
    """
    p = database_proxy.obj.param
    found = sql_rows(
        f"""WITH RECURSIVE up(id) AS (
                SELECT depends_on_job_id FROM job_depends_on WHERE job_id = {p}
                UNION SELECT d.depends_on_job_id FROM job_depends_on d JOIN up ON d.job_id = up.id)
            SELECT 1 FROM up WHERE id = {p} LIMIT 1""",
        (job_id, job_id),
    )
    if found:
        check_workflow(workflow_id)
