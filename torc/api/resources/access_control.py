"""Access groups: teams of users, and the workflows each team may see.

``check_workflow_access`` answers whether a user may see a workflow: its owner, members of a
group linked to it, and members of a system (admin) group may.
"""

import datetime as dt

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, MAX_LIMIT, ApiSchema, Blueprint, ListArgs, envelope, paginate
from torc.api.crud import workflow_or_404
from torc.api.errors import conflict, not_found, unprocessable
from torc.db.connection import write_transaction
from torc.db.models import AccessGroup, UserGroupMembership, WorkflowAccessGroup

blp = Blueprint("access_control", __name__, url_prefix=BASE_PATH, description="Access groups and workflow access")

ROLES = ["member", "admin"]


class AccessGroupModel(ApiSchema):
    id = fields.Integer()
    name = fields.String(required=True, validate=validate.Length(min=1))
    description = fields.String(allow_none=True)
    created_at = fields.String()


class UserGroupMembershipModel(ApiSchema):
    id = fields.Integer()
    user_name = fields.String(required=True, validate=validate.Length(min=1))
    group_id = fields.Integer(required=True)
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"doc_default": "member", "enum": ROLES})
    created_at = fields.String()


class WorkflowAccessGroupModel(ApiSchema):
    workflow_id = fields.Integer(required=True)
    group_id = fields.Integer(required=True)
    created_at = fields.String()


class AccessCheckResponse(ApiSchema):
    has_access = fields.Boolean(required=True)
    user_name = fields.String(required=True)
    workflow_id = fields.Integer(required=True)


def _page(name, item):
    return envelope(name, item, counters=("offset", "limit", "total_count", "has_more"))


ListAccessGroupsResponse = _page("ListAccessGroupsResponse", AccessGroupModel)
ListUserGroupMembershipsResponse = _page("ListUserGroupMembershipsResponse", UserGroupMembershipModel)


class GroupListArgs(ListArgs):
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=0),
        metadata={"description": f"Page size (upstream's default: 100); values above {MAX_LIMIT} are capped to {MAX_LIMIT}."},
    )


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _paged(query, args, model) -> dict:
    """One page like every other list (``sort_by``, capped ``limit``), in the access-group envelope
    whose ``limit`` is the page size actually used."""
    return {**paginate(query, args, model), "limit": min(args["limit"], MAX_LIMIT)}


def group_or_404(group_id: int) -> AccessGroup:
    group = AccessGroup.get_or_none(AccessGroup.id == group_id)
    if group is None:
        not_found("access group", group_id)
    return group


@blp.route("/access_groups", methods=["POST"], endpoint="create_access_group")
@blp.arguments(AccessGroupModel)
@blp.response(200, AccessGroupModel)
@blp.alt_response(409, description="A group with this name exists")
@blp.doc(operationId="create_access_group", summary="Create an access group.")
def create_access_group(data):
    data.pop("id", None)
    data["created_at"] = _now()
    with write_transaction():
        if AccessGroup.select().where(AccessGroup.name == data["name"]).exists():
            conflict(f"an access group named {data['name']!r} exists")
        return AccessGroup.create(**data)


@blp.route("/access_groups", methods=["GET"], endpoint="list_access_groups")
@blp.arguments(GroupListArgs, location="query")
@blp.response(200, ListAccessGroupsResponse)
@blp.doc(operationId="list_access_groups", summary="List access groups.")
def list_access_groups(args):
    return _paged(AccessGroup.select(), args, AccessGroup)


@blp.route("/access_groups/<int:id>", methods=["GET"], endpoint="get_access_group")
@blp.response(200, AccessGroupModel)
@blp.alt_response(404, description="No such group")
@blp.doc(operationId="get_access_group", summary="Get an access group.")
def get_access_group(id):
    return group_or_404(id)


@blp.route("/access_groups/<int:id>", methods=["DELETE"], endpoint="delete_access_group")
@blp.response(200, AccessGroupModel)
@blp.alt_response(404, description="No such group")
@blp.doc(operationId="delete_access_group", summary="Delete an access group and its memberships.")
def delete_access_group(id):
    with write_transaction():
        group = group_or_404(id)
        if group.is_system:
            conflict("system groups cannot be deleted")
        AccessGroup.delete().where(AccessGroup.id == id).execute()
    return group


@blp.route("/access_groups/<int:id>/members", methods=["POST"], endpoint="add_user_to_group")
@blp.arguments(UserGroupMembershipModel)
@blp.response(200, UserGroupMembershipModel)
@blp.alt_response(404, description="No such group")
@blp.alt_response(409, description="Already a member")
@blp.doc(operationId="add_user_to_group", summary="Add a user to an access group.")
def add_user_to_group(data, id):
    data.pop("id", None)
    data.pop("created_at", None)  # set by the server
    if data["group_id"] != id:
        unprocessable(f"differs from the path's group {id}", "group_id")
    with write_transaction():
        group_or_404(id)
        exists = UserGroupMembership.select().where(UserGroupMembership.user_name == data["user_name"], UserGroupMembership.group == id)
        if exists.exists():
            conflict(f"{data['user_name']} is already a member of group {id}")
        return UserGroupMembership.create(created_at=_now(), **data)


@blp.route("/access_groups/<int:id>/members", methods=["GET"], endpoint="list_group_members")
@blp.arguments(GroupListArgs, location="query")
@blp.response(200, ListUserGroupMembershipsResponse)
@blp.alt_response(404, description="No such group")
@blp.doc(operationId="list_group_members", summary="List the members of an access group.")
def list_group_members(args, id):
    group_or_404(id)
    return _paged(UserGroupMembership.select().where(UserGroupMembership.group == id), args, UserGroupMembership)


@blp.route("/access_groups/<int:id>/members/<string:user_name>", methods=["DELETE"], endpoint="remove_user_from_group")
@blp.response(200, UserGroupMembershipModel)
@blp.alt_response(404, description="No such group or member")
@blp.doc(operationId="remove_user_from_group", summary="Remove a user from an access group.")
def remove_user_from_group(id, user_name):
    with write_transaction():
        group_or_404(id)
        member = UserGroupMembership.get_or_none(UserGroupMembership.group == id, UserGroupMembership.user_name == user_name)
        if member is None:
            not_found(f"member {user_name!r} of access group", id)
        member.delete_instance()
    return member


@blp.route("/users/<string:user_name>/groups", methods=["GET"], endpoint="list_user_groups")
@blp.arguments(GroupListArgs, location="query")
@blp.response(200, ListAccessGroupsResponse)
@blp.doc(operationId="list_user_groups", summary="List the access groups a user belongs to.")
def list_user_groups(args, user_name):
    query = AccessGroup.select().join(UserGroupMembership).where(UserGroupMembership.user_name == user_name)
    return _paged(query, args, AccessGroup)


@blp.route("/workflows/<int:id>/access_groups", methods=["POST"], endpoint="add_workflow_to_group")
@blp.arguments(WorkflowAccessGroupModel)
@blp.response(200, WorkflowAccessGroupModel)
@blp.alt_response(404, description="No such workflow or group")
@blp.alt_response(409, description="Already linked")
@blp.doc(operationId="add_workflow_to_group", summary="Give an access group access to a workflow.")
def add_workflow_to_group(data, id):
    if data["workflow_id"] != id:
        unprocessable(f"differs from the path's workflow {id}", "workflow_id")
    with write_transaction():
        workflow_or_404(id)
        group_or_404(data["group_id"])
        if WorkflowAccessGroup.select().where(WorkflowAccessGroup.workflow == id, WorkflowAccessGroup.group == data["group_id"]).exists():
            conflict(f"workflow {id} is already in group {data['group_id']}")
        created_at = _now()
        WorkflowAccessGroup.insert(workflow=id, group=data["group_id"], created_at=created_at).execute()
    return {"workflow_id": id, "group_id": data["group_id"], "created_at": created_at}


@blp.route("/workflows/<int:id>/access_groups", methods=["GET"], endpoint="list_workflow_groups")
@blp.response(200, ListAccessGroupsResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="list_workflow_groups", summary="List the access groups that can see a workflow.")
def list_workflow_groups(id):
    workflow_or_404(id)
    query = AccessGroup.select().join(WorkflowAccessGroup).where(WorkflowAccessGroup.workflow == id)
    return _paged(query, {"offset": 0, "limit": MAX_LIMIT}, AccessGroup)


@blp.route("/workflows/<int:id>/access_groups/<int:group_id>", methods=["DELETE"], endpoint="remove_workflow_from_group")
@blp.response(200, WorkflowAccessGroupModel)
@blp.alt_response(404, description="No such link")
@blp.doc(operationId="remove_workflow_from_group", summary="Take a workflow out of an access group.")
def remove_workflow_from_group(id, group_id):
    with write_transaction():
        link = WorkflowAccessGroup.get_or_none(WorkflowAccessGroup.workflow == id, WorkflowAccessGroup.group == group_id)
        if link is None:
            not_found(f"access group {group_id} of workflow", id)
        WorkflowAccessGroup.delete().where(WorkflowAccessGroup.workflow == id, WorkflowAccessGroup.group == group_id).execute()
    return {"workflow_id": id, "group_id": group_id, "created_at": link.created_at}


@blp.route("/access_check/<int:workflow_id>/<string:user_name>", methods=["GET"], endpoint="check_workflow_access")
@blp.response(200, AccessCheckResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="check_workflow_access", summary="Whether a user may see a workflow.")
def check_workflow_access(workflow_id, user_name):
    workflow = workflow_or_404(workflow_id)
    memberships = UserGroupMembership.select(UserGroupMembership.group).where(UserGroupMembership.user_name == user_name)
    via_group = WorkflowAccessGroup.select().where(WorkflowAccessGroup.workflow == workflow_id, WorkflowAccessGroup.group.in_(memberships)).exists()
    is_admin = AccessGroup.select().where(AccessGroup.is_system == True, AccessGroup.id.in_(memberships)).exists()  # noqa: E712
    return {"has_access": workflow.user == user_name or via_group or is_admin, "user_name": user_name, "workflow_id": workflow_id}

