"""Read-only graph queries over a workflow: job ids, job→job edges, job↔file and job↔user-data links.

They are routes of the ``workflows`` blueprint; each list is one SQL query with a LEFT JOIN on both
sides so that files nobody writes (workflow inputs) and files nobody reads (workflow outputs) appear.
"""

from marshmallow import fields
from peewee import JOIN

from torc.api.base import MAX_LIMIT, ApiSchema, PageArgs, envelope
from torc.api.crud import workflow_or_404
from torc.api.resources.workflows import blp
from torc.db.models import File, Job, JobDependsOn, JobInputFile, JobInputUserData, JobOutputFile, JobOutputUserData, UserData


class ListJobIdsResponse(ApiSchema):
    job_ids = fields.List(fields.Integer(), required=True)
    count = fields.Integer(required=True)


class JobDependencyModel(ApiSchema):
    job_id = fields.Integer(required=True)
    job_name = fields.String(required=True)
    depends_on_job_id = fields.Integer(required=True)
    depends_on_job_name = fields.String(required=True)
    workflow_id = fields.Integer(required=True)


class JobFileRelationshipModel(ApiSchema):
    file_id = fields.Integer(required=True)
    file_name = fields.String(required=True)
    file_path = fields.String(required=True)
    producer_job_id = fields.Integer(allow_none=True)
    producer_job_name = fields.String(allow_none=True)
    consumer_job_id = fields.Integer(allow_none=True)
    consumer_job_name = fields.String(allow_none=True)
    workflow_id = fields.Integer(required=True)


class JobUserDataRelationshipModel(ApiSchema):
    user_data_id = fields.Integer(required=True)
    user_data_name = fields.String(required=True)
    producer_job_id = fields.Integer(allow_none=True)
    producer_job_name = fields.String(allow_none=True)
    consumer_job_id = fields.Integer(allow_none=True)
    consumer_job_name = fields.String(allow_none=True)
    workflow_id = fields.Integer(required=True)


def _page(query, args) -> dict:
    offset, limit = args["offset"], min(args["limit"], MAX_LIMIT)
    total = query.count()
    items = list(query.offset(offset).limit(limit).dicts()) if limit else []
    return {"items": items, "offset": offset, "max_limit": MAX_LIMIT, "count": len(items), "total_count": total, "has_more": offset + len(items) < total}


def _links(owner, owner_id, name_fields, input_join, output_join, key, workflow_id):
    """Rows (thing, producer, consumer) for files or user data of a workflow."""
    producer, consumer = Job.alias(), Job.alias()
    return (
        owner.select(
            owner.id.alias(owner_id),
            *name_fields,
            output_join.job.alias("producer_job_id"),
            producer.name.alias("producer_job_name"),
            input_join.job.alias("consumer_job_id"),
            consumer.name.alias("consumer_job_name"),
            owner.workflow.alias("workflow_id"),
        )
        .join(output_join, JOIN.LEFT_OUTER, on=(getattr(output_join, key) == owner.id))
        .join(producer, JOIN.LEFT_OUTER, on=(output_join.job == producer.id))
        .switch(owner)
        .join(input_join, JOIN.LEFT_OUTER, on=(getattr(input_join, key) == owner.id))
        .join(consumer, JOIN.LEFT_OUTER, on=(input_join.job == consumer.id))
        .where(owner.workflow == workflow_id)
        .order_by(owner.id, output_join.job, input_join.job)
    )


@blp.route("/workflows/<int:id>/job_ids", methods=["GET"], endpoint="list_job_ids")
@blp.response(200, ListJobIdsResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_job_ids", summary="All job ids of a workflow.")
def list_job_ids(id):
    workflow_or_404(id)
    ids = [row[0] for row in Job.select(Job.id).where(Job.workflow == id).order_by(Job.id).tuples()]
    return {"job_ids": ids, "count": len(ids)}


@blp.route("/workflows/<int:id>/job_dependencies", methods=["GET"], endpoint="list_job_dependencies")
@blp.arguments(PageArgs, location="query")
@blp.response(200, envelope("ListJobDependenciesResponse", JobDependencyModel))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_job_dependencies", summary="Job→job edges (explicit and implicit) of a workflow.")
def list_job_dependencies(args, id):
    workflow_or_404(id)
    blocked, blocker = Job.alias(), Job.alias()
    query = (
        JobDependsOn.select(
            JobDependsOn.job.alias("job_id"),
            blocked.name.alias("job_name"),
            JobDependsOn.depends_on_job.alias("depends_on_job_id"),
            blocker.name.alias("depends_on_job_name"),
            JobDependsOn.workflow.alias("workflow_id"),
        )
        .join(blocked, on=(JobDependsOn.job == blocked.id))
        .switch(JobDependsOn)
        .join(blocker, on=(JobDependsOn.depends_on_job == blocker.id))
        .where(JobDependsOn.workflow == id)
        .order_by(JobDependsOn.job, JobDependsOn.depends_on_job)
    )
    return _page(query, args)


@blp.route("/workflows/<int:id>/job_file_relationships", methods=["GET"], endpoint="list_job_file_relationships")
@blp.arguments(PageArgs, location="query")
@blp.response(200, envelope("ListJobFileRelationshipsResponse", JobFileRelationshipModel))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_job_file_relationships", summary="Each file with its producer and consumer jobs.")
def list_job_file_relationships(args, id):
    workflow_or_404(id)
    names = (File.name.alias("file_name"), File.path.alias("file_path"))
    return _page(_links(File, "file_id", names, JobInputFile, JobOutputFile, "file", id), args)


@blp.route("/workflows/<int:id>/job_user_data_relationships", methods=["GET"], endpoint="list_job_user_data_relationships")
@blp.arguments(PageArgs, location="query")
@blp.response(200, envelope("ListJobUserDataRelationshipsResponse", JobUserDataRelationshipModel))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_job_user_data_relationships", summary="Each user-data item with its producer and consumer jobs.")
def list_job_user_data_relationships(args, id):
    workflow_or_404(id)
    names = (UserData.name.alias("user_data_name"),)
    return _page(_links(UserData, "user_data_id", names, JobInputUserData, JobOutputUserData, "user_data", id), args)
