"""The result of loading a spec: every record the server must create, in plain data."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .bulk import gc_paused


@dataclass
class ExpandedWorkflow:
    """A validated, fully expanded workflow.

    All references are by (expanded) name; the server maps them to IDs when it creates the
    records. Field names follow the server's models (see ``torc.spec`` docs for each list).
    """

    workflow: dict
    files: list[dict]
    user_data: list[dict]
    resource_requirements: list[dict]
    failure_handlers: list[dict]
    slurm_schedulers: list[dict]
    jobs: list[dict]
    actions: list[dict]

    def to_dict(self) -> dict:
        """Plain JSON-able copy (mutating it does not affect this object)."""
        with gc_paused():
            return {f.name: _copy(getattr(self, f.name)) for f in fields(self)}

    def stats(self) -> dict[str, int]:
        """Record counts, e.g. for ``--dry-run`` output."""
        return {
            "jobs": len(self.jobs),
            "explicit_edges": sum(len(job["depends_on"]) for job in self.jobs),
            "files": len(self.files),
            "user_data": len(self.user_data),
            "resource_requirements": len(self.resource_requirements),
            "failure_handlers": len(self.failure_handlers),
            "slurm_schedulers": len(self.slurm_schedulers),
            "actions": len(self.actions),
        }


def _copy(value: Any) -> Any:
    """Deep copy of plain JSON data (much faster than copy.deepcopy, which keeps a memo)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
