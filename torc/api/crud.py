"""One CRUD implementation for every workflow-owned resource.

Each resource module describes itself with a :class:`Crud` (model, schema, operationIds, filters,
hooks) and :func:`register_crud` adds the upstream-shaped routes to its blueprint:
``POST /things``, ``GET /things?workflow_id=``, ``DELETE /things?workflow_id=``,
``GET|PUT|DELETE /things/{id}``.
"""

from dataclasses import dataclass, field
from typing import Callable

import marshmallow as ma

from torc.api.base import ApiSchema, Blueprint, DeleteCountResponse, WorkflowListArgs, envelope, paginate
from torc.api.errors import not_found, unprocessable
from torc.engine import fingerprints
from torc.engine.creation import check_references
from torc.db.connection import write_transaction
from torc.db.models import Workflow


@dataclass
class Crud:
    kind: str  # singular, for messages: "job", "file"
    model: type
    schema: type[ma.Schema]
    path: str
    op_ids: dict[str, str]
    list_response: str
    list_args: type[ma.Schema] = WorkflowListArgs
    #: (query, args) -> query: applies the resource's own list filters.
    filters: Callable | None = None
    #: loaded body field -> model whose row must exist in the same workflow.
    references: dict[str, type] = field(default_factory=dict)
    #: body fields that are not columns (handled by ``after_write``).
    extra_fields: tuple[str, ...] = ()
    #: (data, existing_or_None) -> None: derive columns, validate; may abort.
    prepare: Callable | None = None
    #: (instance, extra_values, created) -> None: write rows that hang off the instance.
    after_write: Callable | None = None
    #: (instances) -> None: attach computed attributes before dumping.
    decorate: Callable | None = None
    #: (instance) -> None: refuse a delete (abort) when other rows still need the instance.
    before_delete: Callable | None = None
    #: (query) -> query: narrows what "delete all of a workflow" removes (rows that must stay).
    deletable: Callable | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    #: operation ("create", "update", "delete", "delete_all") -> when it answers 409, for the spec.
    conflicts: dict[str, str] = field(default_factory=dict)
    #: operations ("create", "update", "delete") that may change what jobs consume: they mark the
    #: workflow's input fingerprints for a refresh (``torc.engine.fingerprints``).
    changes_job_inputs: tuple[str, ...] = ()

    def changed(self, operation: str, workflow_id: int) -> None:
        if operation in self.changes_job_inputs:
            fingerprints.mark_stale(workflow_id)


def workflow_or_404(workflow_id: int) -> Workflow:
    found = Workflow.get_or_none(Workflow.id == workflow_id)
    if found is None:
        not_found("workflow", workflow_id)
    return found


def get_or_404(crud: Crud, ident: int):
    instance = crud.model.get_or_none(crud.model.id == ident)
    if instance is None:
        not_found(crud.kind, ident)
    return instance


def _decorated(crud: Crud, instance):
    if crud.decorate:
        crud.decorate([instance])
    return instance


def create_instance(crud: Crud, data: dict):
    """Validate and insert one record (shared by POST and the bulk endpoints)."""
    data.pop("id", None)
    workflow_or_404(data["workflow_id"])
    check_references(crud.references, data, data["workflow_id"])
    extra = {name: data.pop(name) for name in crud.extra_fields if name in data}
    if crud.prepare:
        crud.prepare(data, None)
    instance = crud.model.create(**data)
    if crud.after_write:
        crud.after_write(instance, extra, True)
    crud.changed("create", instance.workflow_id)
    return instance


def register_crud(blp: Blueprint, crud: Crud) -> None:
    ops = crud.op_ids
    item_path = crud.path + "/<int:id>"
    list_schema = envelope(crud.list_response, crud.schema)
    doc = crud.descriptions.get

    def conflicts(op: str):
        """Documents the operation's 409, if the resource has one."""
        if op in crud.conflicts:
            return blp.alt_response(409, description=crud.conflicts[op])
        return lambda view: view

    if "create" in ops:

        @blp.route(crud.path, methods=["POST"], endpoint=ops["create"])
        @blp.arguments(crud.schema)
        @blp.response(200, crud.schema)
        @blp.alt_response(404, description="No such workflow")
        @conflicts("create")
        @blp.doc(operationId=ops["create"], summary=doc("create", f"Create a {crud.kind}."))
        def create(data):
            with write_transaction():
                instance = create_instance(crud, data)
            return _decorated(crud, instance)

    if "list" in ops:

        @blp.route(crud.path, methods=["GET"], endpoint=ops["list"])
        @blp.arguments(crud.list_args, location="query")
        @blp.response(200, list_schema)
        @blp.alt_response(404, description="No such workflow")
        @blp.doc(operationId=ops["list"], summary=doc("list", f"List the {crud.kind} records of a workflow."))
        def list_items(args):
            workflow_or_404(args["workflow_id"])
            query = crud.model.select().where(crud.model.workflow == args["workflow_id"])
            if crud.filters:
                query = crud.filters(query, args)
            # Lists with an include_relationships switch (jobs) attach them only when asked.
            decorate = crud.decorate if args.get("include_relationships", True) else None
            return paginate(query, args, crud.model, decorate)

    if "delete_all" in ops:

        @blp.route(crud.path, methods=["DELETE"], endpoint=ops["delete_all"])
        @blp.arguments(ApiSchema.from_dict({"workflow_id": ma.fields.Integer(required=True)}), location="query")
        @blp.response(200, DeleteCountResponse)
        @blp.alt_response(404, description="No such workflow")
        @conflicts("delete_all")
        @blp.doc(operationId=ops["delete_all"], summary=f"Delete every {crud.kind} of a workflow.")
        def delete_all(args):
            workflow_or_404(args["workflow_id"])
            query = crud.model.select().where(crud.model.workflow == args["workflow_id"])
            if crud.deletable:
                query = crud.deletable(query)
            with write_transaction():
                if crud.before_delete:
                    for instance in query:
                        crud.before_delete(instance)
                count = crud.model.delete().where(crud.model.id.in_(query.select(crud.model.id))).execute()
                crud.changed("delete", args["workflow_id"])
            return {"count": count}

    if "get" in ops:

        @blp.route(item_path, methods=["GET"], endpoint=ops["get"])
        @blp.response(200, crud.schema)
        @blp.alt_response(404, description=f"No such {crud.kind}")
        @blp.doc(operationId=ops["get"], summary=f"Get a {crud.kind}.")
        def get_item(id):
            return _decorated(crud, get_or_404(crud, id))

    if "update" in ops:

        @blp.route(item_path, methods=["PUT"], endpoint=ops["update"])
        @blp.arguments(crud.schema)
        @blp.response(200, crud.schema)
        @blp.alt_response(404, description=f"No such {crud.kind}")
        @conflicts("update")
        @blp.doc(
            operationId=ops["update"],
            summary=doc("update", f"Update a {crud.kind}; optional fields left out keep their values."),
        )
        def update_item(data, id):
            with write_transaction():
                existing = get_or_404(crud, id)
                data.pop("id", None)
                workflow_id = data.pop("workflow_id", existing.workflow_id)
                if workflow_id != existing.workflow_id:
                    unprocessable(f"cannot move a {crud.kind} to another workflow", "workflow_id")
                check_references(crud.references, data, existing.workflow_id)
                extra = {name: data.pop(name) for name in crud.extra_fields if name in data}
                if crud.prepare:
                    crud.prepare(data, existing)
                if data:
                    crud.model.update(**data).where(crud.model.id == id).execute()
                instance = crud.model.get_by_id(id)
                if crud.after_write:
                    crud.after_write(instance, extra, False)
                crud.changed("update", existing.workflow_id)
            return _decorated(crud, instance)

    if "delete" in ops:

        @blp.route(item_path, methods=["DELETE"], endpoint=ops["delete"])
        @blp.response(200, crud.schema)
        @blp.alt_response(404, description=f"No such {crud.kind}")
        @conflicts("delete")
        @blp.doc(operationId=ops["delete"], summary=f"Delete a {crud.kind}.")
        def delete_item(id):
            with write_transaction():
                instance = _decorated(crud, get_or_404(crud, id))
                if crud.before_delete:
                    crud.before_delete(instance)
                crud.model.delete().where(crud.model.id == id).execute()
                crud.changed("delete", instance.workflow_id)
            return instance
