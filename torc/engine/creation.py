"""Creating records in bulk: a workflow with its fixed parts, and batches of jobs.

Shared by the CRUD endpoints (``POST /workflows``, ``POST /jobs``, ``POST /bulk_jobs``) and by
spec-based creation, which writes a whole workflow in one transaction.
"""

import datetime as dt
import json

from torc.db.models import (
    FailureHandler,
    File,
    Job,
    JobDependsOn,
    JobInputFile,
    JobInputUserData,
    JobOutputFile,
    JobOutputUserData,
    ResourceRequirements,
    SlurmScheduler,
    UserData,
    Workflow,
    WorkflowStatus,
)
from torc.db.connection import database_proxy
from torc.engine import actions, cycles, fingerprints
from torc.engine.errors import Invalid
from torc.engine.sql import bulk_insert, changed_rows, refresh_statistics
from torc.spec.graph import implicit_upstreams
from torc.status import JobStatus
from torc.units import parse_duration_seconds, parse_memory_bytes

#: API list field → (join model, column naming the other side, model the ids must belong to).
RELATIONSHIPS = {
    "depends_on_job_ids": (JobDependsOn, "depends_on_job", Job),
    "input_file_ids": (JobInputFile, "file", File),
    "output_file_ids": (JobOutputFile, "file", File),
    "input_user_data_ids": (JobInputUserData, "user_data", UserData),
    "output_user_data_ids": (JobOutputUserData, "user_data", UserData),
}

SCALAR_REFERENCES = {
    "resource_requirements_id": ResourceRequirements,
    "scheduler_id": SlurmScheduler,
    "failure_handler_id": FailureHandler,
}

#: Statuses a client may give a job it creates; every other status is reached through the engine.
CREATABLE_STATUSES = {JobStatus.UNINITIALIZED, JobStatus.DISABLED}

#: Auto-created resource requirements of every workflow (upstream: 1 CPU, 1 node, 1m, 1 minute).
DEFAULT_REQUIREMENTS = {"name": "default", "num_cpus": 1, "num_gpus": 0, "num_nodes": 1, "memory": "1m", "runtime": "P0DT1M"}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def check_references(model_by_field: dict[str, type], data: dict, workflow_id: int) -> None:
    """Each referenced id must name a row of the same workflow (a clear 422 otherwise)."""
    for name, model in model_by_field.items():
        value = data.get(name)
        if value is None:
            continue
        ids = value if isinstance(value, list) else [value]
        if not ids:
            continue
        unique = set(ids)
        found = model.select().where(model.id.in_(unique), model.workflow == workflow_id).count()
        if found != len(unique):
            owned = {
                row.id for row in model.select(model.id).where(model.id.in_(unique), model.workflow == workflow_id)
            }
            missing = sorted(unique - owned)
            raise Invalid(f"{name}: {missing} not found in workflow {workflow_id}")


def create_workflow_row(data: dict) -> Workflow:
    """Insert a workflow with its status row and its ``default`` resource requirements."""
    data.pop("id", None)
    data.pop("status_id", None)
    data["timestamp"] = now_iso()
    workflow = Workflow.create(**data)
    WorkflowStatus.create(workflow=workflow)
    ResourceRequirements.create(
        workflow=workflow,
        memory_bytes=parse_memory_bytes(DEFAULT_REQUIREMENTS["memory"]),
        runtime_s=parse_duration_seconds(DEFAULT_REQUIREMENTS["runtime"]),
        **DEFAULT_REQUIREMENTS,
    )
    return workflow


def _check_status_on_create(job: dict) -> None:
    status = job.get("status", JobStatus.UNINITIALIZED)
    if status not in CREATABLE_STATUSES:
        raise Invalid(f"status: a new job must be uninitialized or disabled, not {JobStatus(status).label}")


#: Job columns written by :func:`insert_jobs`, in row-tuple order.
JOB_COLUMNS = [
    "workflow_id", "name", "command", "invocation_script", "status", "cancel_on_blocking_job_failure",
    "supports_termination", "resource_requirements_id", "scheduler_id", "failure_handler_id", "attempt_id", "num_blocking",
    "input_hash",
]


def insert_jobs(workflow_id: int, jobs: list[dict]) -> list[int]:
    """Insert validated API jobs of one workflow (ids for references) and their relationships;
    return the new ids in order. Must run inside a write transaction.

    References are checked for the whole batch at once. Jobs come with their ``input_hash`` or
    get one at initialization.
    """
    default_rr = (
        ResourceRequirements.select(ResourceRequirements.id)
        .where(ResourceRequirements.workflow == workflow_id, ResourceRequirements.name == "default")
        .scalar()
    )
    for name, model in {**SCALAR_REFERENCES, **{k: v[2] for k, v in RELATIONSHIPS.items()}}.items():
        values = []
        for job in jobs:
            value = job.get(name)
            values.extend(value if isinstance(value, list) else [value] if value is not None else [])
        check_references({name: model}, {name: values}, workflow_id)
    rows = []
    for job in jobs:
        _check_status_on_create(job)
        rows.append((
            workflow_id, job["name"], job["command"], job.get("invocation_script"), job.get("status", int(JobStatus.UNINITIALIZED)),
            job.get("cancel_on_blocking_job_failure", True), job.get("supports_termination", False),
            job.get("resource_requirements_id") or default_rr, job.get("scheduler_id"), job.get("failure_handler_id"),
            job.get("attempt_id", 1), 0, job.get("input_hash"),
        ))
    links = {
        attr: [(position, other_id) for position, job in enumerate(jobs) for other_id in dict.fromkeys(job.get(attr) or [])]
        for attr in RELATIONSHIPS
    }
    return store_jobs(workflow_id, rows, links)


def store_jobs(workflow_id: int, rows: list[tuple], links: dict[str, list[tuple[int, int]]]) -> list[int]:
    """Write job rows (tuples in ``JOB_COLUMNS`` order) whose references are already checked,
    and their relationships: ``links[attr]`` holds (position of the job in ``rows``, id of the
    other side) per ``RELATIONSHIPS`` field. Returns the new job ids in order."""
    if any(row[-1] is None for row in rows):
        fingerprints.mark_stale(workflow_id)  # new jobs (and the edges files will give them) need fingerprints
    new_ids = bulk_insert("job", JOB_COLUMNS, rows, returning_ids=True)
    for attr, pairs in links.items():
        join, other, _ = RELATIONSHIPS[attr]
        columns = ["job_id", getattr(join, other).column_name, "workflow_id"]
        bulk_insert(join._meta.table_name, columns, [(new_ids[position], other_id, workflow_id) for position, other_id in pairs])
    return new_ids


def _insert_named(model, workflow_id: int, rows: list[dict], kind: str) -> dict[str, int]:
    """Insert rows that have a ``name``; return name → id. Names must be unique per kind."""
    names = [row["name"] for row in rows]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise Invalid(f"{kind}: duplicate names {duplicates[:5]}")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    values = [(workflow_id, *(row.get(column) for column in columns)) for row in rows]
    ids = bulk_insert(model._meta.table_name, ["workflow_id", *columns], values, returning_ids=True)
    return dict(zip(names, ids))


#: Spec job lists of names that become relationships: (field, spec key, kind of the named records).
LINKED_NAMES = [
    ("input_file_ids", "input_files", "file"),
    ("output_file_ids", "output_files", "file"),
    ("input_user_data_ids", "input_user_data", "user_data"),
    ("output_user_data_ids", "output_user_data", "user_data"),
]


def _lookup(mapping: dict[str, int], names, kind: str, job: str) -> list[int]:
    try:
        return [mapping[name] for name in names]
    except KeyError as exc:
        raise Invalid(f"job {job!r}: unknown {kind} {exc.args[0]!r}") from None


def create_from_records(records: dict, place: bool = False) -> dict:
    """Create a workflow and all its records from an expanded spec (names, not ids).

    Must run inside a write transaction: any error leaves nothing behind. ``place`` writes each
    job already ready (no upstream) or blocked (by all its upstreams) and returns their
    ``ready_ids``: the placement of a first run, for ``lifecycle.create_and_initialize``.
    """
    workflow = create_workflow_row(dict(records["workflow"]))
    wf = workflow.id
    rr_ids = {"default": ResourceRequirements.get(ResourceRequirements.workflow == wf, ResourceRequirements.name == "default").id}
    requirements = []
    for rr in records["resource_requirements"]:
        try:
            derived = {"memory_bytes": parse_memory_bytes(rr["memory"]), "runtime_s": parse_duration_seconds(rr["runtime"])}
        except ValueError as exc:
            raise Invalid(f"resource_requirements {rr['name']!r}: {exc}") from None
        if rr["name"] == "default":  # a spec may redefine the default requirements
            ResourceRequirements.update(**rr, **derived).where(ResourceRequirements.id == rr_ids["default"]).execute()
        else:
            requirements.append({**rr, **derived})
    rr_ids.update(_insert_named(ResourceRequirements, wf, requirements, "resource_requirements"))
    handlers = [{"name": h["name"], "rules": json.dumps(h["rules"])} for h in records["failure_handlers"]]
    handler_ids = _insert_named(FailureHandler, wf, handlers, "failure_handlers")
    scheduler_ids = _insert_named(SlurmScheduler, wf, records["slurm_schedulers"], "slurm_schedulers")
    file_ids = _insert_named(File, wf, records["files"], "files")
    user_data = [{**u, "data": None if u.get("data") is None else json.dumps(u["data"])} for u in records["user_data"]]
    user_data_ids = _insert_named(UserData, wf, user_data, "user_data")

    jobs = records["jobs"]
    names = [job["name"] for job in jobs]
    if len(set(names)) != len(names):
        raise Invalid(f"jobs: duplicate names {sorted({n for n in names if names.count(n) > 1})[:5]}")
    position = {name: i for i, name in enumerate(names)}
    implicit = implicit_upstreams(jobs)
    upstreams = []  # positions of the jobs each job waits for: explicit, then implicit edges
    for i, job in enumerate(jobs):
        upstream = _lookup(position, job["depends_on"], "job", job["name"])
        if len(upstream) > 1:
            upstream = list(dict.fromkeys(upstream))
        if i in implicit:
            upstream += [position[name] for name in implicit[i]]
        upstreams.append(upstream)
    cycles.check_jobs(names, upstreams)
    # Only contents a user supplies are inputs: data jobs write (or that is cleared each run) is not.
    produced = {name for job in jobs for name in job.get("output_user_data", [])}
    contents = {u["name"]: None if u["name"] in produced or u.get("is_ephemeral") else u["data"] for u in user_data}
    rows = []
    links: dict[str, list[tuple[int, int]]] = {attr: [] for attr in RELATIONSHIPS if attr != "depends_on_job_ids"}
    default_rr = rr_ids["default"]
    ids_by_kind = {"file": file_ids, "user_data": user_data_ids}
    uninitialized, ready, blocked = int(JobStatus.UNINITIALIZED), int(JobStatus.READY), int(JobStatus.BLOCKED)
    for i, (job, upstream) in enumerate(zip(jobs, upstreams)):
        name = job["name"]
        ids = {}  # relationship → ids, for the jobs that read or write files or user data
        for attr, key, kind in LINKED_NAMES:
            if job.get(key):
                ids[attr] = _lookup(ids_by_kind[kind], job[key], kind, name)
                links[attr].extend((i, other) for other in dict.fromkeys(ids[attr]))
        input_user_data = zip(ids.get("input_user_data_ids", ()), job.get("input_user_data", ()))
        rr = job.get("resource_requirements")
        rows.append((
            wf, name, job["command"], job.get("invocation_script"), (blocked if upstream else ready) if place else uninitialized,
            job.get("cancel_on_blocking_job_failure", True), job.get("supports_termination", False),
            _lookup(rr_ids, [rr], "resource_requirements", name)[0] if rr else default_rr,
            _lookup(scheduler_ids, [job["scheduler"]], "scheduler", name)[0] if job.get("scheduler") else None,
            _lookup(handler_ids, [job["failure_handler"]], "failure_handler", name)[0] if job.get("failure_handler") else None,
            1, len(upstream) if place else 0,
            fingerprints.fingerprint(
                job["command"], job.get("invocation_script"), set(ids.get("input_file_ids", ())),
                {(ud_id, contents[ud]) for ud_id, ud in input_user_data}, [names[i] for i in upstream],
            ),
        ))
    job_ids = store_jobs(wf, rows, links)
    # Explicit and implicit edges at once: initialization then finds nothing new to check.
    edges = [(job_ids[i], job_ids[up], wf) for i, upstream in enumerate(upstreams) for up in upstream]
    bulk_insert("job_depends_on", ["job_id", "depends_on_job_id", "workflow_id"], edges)
    refresh_statistics(len(job_ids))

    for action in records["actions"]:
        ids = [job_ids[i] for i in _lookup(position, action.get("job_names", []), "job", f"action {action['trigger_type']}")]
        config = dict(action.get("action_config") or {})
        if action["action_type"] == "schedule_nodes" and config.get("scheduler") is not None:
            scheduler = config["scheduler"]
            if scheduler not in scheduler_ids:
                raise Invalid(f"action {action['trigger_type']}: unknown scheduler {scheduler!r}")
            config.setdefault("scheduler_id", scheduler_ids[scheduler])
        actions.create_action(wf, {
            "trigger_type": action["trigger_type"],
            "action_type": action["action_type"],
            "action_config": json.dumps(config, sort_keys=True),
            "persistent": action.get("persistent", False),
        }, ids)
    created = {
        "workflow": workflow,
        "num_jobs": len(job_ids),
        "num_dependencies": len(edges) - sum(map(len, implicit.values())),
        "num_files": len(file_ids),
        "num_user_data": len(user_data_ids),
    }
    if place:
        created["ready_ids"] = [job_id for job_id, upstream in zip(job_ids, upstreams) if not upstream]
    return created


def insert_implicit_edges(workflow_id: int) -> int:
    """A job that reads a file or user data another job writes waits for that job; returns how
    many such edges were not stored yet."""
    db = database_proxy.obj
    p = db.param
    added = 0
    for inputs, outputs, key in (
        ("job_input_file", "job_output_file", "file_id"),
        ("job_input_user_data", "job_output_user_data", "user_data_id"),
    ):
        added += changed_rows(db.execute_sql(
            f"""INSERT INTO job_depends_on (job_id, depends_on_job_id, workflow_id)
                SELECT DISTINCT i.job_id, o.job_id, i.workflow_id FROM {inputs} i JOIN {outputs} o ON i.{key} = o.{key}
                WHERE i.workflow_id = {p} AND i.job_id != o.job_id
                ON CONFLICT DO NOTHING""",
            (workflow_id,),
        ))
    return added
