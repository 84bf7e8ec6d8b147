"""Resource requirements: CPUs, GPUs, nodes, memory and runtime a job needs.

Memory and runtime are stored as written and as bytes/seconds, so the claim query compares
numbers. Every workflow owns a ``default`` row that clients cannot create, rename or delete.
"""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.api.errors import conflict, unprocessable
from torc.db.models import Job, ResourceRequirements
from torc.units import parse_duration_seconds, parse_memory_bytes

blp = Blueprint("resource_requirements", __name__, url_prefix=BASE_PATH, description="Resources required by jobs")

DEFAULT_NAME = "default"


class ResourceRequirementsModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1))
    num_cpus = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 1})
    num_gpus = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 0})
    num_nodes = fields.Integer(validate=validate.Range(min=1), metadata={"doc_default": 1})
    memory = fields.String(metadata={"doc_default": "1m", "description": "Memory, e.g. 512m, 20g"})
    runtime = fields.String(metadata={"doc_default": "P0DT1M", "description": "ISO-8601 duration, e.g. PT30M"})


class ListResourceRequirementsArgs(WorkflowListArgs):
    job_id = fields.Integer(metadata={"description": "Only the requirements of this job"})
    name = fields.String()
    memory = fields.String()
    num_cpus = fields.Integer()
    num_gpus = fields.Integer()
    num_nodes = fields.Integer()
    runtime = fields.String()


def _prepare(data: dict, existing) -> None:
    name = data.get("name")
    if existing is None and name == DEFAULT_NAME:
        conflict("every workflow already has the 'default' resource requirements; choose another name")
    if existing is not None and existing.name == DEFAULT_NAME and name not in (None, DEFAULT_NAME):
        unprocessable("the 'default' resource requirements cannot be renamed", "name")
    if existing is not None and existing.name != DEFAULT_NAME and name == DEFAULT_NAME:
        conflict("the name 'default' is reserved")
    taken = ResourceRequirements.select().where(
        ResourceRequirements.workflow == (data.get("workflow_id") or existing.workflow_id),
        ResourceRequirements.name == name,
    )
    if name and existing is not None:
        taken = taken.where(ResourceRequirements.id != existing.id)
    if name and taken.exists():
        conflict(f"resource requirements named {name!r} already exist in this workflow")
    for field, parse, column in (("memory", parse_memory_bytes, "memory_bytes"), ("runtime", parse_duration_seconds, "runtime_s")):
        if field in data:
            text = data[field]
        elif existing is None:
            text = data[field] = ResourceRequirements._meta.fields[field].default
        else:
            continue
        try:
            data[column] = parse(text)
        except ValueError as exc:
            unprocessable(str(exc), field)


def _before_delete(rr: ResourceRequirements) -> None:
    if rr.name == DEFAULT_NAME:
        conflict("the 'default' resource requirements cannot be deleted")
    users = Job.select().where(Job.resource_requirements == rr.id).count()
    if users:
        conflict(f"resource requirements {rr.id} ({rr.name}) are used by {users} job(s)")


def _filters(query, args):
    if "job_id" in args:
        query = query.where(ResourceRequirements.id.in_(Job.select(Job.resource_requirements).where(Job.id == args["job_id"])))
    for name in ("name", "memory", "num_cpus", "num_gpus", "num_nodes", "runtime"):
        if name in args:
            query = query.where(getattr(ResourceRequirements, name) == args[name])
    return query


register_crud(
    blp,
    Crud(
        kind="resource requirements",
        model=ResourceRequirements,
        schema=ResourceRequirementsModel,
        path="/resource_requirements",
        op_ids={
            "create": "create_resource_requirements",
            "list": "list_resource_requirements",
            "get": "get_resource_requirements",
            "update": "update_resource_requirements",
            "delete": "delete_resource_requirement",
            "delete_all": "delete_resource_requirements",
        },
        list_response="ListResourceRequirementsResponse",
        list_args=ListResourceRequirementsArgs,
        filters=_filters,
        prepare=_prepare,
        before_delete=_before_delete,
        deletable=lambda query: query.where(ResourceRequirements.name != DEFAULT_NAME),
        conflicts={
            "create": "The workflow has resource requirements of this name (names are unique per workflow)",
            "update": "The workflow has resource requirements of this name (names are unique per workflow)",
            "delete": "The 'default' requirements, or requirements that jobs use, cannot be deleted",
            "delete_all": "Requirements that jobs use cannot be deleted",
        },
    ),
)
