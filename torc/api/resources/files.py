"""Files that jobs read and write; their modification time drives change detection."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.db.models import File, JobOutputFile

blp = Blueprint("files", __name__, url_prefix=BASE_PATH, description="Files needed or produced by jobs")


class FileModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "Name of the file (not necessarily the filename)"})
    path = fields.String(required=True, metadata={"description": "Path, absolute or relative to the run directory"})
    st_mtime = fields.Float(allow_none=True, metadata={"description": "Modification time seen when the file was last recorded"})


class ListFilesArgs(WorkflowListArgs):
    produced_by_job_id = fields.Integer(metadata={"description": "Only files this job writes"})
    name = fields.String()
    path = fields.String()
    is_output = fields.Boolean(metadata={"description": "true: files some job writes; false: files no job writes"})


def _filters(query, args):
    if "produced_by_job_id" in args:
        query = query.where(File.id.in_(JobOutputFile.select(JobOutputFile.file).where(JobOutputFile.job == args["produced_by_job_id"])))
    for name in ("name", "path"):
        if name in args:
            query = query.where(getattr(File, name) == args[name])
    if "is_output" in args:
        produced = File.id.in_(JobOutputFile.select(JobOutputFile.file))
        query = query.where(produced if args["is_output"] else ~produced)
    return query


register_crud(
    blp,
    Crud(
        kind="file",
        model=File,
        schema=FileModel,
        path="/files",
        op_ids={"create": "create_file", "list": "list_files", "get": "get_file", "update": "update_file", "delete": "delete_file", "delete_all": "delete_files"},
        list_response="ListFilesResponse",
        list_args=ListFilesArgs,
        filters=_filters,
        # Deleting a file unlinks it from its readers; names, paths and mtimes are no job inputs.
        changes_job_inputs=("delete",),
    ),
)
