"""The systems a benchmark compares: torc and what its users would use instead.

Every peer offers the same operations, each returning its figures as a dict of numbers (at
least ``seconds``, the makespan: from handing the work to the system until all of it is done;
services are started and warmed up beforehand and not counted):

- ``run_noop(jobs)``: run ``jobs`` times ``/bin/true``, at most one per core at a time;
- ``run_chain(commands)``: run shell ``commands`` one after the other (each depends on the one
  before); the commands write their own start/end timestamps;
- ``run_sleep_jobs(count, seconds)``: (Slurm) run ``count`` jobs of ``sleep seconds``.

A peer implements the operations that make sense for it; ``unavailable()`` says why it cannot run
here (not installed, no Slurm, ...) or returns None.
"""


class Peer:
    name: str = "?"

    def unavailable(self) -> str | None:
        return None

    def run_noop(self, jobs: int) -> dict:
        raise NotImplementedError

    def run_chain(self, commands: list[str]) -> dict:
        raise NotImplementedError

    def run_sleep_jobs(self, count: int, seconds: float) -> dict:
        raise NotImplementedError
