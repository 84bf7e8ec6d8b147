"""Output records for the parts of a spec that are not parameterized.

Workflow-level fields, resource requirements, failure handlers and Slurm schedulers map
almost one-to-one to server models; this module applies the server-side defaults and
encodes the JSON-text columns (metadata, resource_monitor_config, slurm_defaults).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import Context
from .schema import SLURM_SCHEDULER

# Defaults of the server's resource_requirements model (also its auto-created "default").
RESOURCE_REQUIREMENTS_DEFAULTS = {
    "num_cpus": 1,
    "num_gpus": 0,
    "num_nodes": 1,
    "memory": "1m",
    "runtime": "P0DT1M",
}
FAILURE_RULE_DEFAULTS = {"match_all_exit_codes": False, "recovery_script": None, "max_retries": 3}
SLURM_SCHEDULER_DEFAULTS = {"nodes": 1, "walltime": "01:00:00"}
# Upstream's client sets 90 s (the database default of 0 would let workers exit before
# dependents are released).
WAIT_FOR_NEW_JOBS_DEFAULT = 90

_WORKFLOW_COPIED = (
    "compute_node_expiration_buffer_seconds",
    "compute_node_ignore_workflow_completion",
    "compute_node_wait_for_healthy_database_minutes",
    "compute_node_min_time_for_new_jobs_seconds",
    "jobs_sort_method",
    "use_pending_failed",
)


def unique_by_name(entries: list[dict], section: str, label: str, root: Context) -> dict[str, dict]:
    """Entries keyed by name; a repeated name is an error."""
    result: dict[str, dict] = {}
    for i, entry in enumerate(entries):
        if entry["name"] in result:
            raise root.at(section).at(i).at("name").error(f"duplicate {label} name '{entry['name']}'")
        result[entry["name"]] = entry
    return result


def workflow_record(spec: dict) -> dict:
    """Workflow fields named as in the server's workflow model; unset ones are omitted."""
    record: dict[str, Any] = {
        "name": spec["name"],
        "user": spec.get("user") or os.environ.get("USER") or "unknown",
    }
    for key in ("description", "project"):
        if key in spec:
            record[key] = spec[key]
    if "metadata" in spec:
        record["metadata"] = _json_text(spec["metadata"])
    record["compute_node_wait_for_new_jobs_seconds"] = spec.get(
        "compute_node_wait_for_new_jobs_seconds", WAIT_FOR_NEW_JOBS_DEFAULT
    )
    for key in _WORKFLOW_COPIED:
        if key in spec:
            record[key] = spec[key]
    if "resource_monitor" in spec:
        record["resource_monitor_config"] = json.dumps(spec["resource_monitor"])
    if "slurm_defaults" in spec:
        record["slurm_defaults"] = json.dumps(spec["slurm_defaults"])
    return record


def _json_text(value: Any) -> str:
    """Metadata as JSON text: structures are encoded, a string is kept if it already is JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
            return value
        except ValueError:
            pass
    return json.dumps(value)


def resource_requirements_record(entry: dict) -> dict:
    return {"name": entry["name"], **RESOURCE_REQUIREMENTS_DEFAULTS, **entry}


def failure_handler_record(entry: dict) -> dict:
    rules = [{"exit_codes": [], **FAILURE_RULE_DEFAULTS, **rule} for rule in entry["rules"]]
    return {"name": entry["name"], "rules": rules}


def slurm_scheduler_record(entry: dict) -> dict:
    merged = {**SLURM_SCHEDULER_DEFAULTS, **entry}
    return {key: merged[key] for key in SLURM_SCHEDULER.fields if key in merged}


def anchor_templates(schedulers: list[dict], spec_dir: Path) -> None:
    """Make a scheduler's relative ``template`` absolute when the file is next to the spec.

    The workflow is created from one directory and its allocations are submitted from another
    (a compute node, a later ``torc submit``): a path written relative to the spec must keep
    pointing at that file. A relative value that is not a file there stays as written: a name
    in ``slurm_templates/`` or a path relative to the submitting process's directory.
    """
    for scheduler in schedulers:
        template = scheduler.get("template")
        if template and not Path(template).expanduser().is_absolute() and (spec_dir / template).is_file():
            scheduler["template"] = str((spec_dir / template).resolve())
