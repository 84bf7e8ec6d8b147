"""peewee models: one class per table, the same models on SQLite and PostgreSQL.

Table and column names follow upstream torc's schema (``torc-reference.md`` §2) so that exported
data and SQL written against upstream keep their meaning. Everything a workflow owns references
it with ``ON DELETE CASCADE``: deleting a workflow deletes its jobs, files, results and the rest
in one statement. Foreign keys whose column leads a composite index or primary key get no index of
their own (``index=False``): every extra index costs each of the 100,000 rows of a bulk insert.

Columns that exist only for the engine (``Job.num_blocking``, ``Job.input_hash``,
``WorkflowStatus.input_hashes_stale``, ``ComputeNode.lease_expires_at``) and the engine's own table
``workflow_action_job`` are documented where they are declared.
"""

import peewee as pw

from torc.db.connection import database_proxy


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row: the schema version this database was created with (see ``connection.py``)."""

    version = pw.IntegerField()

    class Meta:
        table_name = "torc_schema_version"


class Workflow(BaseModel):
    name = pw.TextField()
    user = pw.TextField()
    description = pw.TextField(null=True)
    timestamp = pw.TextField()
    project = pw.TextField(null=True)
    metadata = pw.TextField(null=True)
    compute_node_expiration_buffer_seconds = pw.IntegerField(default=180)
    compute_node_wait_for_new_jobs_seconds = pw.IntegerField(default=90)
    compute_node_ignore_workflow_completion = pw.BooleanField(default=False)
    compute_node_wait_for_healthy_database_minutes = pw.IntegerField(default=20)
    compute_node_min_time_for_new_jobs_seconds = pw.IntegerField(default=300)
    jobs_sort_method = pw.TextField(default="gpus_runtime_memory")
    resource_monitor_config = pw.TextField(null=True)
    slurm_defaults = pw.TextField(null=True)
    use_pending_failed = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("user",), False),)


class WorkflowStatus(BaseModel):
    """Run state of a workflow; ``run_id`` is bumped on every reinitialization.

    Engine column: ``input_hashes_stale`` is set by every write that may change what a job's input
    fingerprint covers (jobs, files, user data) and cleared when initialization refreshes the
    fingerprints, so a full initialization of an unchanged workflow does not recompute them.
    """

    workflow = pw.ForeignKeyField(Workflow, backref="status_row", unique=True, on_delete="CASCADE")
    run_id = pw.IntegerField(default=1)
    is_canceled = pw.BooleanField(default=False)
    is_archived = pw.BooleanField(default=False)
    has_detected_need_to_run_completion_script = pw.BooleanField(default=False)
    input_hashes_stale = pw.BooleanField(default=False)


class ResourceRequirements(BaseModel):
    """Memory and runtime are kept as the user wrote them and as numbers the claim query compares."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE", index=False)
    name = pw.TextField()
    num_cpus = pw.IntegerField(default=1)
    num_gpus = pw.IntegerField(default=0)
    num_nodes = pw.IntegerField(default=1)
    memory = pw.TextField(default="1m")
    runtime = pw.TextField(default="P0DT1M")
    memory_bytes = pw.BigIntegerField()
    runtime_s = pw.BigIntegerField()

    class Meta:
        table_name = "resource_requirements"
        indexes = ((("workflow", "name"), True),)


class SlurmScheduler(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    name = pw.TextField(null=True)
    account = pw.TextField()
    gres = pw.TextField(null=True)
    mem = pw.TextField(null=True)
    nodes = pw.IntegerField(default=1)
    ntasks_per_node = pw.IntegerField(null=True)
    partition = pw.TextField(null=True)
    qos = pw.TextField(null=True)
    tmp = pw.TextField(null=True)
    walltime = pw.TextField()
    extra = pw.TextField(null=True)
    #: sbatch template file of this scheduler's allocations (wins over a profile's or --template).
    template = pw.TextField(null=True)


class LocalScheduler(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    name = pw.TextField(default="default")
    memory = pw.TextField(null=True)
    num_cpus = pw.IntegerField(null=True)


class FailureHandler(BaseModel):
    """``rules`` is the JSON text of ``[{exit_codes, match_all_exit_codes, recovery_script, max_retries}]``."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    name = pw.TextField()
    rules = pw.TextField()


class ComputeNode(BaseModel):
    """A worker process. ``lease_expires_at`` (epoch seconds) is renewed by the worker's heartbeat;
    a node whose lease ran out is treated as dead and its jobs are recovered.
    ``scheduled_compute_node_id`` is copied from the ``scheduler`` JSON for filtering."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    hostname = pw.TextField()
    pid = pw.IntegerField()
    start_time = pw.TextField()
    duration_seconds = pw.DoubleField(null=True)
    is_active = pw.BooleanField(null=True)
    num_cpus = pw.IntegerField()
    memory_gb = pw.DoubleField()
    num_gpus = pw.IntegerField()
    num_nodes = pw.IntegerField()
    time_limit = pw.TextField(null=True)
    scheduler_config_id = pw.IntegerField(null=True)
    compute_node_type = pw.TextField()
    scheduler = pw.TextField(null=True)
    scheduled_compute_node_id = pw.IntegerField(null=True)
    lease_expires_at = pw.DoubleField(null=True)


class ScheduledComputeNode(BaseModel):
    """An allocation requested from a scheduler; ``scheduler_id`` is e.g. the Slurm job id."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    scheduler_id = pw.BigIntegerField()
    scheduler_config_id = pw.IntegerField()
    scheduler_type = pw.TextField()
    status = pw.TextField()

    class Meta:
        table_name = "scheduled_compute_node"


class Job(BaseModel):
    """A command to run.

    Engine columns: ``num_blocking`` counts upstream jobs that have not finished, so completing a
    job releases its dependents by decrementing their counters (cost proportional to the
    out-degree, no rescans); ``input_hash`` fingerprints what the job consumed when it last ran.
    """

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE", index=False)
    name = pw.TextField()
    command = pw.TextField()
    invocation_script = pw.TextField(null=True)
    status = pw.SmallIntegerField(default=0)
    cancel_on_blocking_job_failure = pw.BooleanField(default=True)
    supports_termination = pw.BooleanField(default=False)
    resource_requirements = pw.ForeignKeyField(ResourceRequirements, null=True, on_delete="RESTRICT")
    scheduler = pw.ForeignKeyField(SlurmScheduler, null=True, on_delete="SET NULL", index=False)
    failure_handler = pw.ForeignKeyField(FailureHandler, null=True, on_delete="SET NULL", index=False)
    attempt_id = pw.IntegerField(default=1)
    num_blocking = pw.IntegerField(default=0)
    input_hash = pw.TextField(null=True)
    active_compute_node = pw.ForeignKeyField(ComputeNode, null=True, on_delete="SET NULL", index=False)

    class Meta:
        indexes = (
            (("workflow", "status", "id"), False),
            # Claims by resources probe the ready jobs of one requirement class in id order.
            (("workflow", "status", "resource_requirements", "id"), False),
            (("workflow", "name"), False),
        )


#: Job columns that are mostly NULL (most jobs name no scheduler or failure handler, and only
#: running jobs have a compute node). Their indexes, which serve the ON DELETE SET NULL lookups,
#: leave NULL out: creating 100,000 jobs then writes three index entries fewer per job.
SPARSE_JOB_COLUMNS = ("scheduler", "failure_handler", "active_compute_node")
for _name in SPARSE_JOB_COLUMNS:
    _field = getattr(Job, _name)
    Job.add_index(Job.index(_field, name=f"job_{_field.column_name}").where(_field.is_null(False)))


class JobDependsOn(BaseModel):
    """Edge ``job`` waits for ``depends_on_job``; explicit and implicit (file/user-data) edges."""

    job = pw.ForeignKeyField(Job, on_delete="CASCADE", index=False)
    depends_on_job = pw.ForeignKeyField(Job, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")

    class Meta:
        table_name = "job_depends_on"
        primary_key = pw.CompositeKey("job", "depends_on_job")
        indexes = ((("depends_on_job",), False),)


class File(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    name = pw.TextField()
    path = pw.TextField()
    st_mtime = pw.DoubleField(null=True)


class JobInputFile(BaseModel):
    job = pw.ForeignKeyField(Job, on_delete="CASCADE", index=False)
    file = pw.ForeignKeyField(File, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")

    class Meta:
        table_name = "job_input_file"
        primary_key = pw.CompositeKey("job", "file")
        indexes = ((("file",), False),)


class JobOutputFile(BaseModel):
    job = pw.ForeignKeyField(Job, on_delete="CASCADE", index=False)
    file = pw.ForeignKeyField(File, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")

    class Meta:
        table_name = "job_output_file"
        primary_key = pw.CompositeKey("job", "file")
        indexes = ((("file",), False),)


class UserData(BaseModel):
    """``data`` is JSON text; ephemeral data is cleared when a workflow is initialized again."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    name = pw.TextField()
    is_ephemeral = pw.BooleanField(default=False)
    data = pw.TextField(null=True)


class JobInputUserData(BaseModel):
    job = pw.ForeignKeyField(Job, on_delete="CASCADE", index=False)
    user_data = pw.ForeignKeyField(UserData, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")

    class Meta:
        table_name = "job_input_user_data"
        primary_key = pw.CompositeKey("job", "user_data")
        indexes = ((("user_data",), False),)


class JobOutputUserData(BaseModel):
    job = pw.ForeignKeyField(Job, on_delete="CASCADE", index=False)
    user_data = pw.ForeignKeyField(UserData, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")

    class Meta:
        table_name = "job_output_user_data"
        primary_key = pw.CompositeKey("job", "user_data")
        indexes = ((("user_data",), False),)


class Result(BaseModel):
    """One attempt's outcome. ``message`` (additive) says why, e.g. which output file was missing."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE", index=False)
    job = pw.ForeignKeyField(Job, on_delete="CASCADE")
    run_id = pw.IntegerField()
    attempt_id = pw.IntegerField(default=1)
    compute_node_id = pw.IntegerField()
    return_code = pw.BigIntegerField()
    exec_time_minutes = pw.DoubleField()
    completion_time = pw.TextField()
    status = pw.SmallIntegerField()
    peak_memory_bytes = pw.BigIntegerField(null=True)
    avg_memory_bytes = pw.BigIntegerField(null=True)
    peak_cpu_percent = pw.DoubleField(null=True)
    avg_cpu_percent = pw.DoubleField(null=True)
    message = pw.TextField(null=True)

    class Meta:
        indexes = (
            (("workflow", "job"), False),
            (("job", "run_id", "attempt_id"), False),
        )


class WorkflowResult(BaseModel):
    """The latest result of each job, so "current results" is a join and not a max() scan."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    job = pw.ForeignKeyField(Job, on_delete="CASCADE", primary_key=True)
    result = pw.ForeignKeyField(Result, on_delete="CASCADE")

    class Meta:
        table_name = "workflow_result"


class Event(BaseModel):
    """``data`` is JSON text; its ``category`` is copied into a column so lists can filter on it."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE", index=False)
    timestamp = pw.BigIntegerField()
    data = pw.TextField()
    category = pw.TextField(null=True)

    class Meta:
        indexes = ((("workflow", "timestamp"), False),)


class WorkflowAction(BaseModel):
    """An action fired by a trigger; ``job_ids`` is JSON text, ``action_config`` too."""

    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    trigger_type = pw.TextField()
    action_type = pw.TextField()
    action_config = pw.TextField()
    job_ids = pw.TextField(null=True)
    trigger_count = pw.IntegerField(default=0)
    required_triggers = pw.IntegerField(default=1)
    executed = pw.BooleanField(default=False)
    executed_at = pw.TextField(null=True)
    executed_by = pw.IntegerField(null=True)
    persistent = pw.BooleanField(default=False)
    is_recovery = pw.BooleanField(default=False)

    class Meta:
        table_name = "workflow_action"


class WorkflowActionJob(BaseModel):
    """A job that an action with a job trigger (``on_jobs_ready``/``on_jobs_complete``) watches.

    ``counted`` (0/1) says whether the job's status counts towards the action's ``trigger_count``
    right now. A status change updates only the memberships of the jobs that changed, by the
    difference, so the cost of a completion does not depend on how many jobs an action watches.
    The action's ``job_ids`` JSON stays the API's view of the same list.
    """

    action = pw.ForeignKeyField(WorkflowAction, on_delete="CASCADE", index=False)
    job = pw.ForeignKeyField(Job, on_delete="CASCADE")
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    counted = pw.SmallIntegerField(default=0)

    class Meta:
        table_name = "workflow_action_job"
        primary_key = pw.CompositeKey("action", "job")


class RemoteWorker(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    worker = pw.TextField()

    class Meta:
        table_name = "remote_worker"
        primary_key = pw.CompositeKey("worker", "workflow")


class AccessGroup(BaseModel):
    name = pw.TextField(unique=True)
    description = pw.TextField(null=True)
    created_at = pw.TextField()
    is_system = pw.BooleanField(default=False)

    class Meta:
        table_name = "access_group"


class UserGroupMembership(BaseModel):
    user_name = pw.TextField()
    group = pw.ForeignKeyField(AccessGroup, on_delete="CASCADE")
    role = pw.TextField(default="member")
    created_at = pw.TextField()

    class Meta:
        table_name = "user_group_membership"
        indexes = ((("user_name", "group"), True),)


class WorkflowAccessGroup(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, on_delete="CASCADE")
    group = pw.ForeignKeyField(AccessGroup, on_delete="CASCADE")
    created_at = pw.TextField()

    class Meta:
        table_name = "workflow_access_group"
        primary_key = pw.CompositeKey("workflow", "group")


ALL_MODELS = [
    SchemaVersion,
    Workflow,
    WorkflowStatus,
    ResourceRequirements,
    SlurmScheduler,
    LocalScheduler,
    FailureHandler,
    ComputeNode,
    ScheduledComputeNode,
    Job,
    JobDependsOn,
    File,
    JobInputFile,
    JobOutputFile,
    UserData,
    JobInputUserData,
    JobOutputUserData,
    Result,
    WorkflowResult,
    Event,
    WorkflowAction,
    WorkflowActionJob,
    RemoteWorker,
    AccessGroup,
    UserGroupMembership,
    WorkflowAccessGroup,
]
