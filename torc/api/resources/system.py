"""Service endpoints: liveness, the API version, and what the answering server process is doing."""

import os

from marshmallow import fields

from torc import __version__
from torc.api.base import BASE_PATH, ApiSchema, Blueprint
from torc.api_version import API_VERSION
from torc.engine.wakeup import HUB

blp = Blueprint("system", __name__, url_prefix=BASE_PATH, description="Service liveness and version")


class PingResponse(ApiSchema):
    status = fields.String(required=True, metadata={"example": "ok"})


class VersionResponse(ApiSchema):
    version = fields.String(required=True, metadata={"description": "HTTP API version (semantic version)"})
    api_version = fields.String(required=True, metadata={"description": "Same as version"})
    server_version = fields.String(required=True, metadata={"description": "Version of the torc package serving the API"})


class ServerStatsResponse(ApiSchema):
    pid = fields.Integer(required=True, metadata={"description": "The server process that answered (a server runs several)"})
    num_waiting_claims = fields.Integer(
        required=True, metadata={"description": "Long-poll claims of this process waiting for work (idle workers)"}
    )


@blp.route("/server_stats", methods=["GET"], endpoint="get_server_stats")
@blp.response(200, ServerStatsResponse)
@blp.doc(operationId="get_server_stats", summary="Activity of the server process that answers (additive).")
def get_server_stats():
    return {"pid": os.getpid(), "num_waiting_claims": HUB.waiting}


@blp.route("/ping", methods=["GET"], endpoint="ping")
@blp.response(200, PingResponse)
@blp.doc(operationId="ping", summary="Check that the server answers.")
def ping():
    return {"status": "ok"}


@blp.route("/version", methods=["GET"], endpoint="get_version")
@blp.response(200, VersionResponse)
@blp.doc(operationId="get_version", summary="The HTTP API version the server speaks.")
def get_version():
    return {"version": API_VERSION, "api_version": API_VERSION, "server_version": __version__}
