"""The single exception type of the spec package and the context used to build it.

Every problem found while reading or expanding a workflow specification is raised as a
:class:`SpecError`, so callers (CLI, server) need one ``except`` clause and can print one
readable line that names the file, the expanded job and the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


class SpecError(Exception):
    """A workflow specification is invalid.

    Attributes:
        file: source file (or the ``source_name`` given for a dict), if known.
        job: expanded job name plus the parameter values that produced it,
            e.g. ``"sim_003 (i=3)"``; None when the problem is not tied to a job.
        field: path of the offending field, e.g. ``"jobs[2].depends_on"``.
        line: line number in the source file, when the parser reported one.
        message: what is wrong, without the location prefix.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        job: str | None = None,
        params: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.job_name = job
        self.job_params = params
        self.field = field
        self.line = line

    @property
    def job(self) -> str | None:
        if self.job_name is None:
            return None
        return f"{self.job_name} ({self.job_params})" if self.job_params else self.job_name

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.job_name is not None:
            job = f"job '{self.job_name}'"
            parts.append(f"{job} ({self.job_params})" if self.job_params else job)
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)


@dataclass(frozen=True)
class Context:
    """Where in the spec we are, so deep helpers can raise fully located errors.

    ``field`` is a path into the *source* document (e.g. ``jobs[2].depends_on``), so a
    user can find the entry even after parameter expansion renamed it; ``job`` and
    ``params`` name the expanded job and the parameter values that produced it.
    """

    field: str | None = None
    job: str | None = None
    params: str | None = None

    def at(self, key: str | int) -> Context:
        """Context for a sub-field: ``at("jobs").at(2)`` -> ``jobs[2]``."""
        if isinstance(key, int):
            return replace(self, field=f"{self.field or ''}[{key}]")
        return replace(self, field=f"{self.field}.{key}" if self.field else key)

    def for_job(self, name: str | None, params: str | None = None) -> Context:
        return replace(self, job=name, params=params or None)

    def error(self, message: str) -> SpecError:
        return SpecError(message, job=self.job, params=self.params, field=self.field)
