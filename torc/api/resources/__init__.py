"""One module per API resource (tag): its marshmallow schemas beside its flask-smorest blueprint."""

from torc.api.resources import (
    access_control,
    compute_nodes,
    events,
    execution,  # noqa: F401  (adds routes to the workflows and jobs blueprints)
    failure_handlers,
    files,
    graph,  # noqa: F401  (adds routes to the workflows blueprint)
    jobs,
    local_schedulers,
    remote_workers,
    resource_requirements,
    results,
    scheduled_compute_nodes,
    slurm_schedulers,
    system,
    user_data,
    workflow_actions,
    worker_health,  # noqa: F401  (adds routes to the compute_nodes and workflows blueprints)
    workflow_specs,  # noqa: F401  (adds a route to the workflows blueprint)
    workflows,
)

ALL_BLUEPRINTS = [
    system.blp,
    workflows.blp,
    jobs.blp,
    files.blp,
    user_data.blp,
    resource_requirements.blp,
    results.blp,
    events.blp,
    compute_nodes.blp,
    scheduled_compute_nodes.blp,
    slurm_schedulers.blp,
    local_schedulers.blp,
    failure_handlers.blp,
    workflow_actions.blp,
    remote_workers.blp,
    access_control.blp,
]
