"""Remote workers: the ``[user@]host[:port]`` list of SSH hosts a workflow runs on."""

from flask import request
from flask_smorest import abort
from marshmallow import ValidationError, fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint
from torc.api.crud import workflow_or_404
from torc.api.errors import not_found, unprocessable
from torc.db.connection import write_transaction
from torc.db.models import RemoteWorker

blp = Blueprint("remote_workers", __name__, url_prefix=BASE_PATH, description="SSH hosts that run workers for a workflow")

#: ``[user@]host[:port]`` with IPv6 hosts in brackets; no spaces or shell metacharacters.
WORKER_PATTERN = r"^(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"


class RemoteWorkerModel(ApiSchema):
    worker = fields.String(required=True, metadata={"description": "[user@]hostname[:port]"})
    workflow_id = fields.Integer(required=True)


_ADDRESSES = fields.List(
    fields.String(validate=validate.Regexp(WORKER_PATTERN, error="not a [user@]host[:port] address")),
    validate=validate.Length(min=1),
)


def _load_addresses() -> list[str]:
    """The body is a bare JSON array, which flask-smorest's schema arguments cannot express."""
    body = request.get_json(silent=True)
    if body is None:
        unprocessable("the body must be a JSON array of [user@]host[:port] strings", "json")
    try:
        return _ADDRESSES.deserialize(body)
    except ValidationError as exc:
        abort(422, message=f"invalid worker list: {exc.messages}", errors={"json": exc.messages})


@blp.route("/workflows/<int:id>/remote_workers", methods=["POST"], endpoint="create_remote_workers")
@blp.response(200, RemoteWorkerModel(many=True))
@blp.alt_response(404, description="No such workflow")
@blp.alt_response(422, description="Not a list of worker addresses")
@blp.doc(
    operationId="create_remote_workers",
    summary="Add remote workers to a workflow (existing ones are kept).",
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": WORKER_PATTERN},
                    "description": "Worker addresses [user@]host[:port]",
                }
            }
        },
    },
)
def create_remote_workers(id):
    workers = _load_addresses()
    with write_transaction():
        workflow_or_404(id)
        rows = [{"workflow": id, "worker": w} for w in dict.fromkeys(workers)]
        RemoteWorker.insert_many(rows).on_conflict_ignore().execute()
    return [{"worker": w, "workflow_id": id} for w in dict.fromkeys(workers)]


@blp.route("/workflows/<int:id>/remote_workers", methods=["GET"], endpoint="list_remote_workers")
@blp.response(200, RemoteWorkerModel(many=True))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_remote_workers", summary="List the remote workers of a workflow.")
def list_remote_workers(id):
    workflow_or_404(id)
    query = RemoteWorker.select().where(RemoteWorker.workflow == id).order_by(RemoteWorker.worker)
    return [{"worker": row.worker, "workflow_id": id} for row in query]


@blp.route("/workflows/<int:id>/remote_workers/<string:worker>", methods=["DELETE"], endpoint="delete_remote_worker")
@blp.response(200, RemoteWorkerModel)
@blp.alt_response(404, description="No such workflow or worker")
@blp.doc(operationId="delete_remote_worker", summary="Remove a remote worker from a workflow.")
def delete_remote_worker(id, worker):
    with write_transaction():
        workflow_or_404(id)
        if not RemoteWorker.delete().where(RemoteWorker.workflow == id, RemoteWorker.worker == worker).execute():
            not_found(f"remote worker {worker!r} of workflow", id)
    return {"worker": worker, "workflow_id": id}
