"""Creating a whole workflow from an expanded spec in one request and one transaction.

The client (``torc workflows create SPEC``) loads and expands the spec file with ``torc.spec`` and
sends the records, which reference each other by name. The server resolves names to ids and
writes everything with multi-row INSERTs; any error rolls the whole workflow back, so a failed
creation never leaves a half-created workflow behind. Additive to the upstream API.
"""

from marshmallow import fields, validate

from torc.api.base import ApiSchema
from torc.api.bulk import without_cyclic_gc
from torc.api.fields import FastNestedList
from torc.api.resources.workflow_actions import ACTION_TYPES, TRIGGER_TYPES
from torc.api.resources.workflows import WorkflowModel, attach_status, blp
from torc.db.connection import write_transaction
from torc.engine.creation import create_from_records
from torc.engine.lifecycle import create_and_initialize

NAMES = fields.List(fields.String(), load_default=list)


class SpecFile(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    path = fields.String(required=True)


class SpecUserData(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    data = fields.Raw(allow_none=True, metadata={"description": "Any JSON value"})
    is_ephemeral = fields.Boolean(load_default=False)


class SpecResourceRequirements(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    num_cpus = fields.Integer(load_default=1, validate=validate.Range(min=0))
    num_gpus = fields.Integer(load_default=0, validate=validate.Range(min=0))
    num_nodes = fields.Integer(load_default=1, validate=validate.Range(min=1))
    memory = fields.String(load_default="1m")
    runtime = fields.String(load_default="P0DT1M")


class SpecFailureRule(ApiSchema):
    exit_codes = fields.List(fields.Integer(), load_default=list)
    match_all_exit_codes = fields.Boolean(load_default=False)
    recovery_script = fields.String(allow_none=True, load_default=None)
    max_retries = fields.Integer(load_default=3, validate=validate.Range(min=0))


class SpecFailureHandler(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    rules = fields.List(fields.Nested(SpecFailureRule), required=True)


class SpecSlurmScheduler(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    account = fields.String(required=True)
    partition = fields.String(allow_none=True)
    nodes = fields.Integer(load_default=1, validate=validate.Range(min=1))
    walltime = fields.String(load_default="01:00:00")
    mem = fields.String(allow_none=True)
    gres = fields.String(allow_none=True)
    qos = fields.String(allow_none=True)
    ntasks_per_node = fields.Integer(allow_none=True)
    tmp = fields.String(allow_none=True)
    extra = fields.String(allow_none=True)
    template = fields.String(allow_none=True)


class SpecJob(ApiSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    command = fields.String(required=True)
    invocation_script = fields.String(allow_none=True, load_default=None)
    cancel_on_blocking_job_failure = fields.Boolean(load_default=True)
    supports_termination = fields.Boolean(load_default=False)
    resource_requirements = fields.String(allow_none=True, load_default=None, metadata={"description": "Name"})
    failure_handler = fields.String(allow_none=True, load_default=None, metadata={"description": "Name"})
    scheduler = fields.String(allow_none=True, load_default=None, metadata={"description": "Slurm scheduler name"})
    depends_on = NAMES
    input_files = NAMES
    output_files = NAMES
    input_user_data = NAMES
    output_user_data = NAMES


class SpecAction(ApiSchema):
    trigger_type = fields.String(required=True, validate=validate.OneOf(TRIGGER_TYPES))
    action_type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    job_names = NAMES
    action_config = fields.Dict(load_default=dict)
    persistent = fields.Boolean(load_default=False)


class WorkflowSpecRecords(ApiSchema):
    """An expanded workflow spec: every record, referencing the others by name."""

    workflow = fields.Nested(WorkflowModel, required=True)
    files = fields.List(fields.Nested(SpecFile), load_default=list)
    user_data = fields.List(fields.Nested(SpecUserData), load_default=list)
    resource_requirements = fields.List(fields.Nested(SpecResourceRequirements), load_default=list)
    failure_handlers = fields.List(fields.Nested(SpecFailureHandler), load_default=list)
    slurm_schedulers = fields.List(fields.Nested(SpecSlurmScheduler), load_default=list)
    jobs = FastNestedList(SpecJob, required=True)
    actions = fields.List(fields.Nested(SpecAction), load_default=list)


class CreateWorkflowFromSpecArgs(ApiSchema):
    initialize = fields.Boolean(load_default=False, metadata={
        "description": "Also start the workflow's first run, as initialize_jobs would, in the same transaction "
                       "(each job is written once, already ready or blocked)",
    })


class CreateWorkflowFromSpecResponse(ApiSchema):
    workflow = fields.Nested(WorkflowModel, required=True)
    num_jobs = fields.Integer(required=True)
    num_dependencies = fields.Integer(required=True, metadata={"description": "Explicit job→job edges"})
    num_files = fields.Integer(required=True)
    num_user_data = fields.Integer(required=True)
    num_ready = fields.Integer(allow_none=True, metadata={"description": "Jobs ready to run; null unless initialize"})


@blp.route("/workflows/from_spec", methods=["POST"], endpoint="create_workflow_from_spec")
@without_cyclic_gc
@blp.arguments(CreateWorkflowFromSpecArgs, location="query")
@blp.arguments(WorkflowSpecRecords)
@blp.response(200, CreateWorkflowFromSpecResponse)
@blp.doc(
    operationId="create_workflow_from_spec",
    summary="Create a workflow and all its records from an expanded spec, atomically (and initialize it, if asked).",
)
def create_workflow_from_spec(args, records):
    with write_transaction():
        created = create_and_initialize(records) if args["initialize"] else create_from_records(records)
    attach_status([created["workflow"]])
    return created

