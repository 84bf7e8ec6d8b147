"""Slurm scheduler configurations: the sbatch settings of the allocations a workflow requests."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.db.models import SlurmScheduler

blp = Blueprint("slurm_schedulers", __name__, url_prefix=BASE_PATH, description="Slurm scheduler configurations")

FILTERS = ("name", "account", "gres", "mem", "nodes", "partition", "qos", "tmp", "walltime")


class SlurmSchedulerModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    account = fields.String(required=True, metadata={"description": "Slurm account"})
    gres = fields.String(allow_none=True)
    mem = fields.String(allow_none=True)
    nodes = fields.Integer(required=True, validate=validate.Range(min=1))
    ntasks_per_node = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    partition = fields.String(allow_none=True)
    qos = fields.String(allow_none=True)
    tmp = fields.String(allow_none=True)
    walltime = fields.String(required=True, metadata={"description": "Slurm time limit, e.g. 04:00:00"})
    extra = fields.String(allow_none=True, metadata={"description": "Extra sbatch options"})
    template = fields.String(allow_none=True, metadata={"description": "sbatch script template of this scheduler's allocations: a file path or a name in slurm_templates/; wins over the HPC profile's template and --template"})


class ListSlurmSchedulersArgs(WorkflowListArgs):
    name = fields.String()
    account = fields.String()
    gres = fields.String()
    mem = fields.String()
    nodes = fields.Integer()
    partition = fields.String()
    qos = fields.String()
    tmp = fields.String()
    walltime = fields.String()


def _filters(query, args):
    for name in FILTERS:
        if name in args:
            query = query.where(getattr(SlurmScheduler, name) == args[name])
    return query


register_crud(
    blp,
    Crud(
        kind="slurm scheduler",
        model=SlurmScheduler,
        schema=SlurmSchedulerModel,
        path="/slurm_schedulers",
        op_ids={
            "create": "create_slurm_scheduler",
            "list": "list_slurm_schedulers",
            "get": "get_slurm_scheduler",
            "update": "update_slurm_scheduler",
            "delete": "delete_slurm_scheduler",
            "delete_all": "delete_slurm_schedulers",
        },
        list_response="ListSlurmSchedulersResponse",
        list_args=ListSlurmSchedulersArgs,
        filters=_filters,
    ),
)
