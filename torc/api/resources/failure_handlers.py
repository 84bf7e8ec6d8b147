"""Failure handlers: rules that decide whether a failed job is retried."""

import json

from marshmallow import ValidationError, fields

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, PageArgs, envelope, paginate
from torc.api.crud import Crud, register_crud, workflow_or_404
from torc.db.models import FailureHandler

blp = Blueprint("failure_handlers", __name__, url_prefix=BASE_PATH, description="Failure handlers (retry rules)")

RULE_KEYS = {"exit_codes": list, "match_all_exit_codes": bool, "recovery_script": (str, type(None)), "max_retries": int}


def validate_rules(text: str) -> None:
    """``rules`` must be a JSON array of rule objects with known keys of the right types."""
    try:
        rules = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"not valid JSON: {exc}") from None
    if not isinstance(rules, list):
        raise ValidationError("must be a JSON array of rule objects")
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise ValidationError(f"rule {index} is not an object")
        for key, value in rule.items():
            if key not in RULE_KEYS:
                raise ValidationError(f"rule {index}: unknown key {key!r} (expected {', '.join(RULE_KEYS)})")
            if not isinstance(value, RULE_KEYS[key]) or (key == "max_retries" and isinstance(value, bool)):
                raise ValidationError(f"rule {index}: {key} has the wrong type")
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in rule.get("exit_codes", [])):
            raise ValidationError(f"rule {index}: exit_codes must be integers")


class FailureHandlerModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(required=True)
    rules = fields.String(
        required=True,
        validate=validate_rules,
        metadata={"description": "JSON array of {exit_codes, match_all_exit_codes, recovery_script, max_retries}"},
    )


CRUD = Crud(
    kind="failure handler",
    model=FailureHandler,
    schema=FailureHandlerModel,
    path="/failure_handlers",
    op_ids={"create": "create_failure_handler", "get": "get_failure_handler", "delete": "delete_failure_handler"},
    list_response="ListFailureHandlersResponse",
)
register_crud(blp, CRUD)


@blp.route("/workflows/<int:id>/failure_handlers", methods=["GET"], endpoint="list_failure_handlers")
@blp.arguments(PageArgs, location="query")
@blp.response(200, envelope("ListFailureHandlersResponse", FailureHandlerModel))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_failure_handlers", summary="List the failure handlers of a workflow.")
def list_failure_handlers(args, id):
    workflow_or_404(id)
    return paginate(FailureHandler.select().where(FailureHandler.workflow == id), args, FailureHandler)
