"""The spec pipeline: read -> validate -> expand -> resolve -> check cycles -> records."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from . import expansion, sections
from .actions import build_actions
from .bulk import gc_paused
from .errors import Context, SpecError
from .graph import check_acyclic
from .loader import read_spec_file
from .expansion import Progress
from .model import ExpandedWorkflow
from .references import NameIndex, resolve_jobs
from .schema import validate_workflow


def load_workflow_spec(
    path_or_dict: str | PathLike | Mapping, source_name: str | None = None, progress: Progress | None = None
) -> ExpandedWorkflow:
    """Load, validate and expand a workflow spec.

    ``path_or_dict`` is a ``.yaml``/``.yml``/``.json``/``.json5``/``.kdl`` file or an
    already-parsed document. ``source_name`` is the name errors use for the source
    (default: the path, or nothing for a dict). ``progress(phase, done, total)`` follows the
    long steps: reading the file (``total`` 0: size unknown), then expanding and resolving the
    jobs of a large sweep. Raises SpecError for any invalid input.
    """
    if not isinstance(path_or_dict, (str, PathLike, Mapping)):
        raise SpecError(
            f"expected a spec file path or a mapping, got {type(path_or_dict).__name__}", file=source_name
        )
    source = source_name
    if source is None and not isinstance(path_or_dict, Mapping):
        source = str(path_or_dict)
    try:
        if progress is not None and not isinstance(path_or_dict, Mapping):
            progress(f"reading {source}", 0, 0)
        document = path_or_dict if isinstance(path_or_dict, Mapping) else read_spec_file(path_or_dict)
        with gc_paused():
            expanded = build_workflow(document, progress)
        if not isinstance(path_or_dict, Mapping):
            sections.anchor_templates(expanded.slurm_schedulers, Path(path_or_dict).parent)
        return expanded
    except SpecError as err:
        if err.file is None:
            err.file = source
        raise


def build_workflow(document: object, progress: Progress | None = None) -> ExpandedWorkflow:
    """Expanded workflow of a parsed spec document."""
    root = Context()
    spec = validate_workflow(document)
    params = spec.get("parameters", {})

    files = {
        name: {"name": name, "path": item.fields["path"]}
        for name, item in expansion.expand_section(
            spec.get("files", []), expansion.FILES, params, root
        ).items()
    }
    user_data = {
        name: {
            "name": name,
            "data": item.fields.get("data"),
            "is_ephemeral": item.fields.get("is_ephemeral", False),
        }
        for name, item in expansion.expand_section(
            spec.get("user_data", []), expansion.USER_DATA, params, root
        ).items()
    }
    named = {
        section: sections.unique_by_name(spec.get(section, []), section, label, root)
        for section, label in (
            ("resource_requirements", "resource_requirements"),
            ("failure_handlers", "failure handler"),
            ("slurm_schedulers", "slurm scheduler"),
        )
    }
    job_expansions = expansion.expand_section(spec["jobs"], expansion.JOBS, params, root, progress)

    indexes = {
        "job": NameIndex("job", job_expansions),
        "file": NameIndex("file", files),
        "user_data": NameIndex("user_data", user_data),
        "resource_requirements": NameIndex("resource_requirements", named["resource_requirements"]),
        "failure handler": NameIndex("failure handler", named["failure_handlers"]),
        "slurm scheduler": NameIndex("slurm scheduler", named["slurm_schedulers"]),
    }
    jobs = resolve_jobs(job_expansions, indexes, root, progress)
    check_acyclic(jobs)
    actions = build_actions(spec.get("actions", []), indexes["job"], indexes["slurm scheduler"], root)

    return ExpandedWorkflow(
        workflow=sections.workflow_record(spec),
        files=list(files.values()),
        user_data=list(user_data.values()),
        resource_requirements=[
            sections.resource_requirements_record(e) for e in named["resource_requirements"].values()
        ],
        failure_handlers=[sections.failure_handler_record(e) for e in named["failure_handlers"].values()],
        slurm_schedulers=[sections.slurm_scheduler_record(e) for e in named["slurm_schedulers"].values()],
        jobs=jobs,
        actions=actions,
    )
