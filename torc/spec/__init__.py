"""Workflow specifications: load a YAML/JSON/JSON5/KDL spec into expanded, validated records.

Pure Python, no server or database: the CLI validates and dry-runs specs with it, and the
server creates the returned records. The format is upstream torc's (same field names).

    from torc.spec import load_workflow_spec, SpecError
    wf = load_workflow_spec("workflow.yaml")
    wf.jobs[0]["depends_on"]   # expanded job names

``ExpandedWorkflow`` lists (all references are by expanded name):

* ``workflow``: workflow-model fields (name, user, description, project, metadata,
  compute_node_*, jobs_sort_method, use_pending_failed, resource_monitor_config,
  slurm_defaults); JSON columns are JSON text.
* ``files`` {name, path}; ``user_data`` {name, data, is_ephemeral};
  ``resource_requirements`` {name, num_cpus, num_gpus, num_nodes, memory, runtime};
  ``failure_handlers`` {name, rules}; ``slurm_schedulers`` {name, account, nodes, walltime, ..., template}.
* ``jobs`` {name, command, invocation_script, cancel_on_blocking_job_failure,
  supports_termination, resource_requirements, failure_handler, scheduler, depends_on,
  input_files, output_files, input_user_data, output_user_data}.
* ``actions`` {trigger_type, action_type, job_names, action_config, persistent}.

``parse_memory_bytes`` and ``parse_duration_seconds`` are re-exported from ``torc.units`` so
that specs accept exactly the strings the server does.
"""

from torc.units import parse_duration_seconds, parse_memory_bytes

from .builder import load_workflow_spec
from .errors import SpecError
from .model import ExpandedWorkflow

__all__ = [
    "ExpandedWorkflow",
    "SpecError",
    "load_workflow_spec",
    "parse_duration_seconds",
    "parse_memory_bytes",
]
