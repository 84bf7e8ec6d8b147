"""Job status names and integer codes, shared by the server, the engine and the workers.

The codes are upstream torc's (``uninitialized 0 … pending_failed 10``): the database stores the
integer, the HTTP API speaks the name.
"""

from enum import IntEnum


class JobStatus(IntEnum):
    UNINITIALIZED = 0
    BLOCKED = 1
    READY = 2
    PENDING = 3
    RUNNING = 4
    COMPLETED = 5
    FAILED = 6
    CANCELED = 7
    TERMINATED = 8
    DISABLED = 9
    PENDING_FAILED = 10

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> "JobStatus":
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown job status {label!r}; expected one of {', '.join(LABELS)}") from None


LABELS = [s.label for s in JobStatus]

#: Statuses that release dependents: an upstream job in one of these no longer blocks.
DONE = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TERMINATED})

#: Statuses a worker may report through complete_job.
TERMINAL = DONE | {JobStatus.PENDING_FAILED}

#: Statuses that count as finished when asking whether a workflow is complete.
WORKFLOW_FINISHED = DONE | {JobStatus.DISABLED}
