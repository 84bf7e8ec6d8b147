"""Jobs: CRUD and bulk creation (``torc.engine.creation.insert_jobs`` does the set-based work).

A job's relationships (the jobs it waits for, the files and user data it reads and writes) live in
join tables and appear in the API as id lists.
"""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.bulk import without_cyclic_gc
from torc.api.crud import Crud, register_crud, workflow_or_404
from torc.api.errors import unprocessable
from torc.api.fields import JobStatusField
from torc.db.connection import database_proxy, write_transaction
from torc.db.models import Job, JobDependsOn, JobInputFile
from torc.engine import cycles
from torc.engine.creation import RELATIONSHIPS, SCALAR_REFERENCES, insert_jobs
from torc.engine.sql import bulk_insert, in_chunks, rows

blp = Blueprint("jobs", __name__, url_prefix=BASE_PATH, description="Jobs: commands and their relationships")

class JobModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "Name of the job"})
    command = fields.String(required=True, metadata={"description": "Command line run with bash -c"})
    invocation_script = fields.String(allow_none=True, metadata={"description": "Prefix of the command, e.g. a wrapper"})
    status = JobStatusField(metadata={"description": "Status of the job; managed by torc."})
    cancel_on_blocking_job_failure = fields.Boolean(metadata={"doc_default": True})
    supports_termination = fields.Boolean(metadata={"doc_default": False})
    depends_on_job_ids = fields.List(fields.Integer(), allow_none=True)
    input_file_ids = fields.List(fields.Integer(), allow_none=True)
    output_file_ids = fields.List(fields.Integer(), allow_none=True)
    input_user_data_ids = fields.List(fields.Integer(), allow_none=True)
    output_user_data_ids = fields.List(fields.Integer(), allow_none=True)
    resource_requirements_id = fields.Integer(allow_none=True)
    scheduler_id = fields.Integer(allow_none=True)
    failure_handler_id = fields.Integer(allow_none=True)
    attempt_id = fields.Integer(dump_default=1, validate=validate.Range(min=1))


class JobsModel(ApiSchema):
    jobs = fields.List(fields.Nested(JobModel), required=True, validate=validate.Length(min=1))


class CreateJobsResponse(ApiSchema):
    jobs = fields.List(fields.Nested(JobModel))


class ListJobsArgs(WorkflowListArgs):
    status = JobStatusField()
    needs_file_id = fields.Integer(metadata={"description": "Only jobs that read this file"})
    upstream_job_id = fields.Integer(metadata={"description": "Only jobs that wait for this job"})
    include_relationships = fields.Boolean(load_default=False)
    active_compute_node_id = fields.Integer()


def _relationships_sql(count: int) -> str:
    """One UNION ALL over the five relationship tables for ``count`` job ids: (kind, job, other)."""
    marks = ", ".join([database_proxy.obj.param] * count)
    parts = [
        f'SELECT {kind} AS kind, job_id, "{getattr(join, other).column_name}" AS other_id FROM "{join._meta.table_name}" WHERE job_id IN ({marks})'
        for kind, (join, other, _) in enumerate(RELATIONSHIPS.values())
    ]
    return " UNION ALL ".join(parts) + " ORDER BY kind, other_id"


def _relationship_lists(job_ids) -> dict[int, dict[str, list[int]]]:
    """The five id lists of each job, from one UNION ALL query over the relationship tables per
    chunk (claims return them, so this is on the hot path: plain SQL, not five peewee-built selects)."""
    lists = {job_id: {attr: [] for attr in RELATIONSHIPS} for job_id in job_ids}
    attrs = list(RELATIONSHIPS)
    for chunk in in_chunks(lists):
        for kind, job_id, other_id in rows(_relationships_sql(len(chunk)), chunk * len(attrs)):
            lists[job_id][attrs[kind]].append(other_id)
    return lists


def attach_relationships(jobs) -> None:
    """Fill the five id lists of each job model."""
    lists = _relationship_lists([job.id for job in jobs])
    for job in jobs:
        for attr, ids in lists[job.id].items():
            setattr(job, attr, ids)


#: The job columns ``JobModel`` shows (its fields other than the relationship lists).
JOB_COLUMNS = [name for name in JobModel._declared_fields if name not in RELATIONSHIPS]
#: Of those, the booleans: SQLite returns them as 0/1, which the schema would dump as numbers.
BOOLEAN_COLUMNS = [name for name in JOB_COLUMNS if isinstance(JobModel._declared_fields[name], fields.Boolean)]


def job_records(job_ids: list[int]) -> list[dict]:
    """Jobs as plain dicts with their relationships, in id order, for the claim responses: the
    schema dumps dicts as it dumps models, without a model instance per claimed job."""
    if not job_ids:
        return []
    found = []
    for chunk in in_chunks(job_ids):
        found.extend(rows(f"SELECT {', '.join(JOB_COLUMNS)} FROM job WHERE id IN ({', '.join([database_proxy.obj.param] * len(chunk))})", chunk))
    records = sorted((dict(zip(JOB_COLUMNS, row)) for row in found), key=lambda record: record["id"])
    lists = _relationship_lists([record["id"] for record in records])
    for record in records:
        record.update(lists[record["id"]])
        for name in BOOLEAN_COLUMNS:
            record[name] = bool(record[name])
    return records


def replace_relationships(job: Job, values: dict) -> None:
    """PUT with a relationship list replaces that relationship set of the job."""
    for attr, new_ids in values.items():
        if new_ids is None:
            continue
        join, other, _ = RELATIONSHIPS[attr]
        join.delete().where(join.job == job.id).execute()
        links = [(job.id, other_id, job.workflow_id) for other_id in dict.fromkeys(new_ids)]
        bulk_insert(join._meta.table_name, ["job_id", getattr(join, other).column_name, "workflow_id"], links)


def _prepare(data: dict, existing) -> None:
    if existing is None:
        return
    if "status" in data and data["status"] != existing.status:
        unprocessable("a job's status is managed by torc; use manage_status_change or complete_job", "status")
    data.pop("status", None)
    if data.get("resource_requirements_id", 0) is None:
        unprocessable("a job always has resource requirements (omit the field to keep them)", "resource_requirements_id")


def _after_write(job: Job, extra: dict, created: bool) -> None:
    if job.id in (extra.get("depends_on_job_ids") or []):
        unprocessable("a job cannot depend on itself", "depends_on_job_ids")
    replace_relationships(job, extra)
    if extra.get("depends_on_job_ids"):
        cycles.check_job(job.id, job.workflow_id)


def _filters(query, args):
    if "status" in args:
        query = query.where(Job.status == args["status"])
    if "needs_file_id" in args:
        query = query.where(Job.id.in_(JobInputFile.select(JobInputFile.job).where(JobInputFile.file == args["needs_file_id"])))
    if "upstream_job_id" in args:
        query = query.where(
            Job.id.in_(JobDependsOn.select(JobDependsOn.job).where(JobDependsOn.depends_on_job == args["upstream_job_id"]))
        )
    if "active_compute_node_id" in args:
        query = query.where(Job.active_compute_node == args["active_compute_node_id"])
    return query


def _create_one(data: dict) -> Job:
    """POST /jobs goes through the same set-based path as bulk creation."""
    workflow_or_404(data["workflow_id"])
    (new_id,) = insert_jobs(data["workflow_id"], [data])
    return Job.get_by_id(new_id)


CRUD = Crud(
    kind="job",
    model=Job,
    schema=JobModel,
    path="/jobs",
    op_ids={"list": "list_jobs", "get": "get_job", "update": "update_job", "delete": "delete_job", "delete_all": "delete_jobs"},
    list_response="ListJobsResponse",
    list_args=ListJobsArgs,
    filters=_filters,
    references={**SCALAR_REFERENCES, **{k: v[2] for k, v in RELATIONSHIPS.items()}},
    extra_fields=tuple(RELATIONSHIPS),
    prepare=_prepare,
    after_write=_after_write,
    decorate=attach_relationships,
    changes_job_inputs=("update", "delete"),  # creation goes through insert_jobs
)
register_crud(blp, CRUD)


@blp.route("/jobs", methods=["POST"], endpoint="create_job")
@blp.arguments(JobModel)
@blp.response(200, JobModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="create_job", summary="Create a job (status uninitialized unless given as disabled).")
def create_job(data):
    with write_transaction():
        job = _create_one(data)
    attach_relationships([job])
    return job


@blp.route("/bulk_jobs", methods=["POST"], endpoint="create_jobs")
@without_cyclic_gc
@blp.arguments(JobsModel)
@blp.response(200, CreateJobsResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(
    operationId="create_jobs",
    summary="Create many jobs of one workflow in one transaction (all or none).",
)
def create_jobs(data):
    jobs = data["jobs"]
    workflow_ids = {job["workflow_id"] for job in jobs}
    if len(workflow_ids) != 1:
        unprocessable(f"all jobs of a batch must belong to one workflow, got {sorted(workflow_ids)}", "jobs")
    (workflow_id,) = workflow_ids
    with write_transaction():
        workflow_or_404(workflow_id)
        new_ids = insert_jobs(workflow_id, jobs)
    created = []
    for chunk in in_chunks(new_ids):
        created.extend(Job.select().where(Job.id.in_(chunk)).order_by(Job.id))
    attach_relationships(created)
    return {"jobs": created}

