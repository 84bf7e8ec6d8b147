"""User data: JSON documents that jobs consume and produce (implicit dependencies like files)."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, create_instance, register_crud
from torc.engine.creation import check_references
from torc.api.fields import JsonObjectText
from torc.db.connection import write_transaction
from torc.db.models import Job, JobInputUserData, JobOutputUserData, UserData

blp = Blueprint("user_data", __name__, url_prefix=BASE_PATH, description="User data consumed and produced by jobs")


class UserDataModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    is_ephemeral = fields.Boolean(metadata={"doc_default": False, "description": "Cleared before each new run"})
    name = fields.String(required=True, validate=validate.Length(min=1))
    data = JsonObjectText(allow_none=True, metadata={"description": "User-defined JSON object"})


class CreateUserDataArgs(ApiSchema):
    consumer_job_id = fields.Integer(metadata={"description": "Record this job as a consumer"})
    producer_job_id = fields.Integer(metadata={"description": "Record this job as the producer"})


class ListUserDataArgs(WorkflowListArgs):
    consumer_job_id = fields.Integer()
    producer_job_id = fields.Integer()
    name = fields.String()
    is_ephemeral = fields.Boolean()


def _filters(query, args):
    if "consumer_job_id" in args:
        query = query.where(UserData.id.in_(JobInputUserData.select(JobInputUserData.user_data).where(JobInputUserData.job == args["consumer_job_id"])))
    if "producer_job_id" in args:
        query = query.where(UserData.id.in_(JobOutputUserData.select(JobOutputUserData.user_data).where(JobOutputUserData.job == args["producer_job_id"])))
    for name in ("name", "is_ephemeral"):
        if name in args:
            query = query.where(getattr(UserData, name) == args[name])
    return query


CRUD = Crud(
    kind="user data",
    model=UserData,
    schema=UserDataModel,
    path="/user_data",
    op_ids={"list": "list_user_data", "get": "get_user_data", "update": "update_user_data", "delete": "delete_user_data", "delete_all": "delete_all_user_data"},
    list_response="ListUserDataResponse",
    list_args=ListUserDataArgs,
    filters=_filters,
    # Contents and links are inputs of the jobs that read the data.
    changes_job_inputs=("create", "update", "delete"),
)
register_crud(blp, CRUD)


@blp.route("/user_data", methods=["POST"], endpoint="create_user_data")
@blp.arguments(CreateUserDataArgs, location="query")
@blp.arguments(UserDataModel)
@blp.response(200, UserDataModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="create_user_data", summary="Create user data, optionally linked to its consumer and producer jobs.")
def create_user_data(links, data):
    with write_transaction():
        item = create_instance(CRUD, data)
        job_ids = {"consumer_job_id": links.get("consumer_job_id"), "producer_job_id": links.get("producer_job_id")}
        check_references({"consumer_job_id": Job, "producer_job_id": Job}, job_ids, item.workflow_id)
        for join, job_id in ((JobInputUserData, job_ids["consumer_job_id"]), (JobOutputUserData, job_ids["producer_job_id"])):
            if job_id is not None:
                join.create(job=job_id, user_data=item.id, workflow=item.workflow_id)
    return item
